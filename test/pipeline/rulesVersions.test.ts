// Rules versions (ARCHITECTURE §10) in the real service: a start with another rules file makes it
// a new version from the stream head + 1; the events before it keep the XP of the version they
// were scored with, also when a kill -9 makes them replay after the switch; GET /v1/rules shows
// the history; the same version string with other content is refused (fatal, /readyz says why).
import * as fs from "node:fs"
import * as path from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { DEFAULT_RULES_DOCUMENT } from "../../src/domain/DefaultRules.js"
import { openClickHouse } from "../../src/adapters/clickhouse/ClickHouseClient.js"
import { parseClickHouseTarget } from "../../src/adapters/clickhouse/ClickHouseTarget.js"
import { ArenaProcess, cleanup, db, freshNames, natsClient, publishAll, sleep } from "../support/arena.js"
import type { Nats } from "../support/arena.js"

const names = freshNames("rv")
let nats: Nats
const USERS = 10

/** The default rules with task_completed worth `points`, as a file in the test's data dir. */
const rulesFile = (version: string, points: number): string => {
  const file = path.join(names.dataDir, `rules-${version}-${points}.json`)
  fs.writeFileSync(file, JSON.stringify({ ...DEFAULT_RULES_DOCUMENT, version, actions: { ...DEFAULT_RULES_DOCUMENT.actions, task_completed: { points } } }, null, 2))
  return file
}

// task_completed on one day: no streak tier, no multiplier, only first_steps (bonus 0): xp = points.
let next = 0
const publishRound = async (perUser: number): Promise<number> => {
  const now = new Date().toISOString()
  const events = []
  for (let i = 0; i < perUser * USERS; i++) {
    next++
    events.push({ event_id: `rv-${names.id}-${next}`, user_id: `u${i % USERS}`, agent_name: "coder", action_type: "task_completed", timestamp: now })
  }
  const acks = await publishAll(nats.js, names.subject, events)
  return Math.max(...acks.map((a) => a.seq))
}

/** Every user's all-time global XP as the service shows it. */
const board = async (arena: ArenaProcess): Promise<Record<string, number>> => {
  const r = await fetch(`${arena.baseUrl}/v1/leaderboards/global?window=all&limit=100`)
  expect(r.status).toBe(200)
  const body = await r.json() as { entries: Array<{ user_id: string; xp: number }> }
  return Object.fromEntries(body.entries.map((e) => [e.user_id, e.xp]))
}
const everyone = (xp: number) => Object.fromEntries(Array.from({ length: USERS }, (_, i) => [`u${i}`, xp]))

const serve = async (rules: string, snapshotInterval = "1h"): Promise<ArenaProcess> => {
  const a = new ArenaProcess(names, { ARENA_RULES: rules, ARENA_SNAPSHOT_INTERVAL: snapshotInterval })
  await a.start()
  return a
}

beforeAll(async () => { nats = await natsClient() })
afterAll(async () => {
  await nats?.nc.close()
  await cleanup(names)
})

describe("rules versions", () => {
  it("scores events before a switch by the old version forever, across kill -9 replays; refuses a reused version string", async () => {
    const fileA = rulesFile("rv-a", 10)
    const fileB = rulesFile("rv-b", 50)

    // Rules A: 50 events, a graceful stop (checkpoint at 50), 50 more, kill -9 (checkpoint stays at 50).
    let arena = await serve(fileA)
    await arena.waitForSeq(0)
    expect(arena.log).toContain("rules rv-a")
    expect(arena.log).toContain("recorded as the first rules version")
    await arena.waitForSeq(await publishRound(5))
    expect(await arena.stop()).toBe(0)
    arena = await serve(fileA)
    const headA = await publishRound(5)
    await arena.waitForSeq(headA)
    expect(await board(arena)).toEqual(everyone(100))
    expect(arena.log).toContain("rules rv-a (sha256")
    expect(arena.log).toContain("in force since seq 1")
    await arena.kill()

    // Rules B: in force from the head + 1; the tail 51..100 replays under A (first scored with it).
    arena = await serve(fileB)
    await arena.waitForSeq(headA)
    expect(arena.log).toContain(`rules changed: rv-b`)
    expect(arena.log).toContain(`is in force from seq ${headA + 1} (stream head ${headA} at this start)`)
    expect(await board(arena)).toEqual(everyone(100))
    const rules = await (await fetch(`${arena.baseUrl}/v1/rules`)).json() as {
      version: string; effective_from_seq: number; in_force: boolean; content_hash: string; actions: Record<string, unknown>
      history: Array<{ version: string; effective_from_seq: number; content_hash: string }>
    }
    expect(rules).toMatchObject({ version: "rv-b", effective_from_seq: headA + 1, in_force: true, actions: { task_completed: { points: 50 } } })
    expect(rules.content_hash).toMatch(/^[0-9a-f]{64}$/)
    expect(rules.history.map((h) => [h.version, h.effective_from_seq])).toEqual([["rv-a", 1], ["rv-b", headA + 1]])
    const headB = await publishRound(5)
    await arena.waitForSeq(headB)
    expect(await board(arena)).toEqual(everyone(100 + 5 * 50))

    // kill -9 again and restart with B: 51..150 replay, 51..100 under A and 101..150 under B.
    await arena.kill()
    arena = await serve(fileB)
    await arena.waitForSeq(headB)
    expect(arena.log).toContain(`rules rv-b (sha256`)
    expect(arena.log).toContain(`in force since seq ${headA + 1}`)
    expect(await board(arena)).toEqual(everyone(350))
    expect(await arena.stop()).toBe(0)

    // The ledger names each award's version, once per event, with that version's XP.
    const ch = openClickHouse(parseClickHouseTarget({ dataDir: names.dataDir }))
    try {
      const rows = await (await ch.client.query({
        query: "SELECT rules_version, count() AS n, uniqExact(seq) AS seqs, min(seq) AS lo, max(seq) AS hi, min(xp) AS xmin, max(xp) AS xmax FROM awards GROUP BY rules_version ORDER BY lo",
        format: "JSONEachRow"
      })).json<Record<string, string | number>>()
      expect(rows.map((r) => [r.rules_version, Number(r.n), Number(r.seqs), Number(r.lo), Number(r.hi), Number(r.xmin), Number(r.xmax)])).toEqual([
        ["rv-a", headA, headA, 1, headA, 10, 10],
        ["rv-b", headB - headA, headB - headA, headA + 1, headB, 50, 50]
      ])
    } finally { await ch.close() }

    // The same version string with other content: refused, fatal, said by /readyz; nothing recorded.
    arena = await serve(rulesFile("rv-a", 11))
    let ready = await arena.readyz()
    for (let i = 0; i < 300 && !(ready.body as { fatal?: boolean }).fatal; i++) { await sleep(100); ready = await arena.readyz() }
    expect(ready.status).toBe(503)
    expect(ready.body).toMatchObject({ ready: false, fatal: true })
    expect(ready.body.reasons.join(" ")).toContain("rules version \"rv-a\" is already recorded with other content")
    const refused = await (await fetch(`${arena.baseUrl}/v1/rules`)).json() as { in_force: boolean; refused: string; history: Array<{ version: string }> }
    expect(refused.in_force).toBe(false)
    expect(refused.refused).toContain("is already recorded with other content")
    expect(refused.history.map((h) => h.version)).toEqual(["rv-a", "rv-b"])
    expect(arena.log).toContain("FATAL")
    await arena.stop()
    const sql = db(names)
    try {
      const stored = await sql<{ version: string; effective_from_seq: string }[]>`SELECT version, effective_from_seq FROM arena_rules_history ORDER BY id`
      expect(stored.map((r) => [r.version, Number(r.effective_from_seq)])).toEqual([["rv-a", 1], ["rv-b", headA + 1]])
      const versions = await sql<{ version: string; body: string }[]>`SELECT version, body FROM arena_rules_version ORDER BY version`
      expect(versions.map((v) => [v.version, JSON.parse(v.body).actions.task_completed.points])).toEqual([["rv-a", 10], ["rv-b", 50]])
    } finally { await sql.end() }
  })
})
