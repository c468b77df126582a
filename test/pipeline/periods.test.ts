// Late events and period closing (ARCHITECTURE §3): an older event counts in its own period's
// board while that period is open; once stream time passes end + grace the period closes, later
// events no longer count there (but still count all-time), and the closed board is archived to
// Postgres and stays queryable — across a restart. The grace comes from a rules file (ARENA_RULES)
// so that yesterday's day board closes a few seconds into the test. Then a crash during the close:
// a second service replays the same stream into its own database, closes the period in memory and
// is killed -9 before any snapshot holds the archive (checked in Postgres); its next life archives
// the period exactly once, with the same rows.
import { afterAll, beforeAll, expect, it } from "vitest"
import * as fs from "node:fs"
import * as path from "node:path"
import { DEFAULT_RULES_DOCUMENT } from "../../src/domain/DefaultRules.js"
import { ArenaProcess, cleanup, db, freshNames, natsClient, publishAll, sleep } from "../support/arena.js"
import type { Names, Nats } from "../support/arena.js"

const names = freshNames("per")
const DAY = 86_400_000
const todayStart = Math.floor(Date.now() / DAY) * DAY
const yesterday = new Date(todayStart - DAY).toISOString().slice(0, 10)
// Yesterday's board closes 30 s after this file loads: the service must start and apply the first
// events before that (a loaded machine took up to ~20 s to start it), so the margin is checked below.
const graceSeconds = Math.ceil((Date.now() - todayStart) / 1000) + 30
const closesAt = todayStart + graceSeconds * 1000
const rulesFile = path.join(names.dataDir, "rules.json")
let nats: Nats
let arena: ArenaProcess

const ev = (id: string, user: string, action: string, ts: string) =>
  ({ event_id: id, user_id: user, agent_name: "aider", action_type: action, timestamp: ts })
const board = async (period: string, baseUrl = arena.baseUrl) => {
  const r = await fetch(`${baseUrl}/v1/leaderboards/global?window=day&period=${period}&limit=10`)
  expect(r.status).toBe(200)
  return ((await r.json()) as { entries: Array<{ user_id: string; xp: number; rank: number }> }).entries.map((e) => [e.rank, e.user_id, e.xp])
}


beforeAll(async () => {
  fs.writeFileSync(rulesFile, JSON.stringify({ ...DEFAULT_RULES_DOCUMENT, version: "test-grace", period_grace_seconds: graceSeconds }))
  nats = await natsClient()
  arena = new ArenaProcess(names, { ARENA_RULES: rulesFile })
  await arena.start()
  await arena.waitForSeq(0)
})
afterAll(async () => {
  await arena.stop()
  await nats.nc.close()
  await cleanup(names)
})

it("counts late events while their period is open, archives the period when it closes, and keeps it queryable", async () => {
  const noon = `${yesterday}T12:00:00Z`
  let acks = await publishAll(nats.js, names.subject, [ev("y1", "ann", "task_completed", noon), ev("y2", "bob", "error_resolved", noon)])
  await arena.waitForSeq(acks[1]!.seq)
  // The precondition of what follows: yesterday was still open when its events were applied.
  expect(Date.now(), `the service needed until ${new Date().toISOString()} to apply the first events; yesterday's board closed at ${new Date(closesAt).toISOString()}`).toBeLessThan(closesAt)
  // /readyz seq is the visible seq: the board already holds both events.
  expect(await board(yesterday)).toEqual([[1, "bob", 20], [2, "ann", 10]])

  while (Date.now() < closesAt + 1000) await sleep(200)
  // A current event moves stream time past the close; a later event for yesterday no longer counts there.
  acks = await publishAll(nats.js, names.subject, [ev("t1", "cat", "task_completed", new Date().toISOString()), ev("y3", "dan", "mission_security", noon)])
  const last = acks[1]!.seq
  await arena.waitForSeq(last)
  for (let i = 0; i < 100; i++) {
    const r = await arena.readyz()
    if ((r.body.details.snapshot_seq ?? 0) >= last) break
    await sleep(100)
  }
  const sql = db(names)
  const closed = await sql<{ entries: number }[]>`SELECT entries FROM arena_period_closed WHERE board = 'global' AND win = 'day' AND period = ${yesterday}`
  await sql.end()
  expect(closed[0]?.entries).toBe(2)
  expect(await board(yesterday)).toEqual([[1, "bob", 20], [2, "ann", 10]])
  const dan = await (await fetch(`${arena.baseUrl}/v1/users/dan`)).json() as { total_xp: number }
  expect(dan.total_xp).toBe(125)

  await arena.stop()
  await arena.start()
  await arena.waitForSeq(last)
  expect(await board(yesterday)).toEqual([[1, "bob", 20], [2, "ann", 10]])
})

it("archives a period exactly once when the service is killed after closing it and before the snapshot", async () => {
  const info = await nats.jsm.streams.info(names.stream)
  const last = info.state.last_seq
  // Same stream, its own database; no periodic snapshot in the first life.
  const crashed: Names = { ...freshNames("perb"), stream: names.stream, prefix: names.prefix, subject: names.subject, dlqStream: names.dlqStream }
  const sql = db(crashed)
  try {
    const first = new ArenaProcess(crashed, { ARENA_RULES: rulesFile, ARENA_SNAPSHOT_INTERVAL: "1h" })
    await first.start()
    await first.waitForSeq(last) // replayed: t1's stream time closed yesterday's board in memory
    expect(await board(yesterday, first.baseUrl)).toEqual([[1, "bob", 20], [2, "ann", 10]])
    await first.kill()
    const archived = async () => (await sql<{ n: string }[]>`SELECT count(*) AS n FROM arena_period_archive WHERE win = 'day' AND period = ${yesterday}`)[0]!.n
    const checkpoint = async () => (await sql<{ seq: string }[]>`SELECT seq FROM arena_checkpoint`).map((r) => Number(r.seq))
    // The kill landed after the close and before its commit: nothing of it is in Postgres.
    expect([await checkpoint(), await archived()]).toEqual([[], "0"])

    const second = new ArenaProcess(crashed, { ARENA_RULES: rulesFile })
    await second.start()
    await second.waitForSeq(last)
    for (let i = 0; i < 300 && ((await second.readyz()).body.details.snapshot_seq ?? 0) < last; i++) await sleep(100)
    expect(await checkpoint()).toEqual([last])
    const closed = await sql<{ entries: number }[]>`SELECT entries FROM arena_period_closed WHERE board = 'global' AND win = 'day' AND period = ${yesterday}`
    expect(closed.map((r) => r.entries)).toEqual([2])
    const rows = await sql<{ rank: number; user_id: string; xp: string }[]>`SELECT rank, user_id, xp FROM arena_period_archive WHERE board = 'global' AND win = 'day' AND period = ${yesterday} ORDER BY rank`
    expect(rows.map((r) => [r.rank, r.user_id, Number(r.xp)])).toEqual([[1, "bob", 20], [2, "ann", 10]])
    expect(await board(yesterday, second.baseUrl)).toEqual([[1, "bob", 20], [2, "ann", 10]])
    expect(((await (await fetch(`${second.baseUrl}/v1/users/dan`)).json()) as { total_xp: number }).total_xp).toBe(125)
    await second.stop()
  } finally {
    await sql.end()
    await cleanup({ ...crashed, stream: "none", dlqStream: "none" })
  }
})
