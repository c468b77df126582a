// Partitioned mode under every fault at once (ARCHITECTURE §9, issue 16 "Proof"), on a real 3-node
// nats-server cluster with P = 8, three `arena serve --role processor` and two `--role gateway`
// child processes. While a publisher keeps publishing (the test's own JetStream publishes to the
// users' `arena.xp.events.<token>` subjects with retries, every third chunk through POST /v1/events
// on a gateway, and once `arena produce`), and WebSocket clients on both gateways fold the global
// and an agent board:
//   1. kill -9 of a processor (its partitions taken over once its leases expire), then a fourth
//      processor joins (partitions handed over to it with final snapshots);
//   2. SIGSTOP of a processor until every partition it owned is claimed by others with higher
//      tokens, then SIGCONT: it wakes to lost leases and its late snapshots are refused by the fence
//      (it commits nothing under its old tokens), then it is given partitions again;
//   3. kill -9 of the NATS node leading the event stream ARENA_XP (a new leader is elected; the node
//      is started again afterwards);
//   4. kill -9 of a gateway: its clients reconnect to the other gateway with since/epoch and get a
//      fresh snapshot there (the resume ring is per gateway), then gapless deltas;
//   5. kill -9 of the processor holding the global board's merge lease (a new merger, a new epoch).
// After quiescence everything equals the independent oracle folded over the stored stream (what a
// single process makes of the same stream): every current board in every window (paged), ranks and
// around-me, every user's profile, and every WebSocket client's folded view (each client's chain
// whole: deltas chain onto the previous frame, or a snapshot starts over). Every partition has
// exactly one owner (lease holder = assignment = the only query responder), and fencing tokens rose
// at each takeover. Also: a forged record (one user's payload on another user's subject) is
// dead-lettered `subject_user_mismatch`; the coordinator's ticks reach every partition, each
// (partition, second) stored once across the coordinator's handovers.
// Not covered here: ClickHouse (partitioned mode writes it only to a shared server; its proof is
// partitionedAnalytics.test on the stand-in), so no ledgers or dashboards are compared; /ws/users is partitionedUsers.test's (the
// around-me feed's first frame is compared with the oracle; its moves are partitionedAroundMe.test's).
// Every wait is on state and says, when it runs out, what it waited for and the last state seen.
import { spawn } from "node:child_process"
import * as path from "node:path"
import { randomBytes } from "node:crypto"
import type { NatsConnection } from "@nats-io/transport-node"
import type { JetStreamClient, JetStreamManager } from "@nats-io/jetstream"
import type postgres from "postgres"
import WebSocket from "ws"
import { afterAll, beforeAll, expect, it } from "vitest"
import { deltaSubject } from "../../src/domain/LiveChain.js"
import type { ChainDelta } from "../../src/domain/LiveChain.js"
import { ingestSubject, partitionFilter, partitionOfUser } from "../../src/domain/Partition.js"
import type { AroundMessage, LeaderboardMessage } from "../../src/gateway/protocol/Messages.js"
import { Oracle } from "../oracle/Oracle.js"
import type { ExpectedProfile, RankedRow } from "../oracle/Oracle.js"
import { readStream } from "../oracle/stream.js"
import { makeWorkload } from "../oracle/workload.js"
import type { Item } from "../oracle/workload.js"
import { sleep } from "../support/arena.js"
import { clusterWorld } from "../support/clusterWorld.js"
import { partitionedMembers } from "../support/partitionedMembers.js"
import type { Member } from "../support/partitionedMembers.js"
import { WsReader } from "../gateway/client.js"
import { fold } from "../gateway/wsProtocol.js"
import type { ClientState } from "../gateway/wsProtocol.js"

const ROOT = path.resolve(import.meta.dirname, "../..")
const P = 8
const world = clusterWorld("pc", { partitions: P })
const { cluster, id, databaseUrl: dbUrl, dataDir } = world
const TTL_S = 3

const { procs, start, kill9 } = partitionedMembers({ cluster, partitions: P, databaseUrl: dbUrl, dataDir, env: { ARENA_AUTH: "off", ARENA_LEASE_TTL: `${TTL_S}s` } })

let nc: NatsConnection
let js: JetStreamClient
let jsm: JetStreamManager
let sql: postgres.Sql
const sockets: Array<WebSocket> = []
let stopped: Member | null = null

beforeAll(async () => {
  // The test's own client rides out the node kill: every node listed, a dead one noticed fast.
  ;({ nc, js, jsm, sql } = await world.up({ pingInterval: 1_000, maxPingOut: 2, maxReconnectAttempts: -1, reconnectTimeWait: 250 }))
})

afterAll(async () => {
  for (const s of sockets) s.terminate()
  if (stopped !== null) try { process.kill(stopped.child.pid!, "SIGCONT") } catch { /* gone */ }
  for (const p of procs) await kill9(p)
  await world.down()
})

const get = async <A>(gw: Member, p: string): Promise<{ status: number; body: A }> => {
  const r = await fetch(`http://127.0.0.1:${gw.port}${p}`)
  return { status: r.status, body: await r.json() as A }
}

const logs = (): string => procs.map((p) => `--- ${p.name} (${p.child.exitCode !== null || p.child.signalCode !== null ? "exited" : "running"}):\n${p.log.slice(-2500)}`).join("\n")

/** A failure no waiting cures (a broken client chain): waitFor fails at once instead of retrying. */
class Broken extends Error {}
const unbroken = <A>(f: () => A): A => { try { return f() } catch (e) { throw new Broken(String(e)) } }

/**
 * Waits until f gives a value (its errors, e.g. during an election, count as "not yet", except
 * Broken); on time-out names what it waited for, the last state and error seen and the members' logs.
 */
const waitFor = async <T>(what: string, f: () => Promise<T | undefined>, state: () => unknown, timeoutMs = 90_000): Promise<T> => {
  let lastError = ""
  for (const until = Date.now() + timeoutMs; ;) {
    const v = await f().catch((e: unknown) => {
      if (e instanceof Broken) throw e
      lastError = String(e)
      return undefined
    })
    if (v !== undefined) return v
    if (Date.now() > until) throw new Error(`timed out after ${timeoutMs / 1000} s waiting for ${what}; last state: ${JSON.stringify(state())}${lastError === "" ? "" : `; last error: ${lastError}`}\n${logs()}`)
    await sleep(200)
  }
}

const epochs = async (): Promise<Map<number, { epoch: number; owner: string }>> =>
  new Map((await sql<Array<{ partition: number; epoch: string; owner: string }>>`SELECT partition, epoch, owner FROM arena_partition_checkpoint`)
    .map((r) => [Number(r.partition), { epoch: Number(r.epoch), owner: r.owner }]))
const show = (m: Map<number, { epoch: number; owner: string }>) => Object.fromEntries([...m].map(([k, e]) => [k, `${e.owner}@${e.epoch}`]))

const leaseHolder = async (lease: string): Promise<string | null> => {
  const m = await jsm.streams.getMessage("ARENA_LEASES", { last_by_subj: `arena.lease.${lease}` }).catch(() => null)
  return m === null ? null : m.json<{ holder: string }>().holder
}

// --- the publisher: keeps events flowing until told to stop ---

const userOf = (it: Item): string | undefined => {
  try {
    const u = (JSON.parse(typeof it.data === "string" ? it.data : new TextDecoder().decode(it.data)) as { user_id?: unknown }).user_id
    // An event whose user_id is no valid id has no partition: partitioned ingest refuses it up front.
    return typeof u === "string" && /^[A-Za-z0-9._:@-]{1,128}$/.test(u) ? u : undefined
  } catch { return undefined }
}

const flow = { stop: false, chunks: 0, direct: 0, viaGateway: 0, retries: 0, lastError: "" }

/** One item to its user's subject, retried (same Nats-Msg-Id) through elections and reconnects for up to 90 s. */
const publishOne = async (it: Item, user: string): Promise<void> => {
  for (const until = Date.now() + 90_000; ;) {
    try {
      await js.publish(ingestSubject(user), it.data, it.msgId === undefined ? {} : { msgID: it.msgId })
      flow.direct++
      return
    } catch (e) {
      flow.retries++
      flow.lastError = String(e)
      if (Date.now() > until) throw new Error(`publish of ${it.msgId} failed for 90 s: ${String(e)}`)
      await sleep(200)
    }
  }
}

let gateways: Array<Member> = []
const alive = (m: Member) => m.child.exitCode === null && m.child.signalCode === null

/** A chunk through POST /v1/events on a live gateway; whatever it did not store goes out directly. */
const postChunk = async (chunk: ReadonlyArray<Item>, n: number): Promise<void> => {
  const events: Array<unknown> = []
  const rest: Array<Item> = []
  for (const it of chunk) {
    if (userOf(it) === undefined) continue
    try { events.push(JSON.parse(String(it.data))); rest.push(it) } catch { /* not JSON: no partition */ }
  }
  const live = gateways.filter(alive)
  const gw = live[n % Math.max(1, live.length)]
  let results: Array<{ status: string }> | null = null
  if (gw !== undefined && events.length > 0) {
    try {
      const r = await fetch(`http://127.0.0.1:${gw.port}/v1/events`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(events), signal: AbortSignal.timeout(10_000) })
      if (r.status === 202) results = ((await r.json()) as { results: Array<{ status: string }> }).results
    } catch (e) { flow.lastError = `POST on ${gw.name}: ${String(e)}` }
  }
  await Promise.all(rest.map(async (it, i) => {
    const s = results?.[i]?.status
    if (s === "accepted" || s === "duplicate") { flow.viaGateway++; return }
    await publishOne(it, userOf(it)!)
  }))
}

const runPublisher = async (): Promise<void> => {
  for (let round = 0; !flow.stop; round++) {
    const items = makeWorkload({ events: 3000, users: 150, seed: 16 + round, runId: `${id}r${round}`, nowMs: Date.now(), spanDays: 20 })
    for (let i = 0; i < items.length && !flow.stop; i += 20) {
      const chunk = items.slice(i, i + 20)
      if (flow.chunks % 3 === 2) await postChunk(chunk, flow.chunks)
      else await Promise.all(chunk.flatMap((it) => { const u = userOf(it); return u === undefined ? [] : [publishOne(it, u)] }))
      flow.chunks++
      await sleep(40)
    }
  }
}

// --- WebSocket clients that fold their board and move to the other gateway when theirs dies ---

class LiveClient {
  readonly conns: Array<{ readonly gw: string; readonly reader: WsReader<LeaderboardMessage> }> = []
  closing = false
  reconnects = 0
  constructor(readonly name: string, readonly board: string, readonly limit: number, public gw: Member) {}

  /** The view folded over every connection (throws on a broken chain): a reconnect resumes from it. */
  folded(): ClientState | null {
    let s: ClientState | null = null
    for (const c of this.conns) if (c.reader.messages.length > 0) s = fold(c.reader.messages, this.limit, s)
    return s
  }

  async open(gw: Member): Promise<void> {
    this.gw = gw
    const had = this.folded()
    const resume = had === null ? "" : `&since=${had.seq}&epoch=${encodeURIComponent(had.epoch)}`
    const ws = new WebSocket(`ws://127.0.0.1:${gw.port}/ws/leaderboard/${encodeURIComponent(this.board)}?limit=${this.limit}${resume}`)
    sockets.push(ws)
    const reader = new WsReader<LeaderboardMessage>(ws)
    await new Promise<void>((resolve, reject) => { ws.once("open", () => resolve()); ws.once("error", reject) })
    this.conns.push({ gw: gw.name, reader })
    ws.once("close", () => { if (!this.closing) void this.reconnect() })
  }

  /** Its gateway is gone: the other live gateway, with since/epoch of what it had. */
  private async reconnect(): Promise<void> {
    this.reconnects++
    for (;;) {
      if (this.closing) return
      const other = gateways.filter(alive).find((g) => g !== this.gw) ?? gateways.find(alive)
      if (other !== undefined) {
        try { return await this.open(other) } catch { /* not up: again */ }
      }
      await sleep(250)
    }
  }

  get last() { return this.conns[this.conns.length - 1]! }
}

const normalizeProfile = (p: ExpectedProfile) => ({
  user_id: p.user_id, username: p.username, total_xp: p.total_xp, level: p.level, streak: p.streak, time_zone: p.time_zone, visibility: p.visibility,
  achievements: p.achievements.map((a) => ({ id: a.id, bonus: a.bonus, target: a.target, progress: a.progress, unlocked: a.unlocked, unlocked_seq: a.unlocked_seq })),
  agent_stats: p.agent_stats,
  ranks: [...p.ranks].map((r) => ({ board: r.board, window: r.window, period: r.period, rank: r.rank, xp: r.xp }))
    .sort((a, b) => (a.board + a.window < b.board + b.window ? -1 : 1))
})

/** How many processes answer partition k's queries: replies collected for a second after the first. */
const responders = async (k: number): Promise<number> => {
  const inbox = nc.subscribe(`_INBOX.${id}.${k}.${randomBytes(3).toString("hex")}`)
  let n = 0
  let first: () => void = () => undefined
  const gotFirst = new Promise<void>((r) => (first = r))
  const counted = (async () => { for await (const _m of inbox) if (++n === 1) first() })()
  nc.publish(`arena.q.p.${k}.state`, new TextEncoder().encode("{}"), { reply: inbox.getSubject() })
  await Promise.race([gotFirst, sleep(10_000)])
  await sleep(1_000)
  inbox.unsubscribe()
  await counted
  return n
}

it("P = 8, 3 processors, 2 gateways on 3 NATS nodes: kill -9 of a processor, SIGSTOP past the lease, kill of the stream's leader node, of a gateway and of the merger, while events flow; then boards, ranks, users and every client's view equal the oracle, each partition owned once with risen tokens", async () => {
  const started = Date.now()
  const phases: Array<string> = []
  const phase = (s: string) => phases.push(`${Math.round((Date.now() - started) / 1000)}s ${s}`)
  const a = await start("proc-a", "processor", 1)
  const b = await start("proc-b", "processor", 2)
  const c = await start("proc-c", "processor", 3)
  const g1 = await start("gw-1", "gateway", 1)
  const g2 = await start("gw-2", "gateway", 2)
  gateways = [g1, g2]
  for (const gw of gateways) {
    await waitFor(`every partition ready on ${gw.name}`, async () => ((await get(gw, "/readyz")).status === 200 ? true : undefined), () => "readyz not 200")
  }
  phase("members up")

  // The raw chain of the global board, as every gateway sees it.
  const chain: Array<ChainDelta> = []
  const rawSub = nc.subscribe(deltaSubject("global", "all", "all"), { callback: (_e, m) => { chain.push(m.json<ChainDelta>()) } })

  const GLOBAL_LIMIT = 40, AGENT_LIMIT = 15
  const agent = "agent:cursor"
  const clients = [
    new LiveClient("global@gw-1", "global", GLOBAL_LIMIT, g1), new LiveClient("agent@gw-1", agent, AGENT_LIMIT, g1),
    new LiveClient("global@gw-2", "global", GLOBAL_LIMIT, g2), new LiveClient("agent@gw-2", agent, AGENT_LIMIT, g2)
  ]
  for (const cl of clients) await cl.open(cl.gw)
  for (const cl of clients) await cl.last.reader.until((ms) => ms.length > 0, 60_000, `${cl.name}'s first frame`)

  // A forged record: user "mallory"'s payload on "bob"'s subject (bypassing the mapping).
  const forged = await js.publish(`arena.xp.p.${partitionOfUser("bob", P)}.bob`, JSON.stringify({ event_id: `${id}-forged`, user_id: "mallory", agent_name: "cursor", action_type: "task_completed", timestamp: new Date().toISOString() }), { msgID: `${id}-forged` })

  const publisher = runPublisher()
  let publisherFailed: unknown = null
  void publisher.catch((e) => { publisherFailed = e })
  const flowing = async (what: string, more = 10) => {
    const from = flow.chunks
    await waitFor(`${more} more chunks published (${what})`, async () => { if (publisherFailed !== null) throw publisherFailed; return flow.chunks >= from + more ? true : undefined }, () => flow)
  }
  const merger0 = await waitFor("a holder of merge.global", async () => (await leaseHolder("merge.global")) ?? undefined, () => chain.length)
  const [x, y] = [a, b, c].filter((p) => p.name !== merger0)
  const merger = [a, b, c].find((p) => p.name === merger0)!
  await flowing("before the faults")
  phase(`flowing; merger ${merger.name}`)

  // 1. kill -9 of processor x while events flow; its partitions are taken over with higher tokens.
  const beforeKill = await epochs()
  const ofX = [...beforeKill].filter(([, e]) => e.owner === x!.name).map(([k]) => k)
  await kill9(x!)
  await waitFor(`${x!.name}'s partitions ${ofX} claimed by others with higher tokens`, async () => {
    const now = await epochs()
    return ofX.every((k) => now.get(k)!.owner !== x!.name && now.get(k)!.epoch > beforeKill.get(k)!.epoch) ? true : undefined
  }, () => "see epochs below")
  phase(`killed ${x!.name} (owned ${ofX}); taken over`)
  // A fourth processor joins on x's node while events flow: partitions are handed over to it.
  await start("proc-d", "processor", 1)
  await waitFor("proc-d owning a partition", async () => ([...(await epochs()).values()].some((e) => e.owner === "proc-d") ? true : undefined), () => "")
  await flowing("after the join")
  phase("proc-d joined")

  // 2. SIGSTOP y until every partition it owned is claimed by others, then resume it.
  const atStop = await epochs()
  const ofY = [...atStop].filter(([, e]) => e.owner === y!.name).map(([k]) => k)
  expect(ofY.length, `partitions of ${y!.name} at its stop: ${JSON.stringify(show(atStop))}`).toBeGreaterThan(0)
  process.kill(y!.child.pid!, "SIGSTOP")
  stopped = y!
  let seen = atStop
  await waitFor(`${y!.name}'s partitions ${ofY} claimed by others while it is stopped`, async () => {
    seen = await epochs()
    return ofY.every((k) => seen.get(k)!.owner !== y!.name && seen.get(k)!.epoch > atStop.get(k)!.epoch) ? true : undefined
  }, () => show(seen))
  process.kill(y!.child.pid!, "SIGCONT")
  stopped = null
  const resumedSecond = Math.ceil(Date.now() / 1000)
  // It wakes to leases it no longer holds and stops acting on them (no snapshot of its own).
  await waitFor(`${y!.name} noticing its lost leases`, async () => (/lease lost/.test(y!.log) ? true : undefined), () => y!.log.slice(-1500))
  phase(`SIGSTOP/SIGCONT ${y!.name} (owned ${ofY})`)
  // `arena produce` in partitioned mode publishes to each user's ingest subject, while the rest flows.
  const produced = await new Promise<{ code: number | null; out: string }>((resolve) => {
    const pr = spawn(process.execPath, [path.join(ROOT, "bin/arena"), "produce", "--count", "300", "--users", "40", "--seed", "7"], {
      cwd: ROOT, env: { ...process.env, NATS_URL: cluster.urls.join(","), ARENA_PARTITIONS: String(P), ARENA_STREAM: "ARENA_XP", ARENA_SUBJECT_PREFIX: "arena.xp" }, stdio: ["ignore", "pipe", "pipe"]
    })
    let out = ""
    pr.stdout.on("data", (buf: Buffer) => (out += buf.toString()))
    pr.stderr.on("data", (buf: Buffer) => (out += buf.toString()))
    pr.on("close", (code) => resolve({ code, out }))
  })
  expect(produced.code, produced.out).toBe(0)
  expect(produced.out).toContain("arena.xp.events.<user token> (partitioned mode, P = 8)")

  // 3. kill -9 of the NATS node leading the event stream, while events flow; then start it again.
  const leader = (await jsm.streams.info("ARENA_XP")).cluster?.leader
  expect(leader).toMatch(/^n[123]$/)
  await kill9NatsAndRestart(Number(leader!.slice(1)) as 1 | 2 | 3, leader!, flowing)
  phase(`killed NATS ${leader} (the stream's leader), restarted`)

  // 4. kill -9 of gateway 1: its clients move to gateway 2 (a fresh snapshot there), then deltas.
  const onG1 = clients.filter((cl) => cl.gw === g1)
  await kill9(g1)
  for (const cl of onG1) {
    await waitFor(`${cl.name} reconnected to gw-2 with a frame`, async () => (cl.gw === g2 && cl.last.gw === "gw-2" && cl.last.reader.messages.length > 0 ? true : undefined),
      () => ({ reconnects: cl.reconnects, conns: cl.conns.map((x) => `${x.gw}:${x.reader.messages.length}`) }))
  }
  await flowing("after the gateway's death")
  phase("killed gw-1; its clients on gw-2")

  // 5. kill -9 of the merger of the global board: a new holder, a chain under a higher epoch.
  const holder = await leaseHolder("merge.global")
  const m = procs.find((p) => p.name === holder && alive(p))
  expect(m, `merge.global held by ${holder}`).toBeDefined()
  const beforeMerger = await epochs()
  const ofM = [...beforeMerger].filter(([, e]) => e.owner === m!.name).map(([k]) => k)
  const firstEpoch = chain[chain.length - 1]!.epoch
  await kill9(m!)
  await waitFor("a delta of a new merger of the global board", async () => (chain.some((dl) => dl.epoch > firstEpoch) ? true : undefined),
    () => ({ last: chain[chain.length - 1], holder: chain.length }))
  await flowing("after the merger's death")
  phase(`killed the merger ${m!.name} (owned ${ofM})`)

  // Stop publishing; quiescence: every partition ready on its owner, at or past its last message.
  flow.stop = true
  await publisher
  phase(`publisher stopped: ${JSON.stringify(flow)}`)
  const survivors = procs.filter((p) => alive(p) && p.name.startsWith("proc-")).map((p) => p.name)
  const lastOf = new Map<number, number>()
  for (let k = 0; k < P; k++) {
    const msg = await jsm.streams.getMessage("ARENA_XP", { last_by_subj: partitionFilter(k) }).catch(() => null)
    lastOf.set(k, msg?.seq ?? 0)
  }
  let lastParts: unknown = null
  let noted = Date.now()
  const note = () => {
    if (Date.now() - noted < 10_000) return
    noted = Date.now()
    phase(`waiting: ${JSON.stringify(lastParts)}`)
  }
  await waitFor(`every partition ready, caught up and owned by a survivor (${survivors}) of the last assignment`, async () => {
    const r = await get<{ partitions?: Array<{ partition: number; phase: string; applied: number }> }>(g2, "/v1/partitions")
    lastParts = r.body
    note()
    // At or past: the coordinator's ticks (one a second into each partition) keep coming.
    if (r.status !== 200 || !r.body.partitions!.every((s) => s.phase === "ready" && s.applied >= lastOf.get(s.partition)!)) return undefined
    const owners = await epochs()
    lastParts = { partitions: r.body, owners: show(owners) }
    return [...owners.values()].every((e) => survivors.includes(e.owner)) && survivors.every((s) => [...owners.values()].some((e) => e.owner === s)) ? true : undefined
  }, () => lastParts, 120_000)
  phase("quiescent")

  // Ownership: one responder per partition; tokens rose at each takeover.
  const after = await epochs()
  expect(after.size).toBe(P)
  for (let k = 0; k < P; k++) expect(await responders(k), `responders of partition ${k}`).toBe(1)
  for (const k of ofX) expect(after.get(k)!.epoch, `partition ${k}'s token after ${x!.name}'s death`).toBeGreaterThan(beforeKill.get(k)!.epoch)
  for (const k of ofY) expect(after.get(k)!.epoch, `partition ${k}'s token after ${y!.name}'s pause`).toBeGreaterThan(atStop.get(k)!.epoch)
  for (const k of ofM) expect(after.get(k)!.epoch, `partition ${k}'s token after ${m!.name}'s death`).toBeGreaterThan(beforeMerger.get(k)!.epoch)
  for (const [k, e] of after) expect(survivors, `owner of partition ${k}`).toContain(e.owner)

  // The oracle over the stored stream (every message went through the mapping to arena.xp.p.<k>.<token>).
  const stored = await readStream(js, jsm, "ARENA_XP")
  const oracle = new Oracle("arena.xp.corrections")
  for (const msg of stored) {
    const k = Number(msg.subject!.split(".")[3])
    expect(msg.subject!.startsWith("arena.xp.p.")).toBe(true)
    if (msg.seq === forged.seq) continue // the oracle knows no partitions: the forged record is checked below
    const user = (() => { try { return (JSON.parse(new TextDecoder().decode(msg.data)) as { user_id?: string }).user_id } catch { return undefined } })()
    if (typeof user === "string") expect(partitionOfUser(user, P)).toBe(k)
    oracle.apply(msg)
  }
  expect(oracle.users.size).toBeGreaterThan(100)

  // Ticks: the coordinator changed hands, yet each partition's tick of a second is stored once, on
  // its own subject, and ticking went on after the pause (a wait on the stream, not a count).
  const tickers = procs.filter((p) => p.log.includes("coordinator: ticking")).map((p) => p.name)
  expect(tickers.length, `processors that ticked as coordinator: ${tickers.join(", ")}`).toBeGreaterThanOrEqual(2)
  const ticks = stored.filter((msg) => msg.subject!.endsWith(".$tick"))
  for (const t of ticks) expect(t.msgId).toMatch(new RegExp(`^tick/${t.subject!.split(".")[3]}/\\d+$`))
  expect(new Set(ticks.map((t) => t.msgId)).size).toBe(ticks.length)
  const tickSecondOf = async (k: number) => {
    const msg = await jsm.streams.getMessage("ARENA_XP", { last_by_subj: `arena.xp.p.${k}.$tick` }).catch(() => null)
    return Number((msg?.header?.get("Nats-Msg-Id") ?? "").split("/")[2] ?? 0)
  }
  for (let k = 0; k < P; k++) {
    let second = 0
    await waitFor(`partition ${k}'s tick of a second after ${y!.name} resumed (${resumedSecond})`, async () => { second = await tickSecondOf(k); return second > resumedSecond ? true : undefined }, () => second, 30_000)
  }

  // The forged record is dead-lettered, not applied.
  const findLetter = async () => {
    for (let seq = 1; ; seq++) {
      const msg = await jsm.streams.getMessage("ARENA_XP_DLQ", { seq }).catch(() => null)
      if (msg === null) return undefined
      if (msg.header?.get("Arena-Seq") === String(forged.seq)) return msg
    }
  }
  const letter = await waitFor("the forged record's dead letter", findLetter, () => null, 30_000)
  expect(letter.header?.get("Arena-Reason")).toBe("subject_user_mismatch")
  expect((await get(g2, "/v1/users/mallory")).status).toBe(404)

  // Every current board in every window, paged, equals the oracle.
  const cur = oracle.currentPeriods()
  const boards = new Set([...oracle.boards.keys()].map((key) => key.split("|")[0]!))
  let compared = 0
  for (const board of boards) {
    for (const window of ["all", "day", "week", "month"] as const) {
      const expected = oracle.ranked(board, window, cur[window])
      const got: Array<RankedRow> = []
      let cursor: string | null = null
      let total = -1
      do {
        const r: { status: number; body: { total: number; entries: Array<RankedRow>; next_cursor: string | null; period: string } } =
          await get(g2, `/v1/leaderboards/${encodeURIComponent(board)}?window=${window}&limit=50${cursor === null ? "" : `&cursor=${cursor}`}`)
        expect(r.status).toBe(200)
        expect(r.body.period).toBe(cur[window])
        if (total < 0) total = r.body.total
        got.push(...r.body.entries)
        cursor = r.body.next_cursor
      } while (cursor !== null)
      expect(total, `${board}/${window} total`).toBe(expected.length)
      expect(got, `${board}/${window}`).toEqual(expected)
      compared += got.length
    }
  }
  expect(compared).toBeGreaterThan(300)
  // Ranks and around-me on the global board, and every user's profile (with merged ranks).
  const global = oracle.ranked("global", "all", "all")
  for (const row of global.filter((_, i) => i % 7 === 0)) {
    const r = await get<{ user: RankedRow; entries: Array<RankedRow> }>(g2, `/v1/leaderboards/global/users/${encodeURIComponent(row.user_id)}?radius=3`)
    expect(r.status).toBe(200)
    expect(r.body.user).toEqual(row)
    expect(r.body.entries).toEqual(global.slice(Math.max(0, row.rank - 4), row.rank + 3))
  }
  for (const uid of oracle.users.keys()) {
    const r = await get<ExpectedProfile>(g2, `/v1/users/${encodeURIComponent(uid)}`)
    expect(r.status, uid).toBe(200)
    expect(normalizeProfile(r.body), uid).toEqual(normalizeProfile(oracle.profile(uid)!))
  }

  // Every client's folded view (its chain whole across its connections) equals the oracle's top-N.
  const expectedOf = (cl: LiveClient) => oracle.ranked(cl.board, "all", "all").slice(0, cl.limit)
  for (const cl of clients) {
    const expected = JSON.stringify(expectedOf(cl))
    let s: ClientState | null = null
    await waitFor(`${cl.name}'s folded view to equal the oracle's top ${cl.limit}`, async () => {
      s = unbroken(() => cl.folded()) // a broken chain is no wait: it fails at once
      return s !== null && JSON.stringify(s.entries) === expected ? true : undefined
    }, () => ({ state: s === null ? null : { seq: (s as ClientState).seq, epoch: (s as ClientState).epoch, snapshots: (s as ClientState).snapshots, deltas: (s as ClientState).deltas }, conns: cl.conns.map((x) => `${x.gw}:${x.reader.messages.length}`) }), 60_000)
    const f = cl.folded()!
    // The clients of gw-2 followed the whole run on one chain: one snapshot, then deltas only, across
    // the merger's change of epoch and the NATS node's death. gw-1's moved once: one more snapshot.
    expect(f.snapshots, `${cl.name}'s snapshots over ${cl.conns.length} connection(s)`).toBe(onG1.includes(cl) ? 2 : 1)
    expect(f.deltas, `${cl.name}'s deltas`).toBeGreaterThan(5)
    expect(cl.conns.map((x) => x.gw), cl.name).toEqual(onG1.includes(cl) ? ["gw-1", "gw-2"] : ["gw-2"])
  }
  // A client that lost its socket resumes on the gateway that served it from a seq it had: deltas
  // only (that gateway's ring), up to where the others are.
  const g2global = clients.find((cl) => cl.name === "global@gw-2")!
  const final = g2global.folded()!
  const msgs = g2global.last.reader.messages
  // About 30 frames back: well inside the gateway's resume ring (1,024 deltas, 1 MiB; under this
  // churn a top-40 delta is KiBs, so the ring holds a few hundred of them, not the whole run). At a
  // seq where the chain moved on: the merged seq is the partitions' low watermark, so entries often
  // change while it stays (a delta with prev_seq = seq), and a client at such a seq is either before
  // or after that delta: the ring answers it with a snapshot (exact, as §7 allows; DeltaRing.since).
  const stalledAt = new Set(msgs.flatMap((msg) => (msg.type === "delta" && msg.prev_seq === msg.seq ? [msg.seq] : [])))
  let cut = Math.max(1, msgs.length - 30)
  const seqOf = (i: number) => msgs[i - 1]!.seq
  while (cut > 1 && (stalledAt.has(seqOf(cut)) || seqOf(cut) === final.seq)) cut--
  const had = fold(msgs.slice(0, cut), GLOBAL_LIMIT)
  const ws = new WebSocket(`ws://127.0.0.1:${g2.port}/ws/leaderboard/global?limit=${GLOBAL_LIMIT}&since=${had.seq}&epoch=${encodeURIComponent(had.epoch)}`)
  sockets.push(ws)
  const back = new WsReader<LeaderboardMessage>(ws)
  // (The chain moves on with the ticks' watermark: compare the two at the same seq.)
  let pair: unknown = null
  const [resumed, now] = await waitFor(`the resumed client at the seq of the client it resumed (from seq ${had.seq})`, async () => {
    if (back.messages.length === 0) return undefined
    const st = unbroken(() => fold(back.messages, GLOBAL_LIMIT, had))
    const cur = unbroken(() => g2global.folded()!)
    pair = { resumed: st.seq, client: cur.seq }
    return st.seq === cur.seq ? [st, cur] as const : undefined
  }, () => pair, 30_000)
  expect(now.seq).toBeGreaterThanOrEqual(final.seq)
  expect(back.messages.map((msg) => msg.type).filter((t) => t !== "delta"), `frames of a resume from seq ${had.seq} (${cut} of ${msgs.length} frames; the client's frames from there: ${JSON.stringify(msgs.slice(cut - 2).map((msg) => msg.type === "delta" ? [msg.prev_seq, msg.seq] : ["snapshot", msg.seq]))})`).toEqual([])
  expect(resumed.entries).toEqual(now.entries)
  for (const cl of clients) cl.closing = true
  // The merger's raw chain as this subscriber saw it: within an epoch n only rises and seq never
  // goes back; epochs only rise. (Not "n + 1 each time": the chain is core NATS, and deltas in
  // flight when a NATS node dies are lost to a subscriber that reconnects; a gateway fetches a
  // snapshot on such a gap, which the clients' whole chains above show.)
  for (let i = 1; i < chain.length; i++) {
    const p = chain[i - 1]!, dl = chain[i]!
    expect(dl.epoch >= p.epoch).toBe(true)
    if (dl.epoch === p.epoch) expect(dl.n, `n after ${p.n} in epoch ${p.epoch}`).toBeGreaterThan(p.n)
    expect(dl.seq >= p.seq || dl.epoch > p.epoch).toBe(true)
  }
  // The around-me feed on a gateway: its first frame is the oracle's window (as REST's above).
  const mid = global[Math.floor(global.length / 2)]!
  const aroundWs = new WebSocket(`ws://127.0.0.1:${g2.port}/ws/leaderboard/global/around/${encodeURIComponent(mid.user_id)}?radius=3`)
  sockets.push(aroundWs)
  const first = await new WsReader<AroundMessage>(aroundWs).nth(0, 30_000)
  expect(first).toMatchObject({ type: "snapshot", user_id: mid.user_id, radius: 3, first_rank: Math.max(1, mid.rank - 3) })
  expect(first.type === "snapshot" ? first.entries : null).toEqual(global.slice(Math.max(0, mid.rank - 4), mid.rank + 3))
  rawSub.unsubscribe()
  phase("compared")
  console.log(`partitionedChaos phases:\n${phases.join("\n")}`)
}, 600_000)

/** kill -9 of NATS node i (named `name`) while events flow; waits for a new stream leader and acks, then starts the node again. */
const kill9NatsAndRestart = async (i: 1 | 2 | 3, name: string, flowing: (what: string, more?: number) => Promise<void>) => {
  await cluster.kill9(i)
  let info: unknown = null
  await waitFor(`a new leader of ARENA_XP after ${name}'s death`, async () => {
    const s = await jsm.streams.info("ARENA_XP")
    info = s.cluster
    return s.cluster?.leader !== undefined && s.cluster.leader !== name ? true : undefined
  }, () => info)
  await flowing(`with ${name} dead`)
  const r = await cluster.run("start")
  if (r.code !== 0) throw new Error(`restarting ${name}: ${r.out}`)
  await flowing(`with ${name} back`)
}
