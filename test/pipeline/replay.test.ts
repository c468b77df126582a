// Exactly-once state (ARCHITECTURE §2.1): the same recorded stream processed once straight through
// and once with kill -9 at random moments and restarts gives identical user states (full dumps),
// checkpoints and dead letters. 100k events over 10k users, streaks across 40 days, duplicates.
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { ArenaProcess, cleanup, db, freshNames, natsClient, publishAll, sleep } from "../support/arena.js"
import type { Nats, Names } from "../support/arena.js"
import { snapshotDump } from "../support/snapshotDump.js"
import { makeGenerator, prng } from "../../src/cli/Producer.js"
import { openClickHouse } from "../../src/adapters/clickhouse/ClickHouseClient.js"
import { parseClickHouseTarget } from "../../src/adapters/clickhouse/ClickHouseTarget.js"

/** What ClickHouse holds (read after the service stopped: the embedded engine is then free). */
const analytics = async (names: Names) => {
  const h = openClickHouse(parseClickHouseTarget({ dataDir: names.dataDir }))
  try {
    const q = async (query: string) => (await (await h.client.query({ query, format: "JSONEachRow" })).json<Record<string, string | number>>())
    const [totals] = await q("SELECT count() AS rows, uniqExact(seq) AS seqs, sum(total_awarded) AS xp FROM awards")
    const [rejections] = await q("SELECT count() AS rows, uniqExact(seq) AS seqs FROM rejections")
    const ledger = await q("SELECT seq, user_id, xp, total_awarded, total_xp_after FROM awards ORDER BY seq")
    return { totals, rejections, ledger }
  } finally { await h.close() }
}

const EVENTS = Number(process.env.REPLAY_EVENTS ?? 100_000)
const USERS = 10_000

const straight: Names = freshNames("rpa")
// Run B reads the same stream as run A, with its own database.
const chaos: Names = { ...freshNames("rpb"), stream: straight.stream, prefix: straight.prefix, subject: straight.subject, dlqStream: straight.dlqStream }
let nats: Nats

const dump = async (names: Names) => {
  const sql = db(names)
  try {
    return await snapshotDump(sql)
  } finally { await sql.end() }
}

beforeAll(async () => {
  nats = await natsClient()
  // Provision the stream by starting run A once (it applies streams/ with these names), then record the stream.
  const a = new ArenaProcess(straight)
  await a.start()
  await a.stop()
  const span = 40 * 86_400_000
  const start = Date.now() - span
  const gen = makeGenerator({ users: USERS, agents: 20, seed: 42, idPrefix: "replay", timestamp: (i) => new Date(start + Math.floor((i / EVENTS) * span)).toISOString() })
  const rnd = prng(7)
  const events: Array<Record<string, unknown> | { raw: string; msgId: string }> = []
  for (let i = 0; i < EVENTS; i++) {
    events.push(gen(i))
    if (rnd() < 0.01) events.push(gen(Math.floor(rnd() * (i + 1)))) // a duplicate of an earlier event_id
    if (rnd() < 0.002) events.push({ raw: `{"event_id":"broken-${i}"`, msgId: `broken-${i}` })
  }
  await publishAll(nats.js, straight.subject, events)
}, 600_000)

afterAll(async () => {
  await nats?.nc.close()
  await cleanup(straight)
  await cleanup({ ...chaos, stream: "none", dlqStream: "none" })
})

describe("replay determinism", () => {
  it("kill -9 at random points and restarts yield the same state as one uninterrupted run", async () => {
    const info = await nats.jsm.streams.info(straight.stream)
    const head = info.state.last_seq

    const a = new ArenaProcess(straight)
    await a.start()
    await a.waitForSeq(head)
    expect(await a.stop()).toBe(0)
    const expected = await dump(straight)
    expect(expected.checkpoint).toBe(head)
    expect(expected.users.length).toBeGreaterThan(USERS * 0.9)

    const b = new ArenaProcess(chaos)
    const rnd = prng(1234)
    let kills = 0
    for (let round = 0; round < 6; round++) {
      await b.start()
      await sleep(200 + Math.floor(rnd() * 1500))
      await b.kill()
      kills++
    }
    await b.start()
    await b.waitForSeq(head)
    expect(await b.stop()).toBe(0)
    const actual = await dump(chaos)
    expect(kills).toBe(6)
    expect(actual.checkpoint).toBe(head)
    expect(actual.users.length).toBe(expected.users.length)
    // Full dump equality: every user's XP, level, streak runs, counts, achievements, agent and period scores.
    expect(actual.users).toEqual(expected.users)

    // Exactly-once analytics (§2.3): every applied event once in ClickHouse, across the same kills.
    const chA = await analytics(straight)
    const chB = await analytics(chaos)
    const totalXp = expected.users.reduce((s, [, u]) => s + (u as { totalXp: number }).totalXp, 0)
    const applied = expected.users.reduce((s, [, u]) => s + (u as { events: number }).events, 0)
    expect(Number(chA.totals!.rows)).toBe(applied)
    expect(Number(chA.totals!.seqs)).toBe(applied)
    expect(Number(chA.totals!.xp)).toBe(totalXp)
    expect(chB.totals).toEqual(chA.totals)
    expect(chB.rejections).toEqual(chA.rejections)
    expect(Number(chA.rejections!.rows)).toBeGreaterThan(0)
    expect(chB.ledger).toEqual(chA.ledger)
  })
})
