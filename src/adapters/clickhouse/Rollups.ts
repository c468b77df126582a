// Keeps the rollups equal to their raw sources. A materialized view's part is written after its
// source's part, not atomically with it, so a crash (kill -9 of the engine) can leave a month of a
// rollup short (or, if the source part is lost, long). `repairRollups` compares sum(events) per
// month with the views' SELECT over the sources and rebuilds only the months that differ.
import type { ClickHouseClient } from "@clickhouse/client"

/** A rollup target, the month expression over its columns, and the views that feed it. */
export interface Rollup {
  readonly target: string
  readonly month: string
  readonly views: ReadonlyArray<string>
}

export const ROLLUPS: ReadonlyArray<Rollup> = [
  { target: "agent_daily", month: "toYYYYMM(day)", views: ["agent_daily_mv"] },
  { target: "action_daily", month: "toYYYYMM(day)", views: ["action_daily_mv"] },
  { target: "user_days", month: "toYYYYMM(day)", views: ["user_days_mv"] },
  { target: "achievement_daily", month: "toYYYYMM(day)", views: ["achievement_daily_mv"] },
  { target: "level_daily", month: "toYYYYMM(day)", views: ["level_daily_mv"] },
  { target: "rejection_daily", month: "toYYYYMM(day)", views: ["rejection_daily_mv"] },
  { target: "correction_daily", month: "toYYYYMM(day)", views: ["correction_daily_mv"] },
  { target: "pipeline_minute", month: "toYYYYMM(minute)", views: ["pipeline_minute_awards_mv", "pipeline_minute_rejections_mv"] }
]

export interface RepairReport {
  readonly target: string
  readonly month: number
  readonly before: number
  readonly expected: number
}

const rows = async <T>(client: ClickHouseClient, query: string, params: Record<string, unknown> = {}): Promise<T[]> =>
  (await client.query({ query, format: "JSONEachRow", query_params: params })).json<T>()

const monthTotals = async (client: ClickHouseClient, from: string, month: string, only?: ReadonlyArray<number>): Promise<Map<number, number>> => {
  // `only`: these months (validated integers); the filter reaches the raw tables' month partitions.
  const where = only === undefined ? "" : ` WHERE ${month} IN (${only.map((m) => String(Math.trunc(m))).join(", ")})`
  const r = await rows<{ m: number | string; n: number | string }>(client, `SELECT ${month} AS m, sum(events) AS n FROM ${from}${where} GROUP BY m`)
  return new Map(r.map((x) => [Number(x.m), Number(x.n)]))
}

/** The SELECT of each view as ClickHouse stored it (fully qualified). */
const viewSelects = async (client: ClickHouseClient, views: ReadonlyArray<string>): Promise<string[]> => {
  const r = await rows<{ name: string; as_select: string }>(client,
    "SELECT name, as_select FROM system.tables WHERE database = currentDatabase() AND name IN {views:Array(String)}", { views })
  const by = new Map(r.map((x) => [x.name, x.as_select]))
  return views.map((v) => {
    const s = by.get(v)
    if (s === undefined || s === "") throw new Error(`materialized view ${v} is missing; run the ClickHouse migrations`)
    return s
  })
}

/**
 * Checks every rollup month (or only the months in `only`: an erasure's) against its sources;
 * rebuilds the ones that differ.
 */
export const repairRollups = async (client: ClickHouseClient, only?: ReadonlyArray<number>): Promise<RepairReport[]> => {
  const repaired: RepairReport[] = []
  if (only !== undefined && only.length === 0) return repaired
  for (const r of ROLLUPS) {
    const selects = await viewSelects(client, r.views)
    const have = await monthTotals(client, r.target, r.month, only)
    const want = new Map<number, number>()
    for (const s of selects) {
      for (const [m, n] of await monthTotals(client, `(${s})`, r.month, only)) want.set(m, (want.get(m) ?? 0) + n)
    }
    const months = new Set([...have.keys(), ...want.keys()])
    const cols = (await rows<{ name: string }>(client,
      "SELECT name FROM system.columns WHERE database = currentDatabase() AND table = {t:String} ORDER BY position", { t: r.target }))
      .map((c) => c.name).join(", ")
    for (const m of [...months].sort((a, b) => a - b)) {
      const before = have.get(m) ?? 0
      const expected = want.get(m) ?? 0
      if (before === expected) continue
      if (!Number.isInteger(m) || m < 100001 || m > 999912) throw new Error(`unexpected partition ${m} in ${r.target}`)
      // Partition ids are the integers read above (validated), so inlining them is safe.
      await client.command({ query: `ALTER TABLE ${r.target} DROP PARTITION ${m}` })
      for (const s of selects) {
        await client.command({
          query: `INSERT INTO ${r.target} (${cols}) SELECT ${cols} FROM (${s}) WHERE ${r.month} = {m:UInt32}`,
          query_params: { m },
          // A rebuilt block may hash like an earlier insert; block deduplication must not drop it.
          clickhouse_settings: { insert_deduplicate: 0 }
        })
      }
      repaired.push({ target: r.target, month: m, before, expected })
    }
  }
  return repaired
}
