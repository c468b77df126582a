// Crash oracle soak (ARCHITECTURE §2.1–2.4, 2.6): a seeded workload (duplicates, out-of-order
// days, every action/multiplier/achievement, bad events) flows while a chaos loop kill -9s the
// service — and sometimes only its embedded ClickHouse child — at random moments. At the end the
// REST API, live WebSocket folds, ClickHouse and the DLQ all equal the independent oracle
// (test/oracle) computed from the stream as stored. Halfway through, corrections (ARCHITECTURE
// §10: voids with the awards' facts as the oracle computed them, repeated voids, adjusts up and
// down, a re-sent correction_id) go onto the corrections subject amid the kills.
// Long form: bench/soak.mjs (SOAK_* env).
import { afterAll, beforeAll, expect, it } from "vitest"
import { ArenaProcess, cleanup, db, freshNames, natsClient, sleep } from "../support/arena.js"
import type { Nats, Names } from "../support/arena.js"
import { Oracle } from "../oracle/Oracle.js"
import { readStream } from "../oracle/stream.js"
import { AGENTS, makeWorkload, prng } from "../oracle/workload.js"
import { SourceIps, request } from "./lib/http.js"
import { childPids, killOrphans } from "../support/procs.js"
import { publishItems } from "./lib/publish.js"
import type { PublishStats } from "./lib/publish.js"
import { checkClickHouse, checkDlq, checkRest } from "./lib/verify.js"
import { BoardWatch } from "./lib/watch.js"

const EVENTS = Number(process.env["SOAK_EVENTS"] ?? 20_000)
const USERS = Number(process.env["SOAK_USERS"] ?? Math.round(EVENTS / 70))
const KILLS = Number(process.env["SOAK_KILLS"] ?? 8)
const PUBLISH_SECONDS = Number(process.env["SOAK_PUBLISH_SECONDS"] ?? 20)
const SEED = Number(process.env["SOAK_SEED"] ?? 20261126)
const TIME_LIMIT_MS = Number(process.env["SOAK_TIME_LIMIT_MS"] ?? 420_000)

const names: Names = freshNames("soak")
const arena = new ArenaProcess(names, { ARENA_SNAPSHOT_INTERVAL: "300ms" })
let nats: Nats

beforeAll(async () => {
  nats = await natsClient()
  await arena.start() // provisions the stream and the database
  await arena.waitForSeq(0)
})
afterAll(async () => {
  await arena.kill()
  killOrphans(names.dataDir)
  await nats?.nc.close()
  await cleanup(names)
})

/**
 * Corrections for the stream so far: voids of random awards (the facts from an oracle over the
 * stored stream; every 6th repeats an earlier void under a new id), adjusts of random users (half
 * through an agent), and one correction_id sent twice.
 */
const publishCorrections = async (n: number): Promise<number> => {
  const subject = `${names.prefix}.corrections`
  const stored = await readStream(nats.js, nats.jsm, names.stream)
  const o = new Oracle(subject)
  const times = new Map<number, string>()
  for (const m of stored) {
    o.apply(m)
    try { times.set(m.seq, String((JSON.parse(new TextDecoder().decode(m.data)) as { timestamp?: unknown }).timestamp)) } catch { /* a bad event */ }
  }
  const rnd = prng(SEED ^ 0xc0de)
  const users = [...o.users.keys()].sort()
  const voided: Array<(typeof o.ledger)[number]> = []
  let sent = 0
  const send = async (body: Record<string, unknown>) => {
    await nats.js.publish(subject, JSON.stringify(body), { msgID: String(body["correction_id"]) })
    sent++
  }
  for (let i = 0; i < n; i++) {
    if (i % 2 === 0) {
      const e = i % 12 === 6 && voided.length > 0 ? voided[Math.floor(rnd() * voided.length)]! : o.ledger[Math.floor(rnd() * o.ledger.length)]!
      voided.push(e)
      await send({ correction_id: `${names.id}-void-${i}`, kind: "void", event_id: e.event_id, reason: "soak", by: "soak",
        event: { seq: e.seq, user_id: e.user_id, agent_name: e.agent_name, xp: e.total_awarded, event_time: times.get(e.seq)! } })
    } else {
      const xp = (rnd() < 0.5 ? -1 : 1) * (1 + Math.floor(rnd() * 400))
      const body = { correction_id: `${names.id}-adj-${i}`, kind: "adjust", user_id: users[Math.floor(rnd() * users.length)]!, xp, reason: "soak", ...(rnd() < 0.5 ? { agent_name: AGENTS[Math.floor(rnd() * AGENTS.length)]! } : {}) }
      await send(body)
      if (i === 1) await send(body) // the same correction_id again: JetStream drops it
    }
  }
  return sent
}

/** Until `done()` and at least KILLS kills: start, let it run a random while, kill -9 it (or its ClickHouse first). */
const chaos = async (done: () => boolean, deadline: number, log: Array<string>): Promise<{ kills: number; chdbKills: number }> => {
  const rnd = prng(SEED ^ 0x5eed)
  let kills = 0, chdbKills = 0
  while ((!done() || kills < KILLS) && kills < KILLS * 4 && Date.now() < deadline) {
    await arena.start()
    const r = rnd()
    if (r < 0.25) {
      await sleep(Math.floor(rnd() * 400)) // while loading the snapshot or replaying
    } else if (r < 0.45) {
      await sleep(300 + Math.floor(rnd() * 1200))
      const pid = arena.child?.pid
      for (const c of pid === undefined ? [] : childPids(pid, "chdbChild")) {
        process.kill(c, "SIGKILL")
        chdbKills++
      }
      await sleep(300 + Math.floor(rnd() * 1500)) // the sink retries on a new engine process
    } else {
      await sleep(300 + Math.floor(rnd() * 2500))
    }
    await arena.kill()
    kills++
    log.push(`kill ${kills} (${r < 0.25 ? "early" : r < 0.45 ? "chdb first" : "running"})`)
  }
  return { kills, chdbKills }
}

it(`equals the oracle after ${EVENTS} events under kill -9 chaos: REST, WebSocket folds, ClickHouse, DLQ`, async () => {
  const t0 = Date.now()
  const items = makeWorkload({ events: EVENTS, users: USERS, seed: SEED, runId: names.id, nowMs: Date.now() })
  const split = Math.floor(items.length * 0.95)
  const main = items.slice(0, split), tail = items.slice(split)
  const stats: PublishStats = { stored: 0, duplicates: 0, retries: 0, lastSeq: 0 }
  let published = false
  const chunk = 250
  const pace = Math.max(0, Math.floor((PUBLISH_SECONDS * 1000) / Math.ceil(main.length / chunk)) - 10)
  let corrections = 0
  const publisher = (async () => {
    for (let i = 0; i < main.length; i += chunk) {
      await publishItems(nats.js, names.subject, main.slice(i, i + chunk), { stats })
      if (corrections === 0 && i >= main.length / 2) corrections = await publishCorrections(60)
      await sleep(pace)
    }
    published = true
  })()
  await arena.kill()
  const log: Array<string> = []
  const { kills, chdbKills } = await chaos(() => published, t0 + TIME_LIMIT_MS * 0.6, log)
  await publisher

  // Final run: watchers subscribe while it replays, then the tail flows through live.
  await arena.start()
  const ips = new SourceIps(100)
  const cur = { day: "", week: "", month: "" }
  const subs = [
    { board: "global", window: "all", limit: 10 }, { board: "global", window: "all", limit: 100 }, { board: "global", window: "day", limit: 50 },
    { board: "global", window: "week", limit: 25 }, { board: "global", window: "month", limit: 100 }, { board: `agent:${AGENTS[0]}`, window: "all", limit: 20 },
    { board: `agent:${AGENTS[1]}`, window: "week", limit: 10 }
  ]
  const watchers = await Promise.all(subs.map((s) => BoardWatch.open(arena.baseUrl, s, ips.next())))
  await publishItems(nats.js, names.subject, tail, { stats })
  const head = (await nats.jsm.streams.info(names.stream)).state.last_seq
  await arena.waitForSeq(head)

  const oracle = new Oracle(`${names.prefix}.corrections`)
  for (const m of await readStream(nats.js, nats.jsm, names.stream)) oracle.apply(m)
  Object.assign(cur, oracle.currentPeriods())
  expect(oracle.lastSeq).toBe(head)
  // The workload covers what it claims to (else this soak proves less than it says).
  const unlocked = new Set([...oracle.users.values()].flatMap((u) => [...u.unlocked.keys()]))
  expect([...unlocked].sort()).toEqual(["api_master", "first_steps", "mission_complete", "on_fire", "scale_engineer", "security_guardian", "speed_daemon", "unstoppable"])
  expect(new Set(oracle.rejections.values()).size).toBe(9) // the 8 reasons of bad events, and already_voided
  expect(corrections).toBe(61) // 30 voids (5 of them repeats) and 30 adjusts, one sent twice under the same correction_id
  expect(oracle.corrections.length).toBeGreaterThanOrEqual(50) // at most 55 apply: the repeats are refused
  expect(oracle.corrections.some((c) => c.correction === "void") && oracle.corrections.some((c) => c.xp < 0 && c.correction === "adjust")).toBe(true)
  expect(stats.duplicates).toBeGreaterThan(0)
  expect(oracle.ledger.some((e) => e.applied_multiplier.num === 3n && e.applied_multiplier.den === 1n && e.total_multiplier.num > 3n * e.total_multiplier.den)).toBe(true)

  const rest = await checkRest(arena.baseUrl, oracle, ips)
  expect(rest.problems).toEqual([])
  for (const w of watchers) {
    const period = (cur as Record<string, string>)[w.sub.window] ?? "all"
    const expected = oracle.ranked(w.sub.board, w.sub.window, period).slice(0, w.sub.limit)
    const s = await w.settle(expected) // fold() throws on any gap or epoch change without a snapshot
    expect({ sub: w.sub, entries: s.entries }).toEqual({ sub: w.sub, entries: expected })
    w.close()
  }
  expect((await request(arena.baseUrl, "GET", "/readyz")).status).toBe(200)
  expect(await arena.stop()).toBe(0)

  const sql = db(names)
  const [cp] = await sql<{ seq: string }[]>`SELECT seq FROM arena_checkpoint`
  await sql.end()
  expect(Number(cp?.seq)).toBe(head)
  const ch = await checkClickHouse(names.dataDir, oracle)
  expect(ch.problems).toEqual([])
  expect(await checkDlq(nats.js, nats.jsm, names.dlqStream, oracle)).toEqual([])
  expect(kills).toBeGreaterThanOrEqual(KILLS)
  console.log(`soak: ${items.length} published (${stats.stored} stored, ${stats.duplicates} deduplicated by JetStream, ${stats.retries} retries), ` +
    `${oracle.ledger.length} applied, ${oracle.rejections.size} dead-lettered, ${oracle.users.size} users; ${kills} kill -9 of the service, ` +
    `${chdbKills} of its ClickHouse child; compared ${rest.profiles} profiles, ${rest.boardEntries} board rows over ${oracle.boards.size} boards, ` +
    `${watchers.length} WebSocket folds, ${ch.awards} ClickHouse awards, ${oracle.corrections.length} corrections; seed ${SEED}; ${Math.round((Date.now() - t0) / 1000)} s\n  ${log.join(", ")}`)
}, TIME_LIMIT_MS + 120_000)
