// Records travel to ClickHouse as RowBinary: every column of every kind must read back exactly as
// submitted through the real sink and the real embedded engine — non-ASCII and long strings (the
// encoder's general path), a null event_id, blank lines inside a message (the reason binary rows
// cannot ride inline after the SQL), 64-bit seqs and XP totals beyond 2^32, and timestamps in
// several years, a leap day and the non-canonical ISO form. Expected values come from the records.
import { afterEach, describe, expect, it } from "vitest"
import type { AnalyticsRecord } from "../../src/ports/Analytics.js"
import type { LedgerEntry } from "../../src/domain/Model.js"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { openClickHouse } from "../../src/adapters/clickhouse/ClickHouseClient.js"
import { clickhouseSqlDir, migrateClickHouse } from "../../src/adapters/clickhouse/Migrations.js"
import { freshDir, startSink } from "./records.js"
import type { SinkEnv } from "./records.js"

let open: SinkEnv[] = []
afterEach(async () => {
  for (const e of open) await e.close().catch(() => {})
  open = []
})

const BIG = 2 ** 32 + 5
const long = "x".repeat(300)
const unicode = "ünïcödé 名前 🎮 ".repeat(12)

const entry = (seq: number, over: Partial<LedgerEntry>): LedgerEntry => ({
  event_id: `ev-${seq}`, seq, user_id: "u1", agent_name: "claude", action_type: "task_completed", base_points: 10,
  multipliers: [], streak_days: 1, streak_multiplier: "1", total_multiplier: "1", applied_multiplier: "1", xp: 10,
  bonuses: [], total_awarded: 10, total_xp_after: 10, level_before: 1, level_after: 1, rules_version: "r1",
  event_time: "2026-01-10T00:00:00.000Z", stream_time: "2026-01-10T00:00:00.001Z", ...over
})

const records: AnalyticsRecord[] = [
  { kind: "award", entry: entry(1, {}) },
  {
    kind: "award", metadata: JSON.stringify({ model: unicode, repo: { name: "arena", stars: 2 ** 40 }, tags: ["a", "\n\nb"] }), entry: entry(2, {
      event_id: long, user_id: "ü-user", agent_name: "agent 🤖", action_type: "custom", base_points: 4_000_000_000,
      multipliers: [{ name: "first_try", factor: "1.5" }, { name: "pair_session", factor: "1.2" }], streak_days: 400,
      streak_multiplier: "1.25", total_multiplier: "2.25", applied_multiplier: "2", xp: 123_456, bonuses: [{ achievement: "first_steps", xp: 0 }, { achievement: "on_fire", xp: 75 }],
      total_awarded: 123_531, total_xp_after: 2 ** 40 + 7, level_before: 3, level_after: 250, rules_version: unicode,
      event_time: "2028-02-29T23:59:59.999Z", stream_time: "2028-02-29T23:59:59.999Z"
    })
  },
  { kind: "level_up", seq: 2, user_id: "ü-user", from: 3, to: 250, stream_time: "2028-02-29T23:59:59.999Z" },
  { kind: "achievement", seq: 2, user_id: "ü-user", achievement: "first_steps", bonus: 0, stream_time: "2028-02-29T23:59:59.999Z" },
  { kind: "achievement", seq: 2, user_id: "ü-user", achievement: "on_fire", bonus: 75, stream_time: "2028-02-29T23:59:59.999Z" },
  { kind: "rejection", seq: 3, reason: "invalid_event", message: `line one\n\nline three, "quoted", \\ '${unicode}`, event_id: null, stream_time: "2028-03-01T00:00:00.000Z" },
  { kind: "rejection", seq: 4, reason: "malformed_json", message: "", event_id: unicode, stream_time: "2028-03-01T00:00:00.000+00:00" },
  { kind: "award", entry: entry(5, { event_time: "1999-12-31T23:59:59.000Z", stream_time: "2028-03-01T00:00:01.000Z" }) },
  { kind: "award", entry: entry(BIG, { event_time: "2099-06-15T08:09:10.011Z", stream_time: "2028-03-01T00:00:02.000Z" }) }
]

const rows = async (env: SinkEnv, query: string): Promise<Array<Record<string, unknown>>> =>
  (await env.handle.client.query({ query, format: "JSONEachRow", clickhouse_settings: { output_format_json_quote_64bit_integers: 0 } })).json()

describe("RowBinary rows (embedded ClickHouse)", () => {
  it("an awards table from before 0004_award_metadata gains the metadata column; its rows read {}", async () => {
    const dir = freshDir("premeta")
    const sqlDir = fs.mkdtempSync(path.join(os.tmpdir(), "arena-ch-sql-"))
    for (const f of ["0001_raw_records.sql", "0002_rollups.sql"]) fs.copyFileSync(path.join(clickhouseSqlDir, f), path.join(sqlDir, f))
    const h = openClickHouse({ kind: "embedded", path: dir, database: "arena" })
    await h.ensureDatabase()
    await migrateClickHouse(h.client, sqlDir)
    await h.client.command({ query: "INSERT INTO awards (seq, event_id, user_id, stream_time) VALUES (1, 'old', 'u0', '2026-01-10 00:00:00')" })
    await h.close()
    const env = await startSink(dir)
    open.push(env)
    await env.run(env.sink.submit([{ kind: "award", entry: entry(2, {}), metadata: JSON.stringify({ model: "opus" }) }], 2))
    await env.run(env.sink.awaitDurable(2))
    expect(await rows(env, "SELECT seq, toJSONString(metadata) AS m FROM awards ORDER BY seq")).toEqual([{ seq: 1, m: "{}" }, { seq: 2, m: JSON.stringify({ model: "opus" }) }])
  })

  it("reads back every column of every kind exactly as submitted", async () => {
    const env = await startSink(freshDir("rowbinary"))
    open.push(env)
    await env.run(env.sink.submit(records, BIG))
    await env.run(env.sink.awaitDurable(BIG))

    const awards = await rows(env, `SELECT seq, event_id, user_id, agent_name, action_type, base_points, multiplier_names, multiplier_factors,
      streak_days, streak_multiplier, total_multiplier, applied_multiplier, xp, bonus_achievements, bonus_xp, total_awarded, total_xp_after,
      level_before, level_after, rules_version, toUnixTimestamp64Milli(event_time) AS event_ms, toUnixTimestamp64Milli(stream_time) AS stream_ms
      FROM awards ORDER BY seq`)
    const want = records.flatMap((r) => (r.kind === "award" ? [r.entry] : [])).map((e) => ({
      seq: e.seq, event_id: e.event_id, user_id: e.user_id, agent_name: e.agent_name, action_type: e.action_type, base_points: e.base_points,
      multiplier_names: e.multipliers.map((m) => m.name), multiplier_factors: e.multipliers.map((m) => m.factor), streak_days: e.streak_days,
      streak_multiplier: e.streak_multiplier, total_multiplier: e.total_multiplier, applied_multiplier: e.applied_multiplier, xp: e.xp,
      bonus_achievements: e.bonuses.map((b) => b.achievement), bonus_xp: e.bonuses.map((b) => b.xp), total_awarded: e.total_awarded,
      total_xp_after: e.total_xp_after, level_before: e.level_before, level_after: e.level_after, rules_version: e.rules_version,
      event_ms: Date.parse(e.event_time), stream_ms: Date.parse(e.stream_time)
    }))
    expect(awards).toEqual(want)
    // metadata (a JSON column): the event's object, `{}` when it had none; paths are subcolumns.
    const meta = await rows(env, "SELECT seq, toJSONString(metadata) AS m, toString(metadata.repo.name) AS repo FROM awards ORDER BY seq")
    expect(meta.map((r) => ({ seq: r["seq"], m: JSON.parse(String(r["m"])) as unknown, repo: r["repo"] }))).toEqual(
      records.flatMap((r) => (r.kind === "award" ? [{ seq: r.entry.seq, m: r.metadata === undefined ? {} : JSON.parse(r.metadata) as unknown, repo: r.metadata === undefined ? "" : "arena" }] : [])))

    expect(await rows(env, "SELECT seq, user_id, from_level, to_level, toUnixTimestamp64Milli(stream_time) AS ms FROM level_ups ORDER BY seq"))
      .toEqual([{ seq: 2, user_id: "ü-user", from_level: 3, to_level: 250, ms: Date.parse("2028-02-29T23:59:59.999Z") }])
    expect(await rows(env, "SELECT seq, user_id, achievement, bonus, toUnixTimestamp64Milli(stream_time) AS ms FROM achievements ORDER BY seq, achievement"))
      .toEqual([
        { seq: 2, user_id: "ü-user", achievement: "first_steps", bonus: 0, ms: Date.parse("2028-02-29T23:59:59.999Z") },
        { seq: 2, user_id: "ü-user", achievement: "on_fire", bonus: 75, ms: Date.parse("2028-02-29T23:59:59.999Z") }
      ])
    expect(await rows(env, "SELECT seq, reason, message, event_id, toUnixTimestamp64Milli(stream_time) AS ms FROM rejections ORDER BY seq"))
      .toEqual(records.flatMap((r) => (r.kind === "rejection" ? [{ seq: r.seq, reason: r.reason, message: r.message, event_id: r.event_id, ms: Date.parse(r.stream_time) }] : [])))
    // Month partitions: February and March 2028 are separate inserts (January 2026 a third).
    expect(await rows(env, "SELECT DISTINCT partition FROM system.parts WHERE database = currentDatabase() AND table = 'awards' AND active ORDER BY partition"))
      .toEqual([{ partition: "202601" }, { partition: "202802" }, { partition: "202803" }])
  })
})
