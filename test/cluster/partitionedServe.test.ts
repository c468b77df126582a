// Partitioned mode end to end (ARCHITECTURE §9, issue 16) on a real 3-node nats-server cluster
// from scripts/cluster.sh with P = 8: two `arena serve --role processor` processes on different
// nodes and one `--role gateway`, all real child processes. Events flow through the server's
// partition mapping; processor A is killed with -9 mid-stream (its partitions are taken over once
// its leases expire), processor C joins (partitions are handed over to it with final snapshots),
// processor B is SIGSTOPped past its lease TTL and resumed (taken over, then rebalanced back).
// `arena produce` publishes to users' subjects. A forged record (one user's payload on another
// user's subject) is dead-lettered.
// After quiescence every current board, rank and around-me read through the gateway, and every
// user's profile, equals the independent oracle folded over the stored stream; every partition
// is owned exactly once (one lease holder = the assignment's owner = the only query responder),
// and the fencing tokens of A's partitions rose past A's.
import type { ChildProcess } from "node:child_process"
import { spawn } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { randomBytes } from "node:crypto"
import { connect } from "@nats-io/transport-node"
import type { NatsConnection } from "@nats-io/transport-node"
import { jetstream, jetstreamManager } from "@nats-io/jetstream"
import type { JetStreamClient, JetStreamManager } from "@nats-io/jetstream"
import postgres from "postgres"
import { afterAll, beforeAll, expect, it } from "vitest"
import { ingestSubject, partitionFilter, partitionOfUser } from "../../src/domain/Partition.js"
import { Oracle } from "../oracle/Oracle.js"
import type { ExpectedProfile, RankedRow } from "../oracle/Oracle.js"
import { readStream } from "../oracle/stream.js"
import { makeWorkload } from "../oracle/workload.js"
import { PG_URL, sleep } from "../support/arena.js"
import { testCluster } from "../support/natsCluster.js"

const ROOT = path.resolve(import.meta.dirname, "../..")
const P = 8
const cluster = testCluster({ partitions: P })
const id = `pt${randomBytes(4).toString("hex")}`
const dbUrl = (() => { const u = new URL(PG_URL); u.pathname = `/arena_${id}`; return u.toString() })()
const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), `arena-${id}-`))

interface Proc { readonly name: string; readonly child: ChildProcess; log: string; port: number }
const procs: Array<Proc> = []

const start = (name: string, role: "processor" | "gateway", node: 1 | 2 | 3): Promise<Proc> => {
  const child = spawn(process.execPath, [path.join(ROOT, "bin/arena"), "serve", "--role", role], {
    cwd: ROOT,
    env: {
      ...process.env,
      NATS_URL: cluster.url(node),
      DATABASE_URL: dbUrl,
      ARENA_PARTITIONS: String(P),
      ARENA_STREAM: "ARENA_XP",
      ARENA_SUBJECT_PREFIX: "arena.xp",
      ARENA_LEASE_TTL: "3s",
      ARENA_SNAPSHOT_INTERVAL: "500ms",
      ARENA_DATA_DIR: path.join(dataDir, name),
      ARENA_MEMBER_ID: name,
      PORT: "0"
    },
    stdio: ["ignore", "pipe", "pipe"]
  })
  const p: Proc = { name, child, log: "", port: 0 }
  procs.push(p)
  const ready = role === "gateway" ? /listening on http:\/\/[\d.]+:(\d+)/ : /following the coordinator's assignment/
  return new Promise((resolve, reject) => {
    const onData = (b: Buffer) => {
      p.log += b.toString()
      const m = ready.exec(p.log)
      if (m !== null) { if (m[1] !== undefined) p.port = Number(m[1]); resolve(p) }
    }
    child.stdout!.on("data", onData)
    child.stderr!.on("data", onData)
    child.once("exit", (code) => reject(new Error(`${name} exited with ${code}:\n${p.log.slice(-3000)}`)))
    setTimeout(() => reject(new Error(`${name} did not start within 90 s:\n${p.log.slice(-3000)}`)), 90_000).unref()
  })
}

const kill9 = async (p: Proc): Promise<void> => {
  if (p.child.exitCode !== null || p.child.signalCode !== null) return
  const exited = new Promise<void>((r) => p.child.once("exit", () => r()))
  p.child.kill("SIGKILL")
  await exited
}

let nc: NatsConnection
let js: JetStreamClient
let jsm: JetStreamManager
let sql: postgres.Sql

beforeAll(async () => {
  const r = await cluster.run("start")
  if (r.code !== 0) throw new Error(r.out)
  const admin = postgres(PG_URL, { max: 1, onnotice: () => {} })
  await admin.unsafe(`CREATE DATABASE arena_${id}`)
  await admin.end()
  sql = postgres(dbUrl, { max: 2, onnotice: () => {} })
  nc = await connect({ servers: [...cluster.urls] })
  js = jetstream(nc)
  jsm = await jetstreamManager(nc)
})

afterAll(async () => {
  for (const p of procs) await kill9(p)
  await nc?.close()
  await sql?.end()
  const admin = postgres(PG_URL, { max: 1, onnotice: () => {} })
  await admin.unsafe(`DROP DATABASE IF EXISTS arena_${id} WITH (FORCE)`).catch(() => undefined)
  await admin.end()
  await cluster.destroy()
  fs.rmSync(dataDir, { recursive: true, force: true })
})

const get = async <A>(gw: Proc, p: string): Promise<{ status: number; body: A }> => {
  const r = await fetch(`http://127.0.0.1:${gw.port}${p}`)
  return { status: r.status, body: await r.json() as A }
}

/** Publishes items to their users' partitioned subjects (the server maps them); returns how many were sent. */
const publish = async (items: ReadonlyArray<{ readonly data: string | Uint8Array; readonly msgId: string | undefined }>): Promise<number> => {
  let sent = 0
  const pending = new Set<Promise<unknown>>()
  for (const it of items) {
    let user: unknown
    try { user = (JSON.parse(typeof it.data === "string" ? it.data : new TextDecoder().decode(it.data)) as { user_id?: unknown }).user_id } catch { continue }
    // An event whose user_id is no valid id has no partition: partitioned ingest refuses it up front.
    if (typeof user !== "string" || !/^[A-Za-z0-9._:@-]{1,128}$/.test(user)) continue
    const p = (async () => {
      for (let attempt = 0; ; attempt++) {
        try { return await js.publish(ingestSubject(user), it.data, it.msgId === undefined ? {} : { msgID: it.msgId }) } catch (e) {
          if (attempt > 20) throw e
          await sleep(100)
        }
      }
    })()
    pending.add(p)
    void p.finally(() => pending.delete(p))
    sent++
    if (pending.size >= 200) await Promise.race(pending)
  }
  await Promise.all(pending)
  return sent
}

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

const epochs = async (): Promise<Map<number, { epoch: number; owner: string }>> =>
  new Map((await sql<Array<{ partition: number; epoch: string; owner: string }>>`SELECT partition, epoch, owner FROM arena_partition_checkpoint`)
    .map((r) => [Number(r.partition), { epoch: Number(r.epoch), owner: r.owner }]))

const normalizeProfile = (p: ExpectedProfile) => ({
  user_id: p.user_id, username: p.username, total_xp: p.total_xp, level: p.level, streak: p.streak, time_zone: p.time_zone, visibility: p.visibility,
  achievements: p.achievements.map((a) => ({ id: a.id, bonus: a.bonus, target: a.target, progress: a.progress, unlocked: a.unlocked, unlocked_seq: a.unlocked_seq })),
  agent_stats: p.agent_stats,
  ranks: [...p.ranks].map((r) => ({ board: r.board, window: r.window, period: r.period, rank: r.rank, xp: r.xp }))
    .sort((a, b) => (a.board + a.window < b.board + b.window ? -1 : 1))
})

it("P = 8 on 3 nodes: kill -9 of a processor, a join, a SIGSTOP past the lease; after quiescence boards, ranks and users equal the oracle, each partition owned once with risen tokens", async () => {
  const a = await start("proc-a", "processor", 1)
  const b = await start("proc-b", "processor", 2)
  const gw = await start("gw", "gateway", 3)
  const items = makeWorkload({ events: 2400, users: 150, seed: 16, runId: id, nowMs: Date.now(), spanDays: 20 })
  const third = Math.floor(items.length / 3)

  // Both members own partitions and answer: the gateway reads every partition.
  const waitReady = async (what: string) => {
    const end = Date.now() + 60_000
    for (;;) {
      const r = await get<{ ready?: boolean }>(gw, "/readyz").catch(() => null)
      if (r?.status === 200) return
      if (Date.now() > end) throw new Error(`${what}: the gateway never saw every partition ready\n${a.log.slice(-2000)}\n${b.log.slice(-2000)}`)
      await sleep(200)
    }
  }
  await waitReady("start")
  expect(await publish(items.slice(0, third))).toBeGreaterThan(0)
  const before = await epochs()
  const ofA = [...before].filter(([, e]) => e.owner === "proc-a").map(([k]) => k)
  expect(ofA.length).toBeGreaterThan(0)

  // A hand-made subject that bypasses the mapping: user "mallory"'s payload on "bob"'s subject
  // (whatever partition that is). It must be dead-lettered subject_user_mismatch, not applied.
  const forged = await js.publish(`arena.xp.p.${partitionOfUser("bob", P)}.bob`, JSON.stringify({ event_id: `${id}-forged`, user_id: "mallory", agent_name: "cursor", action_type: "task_completed", timestamp: new Date().toISOString() }), { msgID: `${id}-forged` })

  // kill -9 A while events flow; C joins while they still flow.
  const flowing = publish(items.slice(third, 2 * third))
  await sleep(200)
  await kill9(a)
  await flowing
  const c = await start("proc-c", "processor", 1)
  const settle = Date.now() + 60_000
  while (![...(await epochs()).values()].some((e) => e.owner === "proc-c")) {
    if (Date.now() > settle) throw new Error(`C never took a partition:\n${c.log.slice(-3000)}`)
    await sleep(200)
  }

  // SIGSTOP B past its lease TTL while events flow, then resume it: its partitions were taken
  // over meanwhile (higher tokens), so whatever it still tries to commit is refused by the fence.
  const atStop = await epochs()
  const ofB = [...atStop].filter(([, e]) => e.owner === "proc-b").map(([k]) => k)
  process.kill(b.child.pid!, "SIGSTOP")
  const stoppedAt = Date.now()
  await publish(items.slice(2 * third))
  await sleep(Math.max(0, 7_000 - (Date.now() - stoppedAt)))
  process.kill(b.child.pid!, "SIGCONT")

  // `arena produce` in partitioned mode publishes to each user's ingest subject.
  const produced = await new Promise<{ code: number | null; out: string }>((resolve) => {
    const p = spawn(process.execPath, [path.join(ROOT, "bin/arena"), "produce", "--count", "300", "--users", "40", "--seed", "7"], {
      cwd: ROOT, env: { ...process.env, NATS_URL: cluster.url(2), ARENA_PARTITIONS: String(P), ARENA_STREAM: "ARENA_XP", ARENA_SUBJECT_PREFIX: "arena.xp" }, stdio: ["ignore", "pipe", "pipe"]
    })
    let out = ""
    p.stdout.on("data", (d: Buffer) => (out += d.toString()))
    p.stderr.on("data", (d: Buffer) => (out += d.toString()))
    p.on("close", (code) => resolve({ code, out }))
  })
  expect(produced.code, produced.out).toBe(0)
  expect(produced.out).toContain("arena.xp.events.<user token> (partitioned mode, P = 8)")

  // Quiescence: every partition answered by its owner and caught up with its subjects' last message.
  const stored = await readStream(js, jsm, "ARENA_XP")
  const lastOf = new Map<number, number>()
  for (let k = 0; k < P; k++) {
    const m = await jsm.streams.getMessage("ARENA_XP", { last_by_subj: partitionFilter(k) }).catch(() => null)
    lastOf.set(k, m?.seq ?? 0)
  }
  const end = Date.now() + 90_000
  for (;;) {
    const r = await get<{ partitions?: Array<{ partition: number; phase: string; applied: number }> }>(gw, "/v1/partitions").catch(() => null)
    const ok = r?.status === 200 && r.body.partitions!.every((s) => s.phase === "ready" && s.applied === lastOf.get(s.partition))
    if (ok) {
      const owners = await epochs()
      // Settled: the assignment covers the live members only, and every partition moved to its owner.
      if ([...owners.values()].every((e) => e.owner === "proc-b" || e.owner === "proc-c") && [...owners.values()].some((e) => e.owner === "proc-c") &&
        [...owners.values()].some((e) => e.owner === "proc-b") && ofB.every((k) => owners.get(k)!.epoch > atStop.get(k)!.epoch)) break
    }
    if (Date.now() > end) throw new Error(`no quiescence: ${JSON.stringify(r?.body)}\nB:\n${b.log.slice(-3000)}\nC:\n${c.log.slice(-3000)}`)
    await sleep(250)
  }

  // Every partition owned exactly once; A's partitions taken over with higher tokens.
  const after = await epochs()
  expect(after.size).toBe(P)
  for (let k = 0; k < P; k++) expect(await responders(k), `responders of partition ${k}`).toBe(1)
  for (const k of ofA) expect(after.get(k)!.epoch, `partition ${k}'s token after A's death`).toBeGreaterThan(before.get(k)!.epoch)
  for (const [k, e] of after) expect(["proc-b", "proc-c"], `owner of partition ${k}`).toContain(e.owner)
  for (const k of ofB) expect(after.get(k)!.epoch, `partition ${k}'s token after B's pause`).toBeGreaterThan(atStop.get(k)!.epoch)
  expect(ofB.length).toBeGreaterThan(0)
  // B woke up to leases it no longer held and stopped acting on them (no snapshot of its own).
  expect(b.log).toMatch(/lease lost/)

  // The oracle over the stored stream (every message went through the mapping to arena.xp.p.<k>.<token>).
  const oracle = new Oracle("arena.xp.corrections")
  for (const m of stored) {
    const k = Number(m.subject!.split(".")[3])
    expect(m.subject!.startsWith("arena.xp.p.")).toBe(true)
    if (m.seq === forged.seq) continue // the oracle knows no partitions: the forged record is checked below
    const user = (() => { try { return (JSON.parse(new TextDecoder().decode(m.data)) as { user_id?: string }).user_id } catch { return undefined } })()
    if (typeof user === "string") expect(partitionOfUser(user, P)).toBe(k)
    oracle.apply(m)
  }
  // The letter is published right after the slice that rejected the record: wait for it, not a time.
  const findLetter = async () => {
    for (let seq = 1; ; seq++) {
      const m = await jsm.streams.getMessage("ARENA_XP_DLQ", { seq }).catch(() => null)
      if (m === null) return null
      if (m.header?.get("Arena-Seq") === String(forged.seq)) return m
    }
  }
  let letter = await findLetter()
  for (const until = Date.now() + 30_000; letter === null && Date.now() < until;) {
    await sleep(200)
    letter = await findLetter()
  }
  expect(letter?.header?.get("Arena-Reason")).toBe("subject_user_mismatch")
  expect((await get(gw, "/v1/users/mallory")).status).toBe(404)
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
          await get(gw, `/v1/leaderboards/${encodeURIComponent(board)}?window=${window}&limit=40${cursor === null ? "" : `&cursor=${cursor}`}`)
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
    const r = await get<{ user: RankedRow; entries: Array<RankedRow> }>(gw, `/v1/leaderboards/global/users/${encodeURIComponent(row.user_id)}?radius=3`)
    expect(r.status).toBe(200)
    expect(r.body.user).toEqual(row)
    expect(r.body.entries).toEqual(global.slice(Math.max(0, row.rank - 4), row.rank + 3))
  }
  for (const uid of oracle.users.keys()) {
    const r = await get<ExpectedProfile>(gw, `/v1/users/${encodeURIComponent(uid)}`)
    expect(r.status, uid).toBe(200)
    expect(normalizeProfile(r.body), uid).toEqual(normalizeProfile(oracle.profile(uid)!))
  }
})
