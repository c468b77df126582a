// Crash oracle soak (ARCHITECTURE §2.1–2.4, 2.6): a seeded workload (duplicates, out-of-order
// days, every action/multiplier/achievement, bad events) flows while a chaos loop kill -9s the
// service — and sometimes only its embedded ClickHouse child — at random moments. At the end the
// REST API, live WebSocket folds, ClickHouse and the DLQ all equal the independent oracle
// (test/oracle) computed from the stream as stored. Halfway through, corrections (ARCHITECTURE
// §10: voids with the awards' facts as the oracle computed them, repeated voids, adjusts up and
// down, a re-sent correction_id) go onto the corrections subject amid the kills. At 30% and 70%,
// erasures (§11: DELETE /v1/users/{id}, whenever the service is up) of users who come back later,
// of one never seen, and (after the corrections) of users with a void, a refused repeat and an
// adjust. The oracle folds the stream as a tap read it before anything was erased (erasure
// messages included); the stream as stored at the end must lack exactly the seqs the oracle's
// erasures took out, and an oracle over it (a replay) must equal the oracle over the tap.
// Long form: bench/soak.mjs (SOAK_* env).
import { afterAll, beforeAll, expect, it } from "vitest"
import { mintToken } from "../../src/gateway/auth/Auth.js"
import { ArenaProcess, JWT_SECRET, cleanup, db, freshNames, natsClient, sleep } from "../support/arena.js"
import type { Nats, Names } from "../support/arena.js"
import { Oracle } from "../oracle/Oracle.js"
import { namedUser } from "../oracle/erasure.js"
import { modelOf } from "../oracle/replay.js"
import { readStream } from "../oracle/stream.js"
import { AGENTS, makeWorkload, prng, userId } from "../oracle/workload.js"
import { SourceIps, request } from "./lib/http.js"
import type { Reply } from "./lib/http.js"
import { childPids, killOrphans } from "../support/procs.js"
import { publishItems } from "./lib/publish.js"
import type { PublishStats } from "./lib/publish.js"
import { checkClickHouse, checkDlq, checkRest } from "./lib/verify.js"
import { StreamTap } from "./lib/tap.js"
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
let tap: StreamTap
let ADMIN = ""

beforeAll(async () => {
  nats = await natsClient()
  await arena.start() // provisions the stream and the database
  await arena.waitForSeq(0)
  tap = await StreamTap.open(nats.js, names.stream)
  ADMIN = await mintToken({ sub: "soak-admin", scope: "admin", ttlSeconds: 86_400 }, JWT_SECRET)
})
afterAll(async () => {
  await tap?.close()
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
  await tap.reach((await nats.jsm.streams.info(names.stream)).state.last_seq)
  const o = new Oracle(subject)
  const times = new Map<number, string>()
  for (const m of tap.messages) {
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

/** What happened when, printed with the summary (and on a timeout, as far as it got). */
const progress: Array<string> = []
const t0 = Date.now()
/** Erasures asked for, in order: [user, erasure id]. */
const erasures: Array<[string, string]> = []

/** Retries `f` while the chaos loop has the service down or loading (no answer, 503, 429). */
const whileUp = async <T>(what: string, f: () => Promise<Reply<T>>, done: (r: Reply<T>) => boolean): Promise<Reply<T>> => {
  for (let i = 0; ; i++) {
    const r = await f().catch(() => null)
    if (r !== null && done(r)) return r
    if (r !== null && r.status !== 503 && r.status !== 429 && r.status !== 200) throw new Error(`${what}: ${r.status} ${r.text}`)
    if (i > 20_000) throw new Error(`${what}: no answer (${r?.status} ${r?.text})`)
    await sleep(50)
  }
}

/**
 * Asks for each user's erasure through DELETE /v1/users/{id} while events keep flowing: the
 * service runs erasures one at a time, so each message goes into the stream when its turn comes,
 * amid the events (the user's events before it go, those after it make a new user).
 */
const erase = async (users: ReadonlyArray<string>): Promise<void> => {
  for (const user of users) {
    const r = await whileUp(`DELETE /v1/users/${user}`, () => request<{ erasure_id: string }>(arena.baseUrl, "DELETE", `/v1/users/${encodeURIComponent(user)}`, { token: ADMIN, timeoutMs: 5_000 }), (x) => x.status === 202)
    erasures.push([user, r.json.erasure_id])
    progress.push(`erasure of ${user} asked (${Math.round((Date.now() - t0) / 1000)} s)`)
  }
}

/** Waits until the erasure is done (the service up through the chaos loop, or the final run). */
const erased = async (id: string): Promise<void> => {
  await whileUp(`GET /v1/erasures/${id}`, () => request<{ status: string }>(arena.baseUrl, "GET", `/v1/erasures/${id}`, { token: ADMIN, timeoutMs: 5_000 }), (x) => x.status === 200 && x.json.status === "done")
}

/** The users the second round erases: one with a refused repeat of a void, one with an adjust (never the two heaviest). */
const correctedUsers = (before: ReadonlySet<string>): Array<string> => {
  const o = new Oracle(`${names.prefix}.corrections`)
  for (const m of tap.messages) o.apply(m)
  const spared = new Set([userId(0), userId(1), ...before])
  const refused = [...o.rejections].filter(([, why]) => why === "already_voided")
    .map(([seq]) => namedUser(tap.messages.find((m) => m.seq === seq)!.data)!).filter((u) => !spared.has(u) && o.users.has(u))
  const adjusted = o.corrections.filter((c) => c.correction === "adjust" && !spared.has(c.user_id) && !refused.includes(c.user_id)).map((c) => c.user_id)
  return [...refused.slice(0, 1), ...adjusted.slice(0, 1)]
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
  const stall = setInterval(() => console.log(`soak progress at ${Math.round((Date.now() - t0) / 1000)} s: ${progress.join(", ")}`), 60_000)
  const items = makeWorkload({ events: EVENTS, users: USERS, seed: SEED, runId: names.id, nowMs: Date.now() })
  const split = Math.floor(items.length * 0.95)
  const main = items.slice(0, split), tail = items.slice(split)
  const stats: PublishStats = { stored: 0, duplicates: 0, retries: 0, lastSeq: 0 }
  let published = false
  const chunk = 250
  const pace = Math.max(0, Math.floor((PUBLISH_SECONDS * 1000) / Math.ceil(main.length / chunk)) - 10)
  let corrections = 0
  let round = 0
  let secondRound: Array<string> = []
  const publisher = (async () => {
    for (let i = 0; i < main.length; i += chunk) {
      await publishItems(nats.js, names.subject, main.slice(i, i + chunk), { stats })
      if (round === 0 && i >= main.length * 0.3) {
        round = 1 // users who come back later (u3's id has characters that need care), and one never seen
        await erase([userId(3), userId(9), userId(30), `${names.id}-never-seen`])
      }
      if (corrections === 0 && i >= main.length / 2) {
        corrections = await publishCorrections(60)
        progress.push(`corrections (${Math.round((Date.now() - t0) / 1000)} s)`)
      }
      if (round === 1 && i >= main.length * 0.7) {
        round = 2
        // userId(3) again: a new user by now, erased once the first erasure is done (one runs per user at a time).
        secondRound = correctedUsers(new Set(erasures.map(([u]) => u)))
        await erased(erasures[0]![1])
        await erase([...secondRound, userId(3)])
      }
      await sleep(pace)
    }
    published = true
    progress.push(`published (${Math.round((Date.now() - t0) / 1000)} s)`)
  })()
  await arena.kill()
  const log: Array<string> = []
  const { kills, chdbKills } = await chaos(() => published, Date.now() + TIME_LIMIT_MS * 0.6, log)
  // Final run: watchers subscribe while it replays, then the tail flows through live. (It starts
  // before the publisher is awaited: a publisher still waiting for an erasure needs the service.)
  await arena.start()
  await publisher
  const ips = new SourceIps(100)
  const cur = { day: "", week: "", month: "" }
  const subs = [
    { board: "global", window: "all", limit: 10 }, { board: "global", window: "all", limit: 100 }, { board: "global", window: "day", limit: 50 },
    { board: "global", window: "week", limit: 25 }, { board: "global", window: "month", limit: 100 }, { board: `agent:${AGENTS[0]}`, window: "all", limit: 20 },
    { board: `agent:${AGENTS[1]}`, window: "week", limit: 10 }
  ]
  const watchers = await Promise.all(subs.map((s) => BoardWatch.open(arena.baseUrl, s, ips.next())))
  await publishItems(nats.js, names.subject, tail, { stats })
  await arena.waitForSeq((await nats.jsm.streams.info(names.stream)).state.last_seq)
  progress.push(`chaos over (${kills} kills), published and applied (${Math.round((Date.now() - t0) / 1000)} s)`)
  for (const [, id] of erasures) await erased(id)
  // The last erasure messages may have come after the tail: the head is the stream's last seq now.
  const head = (await nats.jsm.streams.info(names.stream)).state.last_seq
  await arena.waitForSeq(head)

  progress.push(`erasures done (${Math.round((Date.now() - t0) / 1000)} s)`)
  clearInterval(stall)
  // The oracle folds the stream as the tap read it (every message, erasure messages included).
  await tap.reach(head)
  expect(tap.missing(head)).toEqual([])
  const oracle = new Oracle(`${names.prefix}.corrections`)
  for (const m of tap.messages) oracle.apply(m)
  Object.assign(cur, oracle.currentPeriods())
  expect(oracle.lastSeq).toBe(head)
  // The stream as stored now lacks exactly what the erasures took out, and a replay of it is the same model.
  const stored = await readStream(nats.js, nats.jsm, names.stream)
  expect(stored.map((m) => m.seq)).toEqual(tap.messages.map((m) => m.seq).filter((seq) => !oracle.erasedSeqs.has(seq)))
  const replay = new Oracle(`${names.prefix}.corrections`)
  for (const m of stored) replay.apply(m)
  expect(replay.erasures).toEqual([]) // the erasure messages went too
  expect(modelOf(replay)).toEqual(modelOf(oracle))
  expect(oracle.erasures.map((e) => [e.user_id, e.held])).toEqual(erasures.map(([user]) => [user, !user.endsWith("-never-seen")]))
  expect(secondRound.length).toBe(2) // a user with a refused void and one with an adjust were among them
  const gone = oracle.erasures.map((e) => e.user_id).filter((u) => !oracle.users.has(u))
  expect(oracle.erasures.map((e) => e.user_id).filter((u) => oracle.users.has(u)).length).toBeGreaterThan(0) // some came back as new users
  // The workload covers what it claims to (else this soak proves less than it says).
  const unlocked = new Set([...oracle.users.values()].flatMap((u) => [...u.unlocked.keys()]))
  expect([...unlocked].sort()).toEqual(["api_master", "first_steps", "mission_complete", "on_fire", "scale_engineer", "security_guardian", "speed_daemon", "unstoppable"])
  expect(new Set(oracle.rejections.values()).size).toBe(9) // the 8 reasons of bad events, and already_voided
  expect(corrections).toBe(61) // 30 voids (5 of them repeats) and 30 adjusts, one sent twice under the same correction_id
  // At most 55 apply (the repeats are refused); the second round of erasures takes a few of them out.
  const subjectOf = new Map(tap.messages.map((m) => [m.seq, m.subject]))
  expect(oracle.corrections.length + [...oracle.erasedSeqs].filter((seq) => subjectOf.get(seq) === `${names.prefix}.corrections`).length).toBeGreaterThanOrEqual(50)
  expect(oracle.corrections.some((c) => c.correction === "void") && oracle.corrections.some((c) => c.xp < 0 && c.correction === "adjust")).toBe(true)
  expect(stats.duplicates).toBeGreaterThan(0)
  expect(oracle.ledger.some((e) => e.applied_multiplier.num === 3n && e.applied_multiplier.den === 1n && e.total_multiplier.num > 3n * e.total_multiplier.den)).toBe(true)

  const rest = await checkRest(arena.baseUrl, oracle, ips)
  expect(rest.problems).toEqual([])
  for (const u of gone) expect([u, (await request(arena.baseUrl, "GET", `/v1/users/${encodeURIComponent(u)}`, { from: ips.next() })).status]).toEqual([u, 404])
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
    `${watchers.length} WebSocket folds, ${ch.awards} ClickHouse awards, ${oracle.corrections.length} corrections, ${oracle.erasures.length} erasures ` +
    `(${oracle.erasedSeqs.size} messages erased); seed ${SEED}; ${Math.round((Date.now() - t0) / 1000)} s\n  ${log.join(", ")}`)
}, TIME_LIMIT_MS + 120_000)
