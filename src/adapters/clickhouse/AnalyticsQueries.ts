// Reads for the gateway and the CLI: a user's ledger (keyset by seq, newest first), the analyst's
// dashboards and admin-only ad-hoc SQL (one read-only statement, readonly=1). Every value enters
// as a ClickHouse query parameter ({name:Type}), never by string concatenation. The ledger and the
// dashboards read the current projection's rows only (ARCHITECTURE §10 "Re-projection"); ad-hoc
// SQL sees every projection's (the `projection` column says which).
import type { ClickHouseClient } from "@clickhouse/client"
import type { LedgerEntry, LedgerItem } from "../../domain/Model.js"
import { ClickHouseError, classifyClickHouse } from "./ClickHouseError.js"
import { loadDashboards } from "./Dashboards.js"
import type { DashboardInfo } from "./Dashboards.js"
import { AWARD_COLUMNS, CORRECTION_COLUMNS, correctionOfRow, entryOfRow } from "./Rows.js"
import type { AwardRowJson, CorrectionRowJson } from "./Rows.js"
import { SqlTextError, readOnlyStatement } from "./SqlText.js"

export interface QueryResult {
  readonly columns: string[]
  /** ClickHouse types of the columns (e.g. `Date`, `UInt64`), for charts. */
  readonly types: string[]
  readonly rows: unknown[][]
}

export interface LedgerResult {
  readonly entries: LedgerItem[]
  /** The seq to pass as `beforeSeq` for the next (older) page; null at the end. */
  readonly nextBeforeSeq: number | null
}

const MAX_SQL_ROWS = 10_000


// A server quotes 64-bit integers in JSON, the embedded engine does not: numbers either way
// (as long as they are exact in a double; larger ones stay strings).
const WIDE_INT = /^(Nullable\()?U?Int(64|128|256)\)?$/
const toQueryResult = (j: { meta?: Array<{ name: string; type: string }>; data?: unknown[][] }): QueryResult => {
  const types = (j.meta ?? []).map((m) => m.type)
  const wide = types.map((t) => WIDE_INT.test(t))
  const rows = (j.data ?? []).map((row) =>
    row.map((v, i) => {
      if (!wide[i] || typeof v !== "string") return v
      const n = Number(v)
      return Number.isSafeInteger(n) ? n : v
    })
  )
  return { columns: (j.meta ?? []).map((m) => m.name), types, rows }
}

export class AnalyticsQueries {
  /** `projection`: the current projection (Postgres arena_projection.current; 0 when never re-projected), read at each query. */
  constructor(private readonly client: ClickHouseClient, private readonly dashboardsDir?: string, private readonly projection: () => number = () => 0) {}

  /** Newest first, awards and corrections by seq; `cursor` from a previous page continues below its last seq. */
  async ledger(userId: string, limit: number, beforeSeq: number | null): Promise<LedgerResult> {
    const n = Math.max(1, Math.min(1000, Math.floor(limit)))
    const before = beforeSeq
    const projection = this.projection()
    const page = async <R>(table: string, columns: ReadonlyArray<string>): Promise<R[]> =>
      (await this.client.query({
        query: `SELECT ${columns.join(", ")} FROM ${table}
                WHERE user_id = {user:String} AND projection = {projection:UInt32} ${before === null ? "" : "AND seq < {before:UInt64}"}
                ORDER BY seq DESC LIMIT {n:UInt32}`,
        query_params: before === null ? { user: userId, projection, n: n + 1 } : { user: userId, projection, before, n: n + 1 },
        format: "JSONEachRow"
      })).json<R>()
    try {
      const [awards, corrections] = await Promise.all([page<AwardRowJson>("awards", AWARD_COLUMNS), page<CorrectionRowJson>("corrections", CORRECTION_COLUMNS)])
      const rows: LedgerItem[] = [...awards.map(entryOfRow), ...corrections.map(correctionOfRow)].sort((a, b) => b.seq - a.seq)
      const entries = rows.slice(0, n)
      const last = entries[entries.length - 1]
      return { entries, nextBeforeSeq: rows.length > n && last !== undefined ? last.seq : null }
    } catch (e) {
      throw classifyClickHouse(e, `reading the ledger of ${userId}`)
    }
  }

  /** The award of an applied event (what a void takes back), or null when no award has that event_id. */
  async awardOf(eventId: string): Promise<LedgerEntry | null> {
    try {
      const rs = await this.client.query({
        query: `SELECT ${AWARD_COLUMNS.join(", ")} FROM awards WHERE event_id = {id:String} AND projection = {projection:UInt32} ORDER BY seq LIMIT 1`,
        query_params: { id: eventId, projection: this.projection() },
        format: "JSONEachRow"
      })
      const [row] = await rs.json<AwardRowJson>()
      return row === undefined ? null : entryOfRow(row)
    } catch (e) {
      throw classifyClickHouse(e, `looking up the award of event ${eventId}`)
    }
  }

  /**
   * Seqs of the user's awards and corrections below `beforeSeq`, ascending: the stream messages
   * that named them (erasure). Every projection's rows: an erasure removes the user from all.
   */
  async userSeqs(userId: string, beforeSeq: number): Promise<number[]> {
    try {
      const rs = await this.client.query({
        query: `SELECT DISTINCT seq FROM (SELECT seq FROM awards WHERE user_id = {user:String} AND seq < {before:UInt64}
                UNION ALL SELECT seq FROM corrections WHERE user_id = {user:String} AND seq < {before:UInt64}) ORDER BY seq`,
        query_params: { user: userId, before: beforeSeq },
        format: "JSONEachRow"
      })
      return (await rs.json<{ seq: number | string }>()).map((r) => Number(r.seq))
    } catch (e) {
      throw classifyClickHouse(e, `reading the seqs of ${userId}`)
    }
  }

  async listDashboards(): Promise<DashboardInfo[]> {
    return loadDashboards(this.dashboardsDir).map(({ name, title, description, chart }) => ({ name, title, description, chart }))
  }

  /** Runs dashboard `name` over [fromMs, toMs); null if there is no such dashboard (a 404). */
  async dashboard(name: string, range: { fromMs: number; toMs: number }): Promise<(QueryResult & { readonly name: string }) | null> {
    const d = loadDashboards(this.dashboardsDir).find((x) => x.name === name)
    if (d === undefined) return null
    if (!Number.isFinite(range.fromMs) || !Number.isFinite(range.toMs) || range.fromMs >= range.toMs) {
      throw new ClickHouseError({ reason: "query", retryable: false, message: "from must be before to (epoch milliseconds)" })
    }
    try {
      const rs = await this.client.query({
        query: d.sql,
        // Epoch seconds with milliseconds parse the same in every server time zone.
        query_params: { from: (range.fromMs / 1000).toFixed(3), to: (range.toMs / 1000).toFixed(3), projection: this.projection() },
        format: "JSONCompact"
      })
      return { name, ...toQueryResult(await rs.json()) }
    } catch (e) {
      throw classifyClickHouse(e, `dashboard ${name}`)
    }
  }

  /** One read-only statement, at most 10,000 rows, 30 s. Rejects anything else with a clear error. */
  async sql(query: string): Promise<QueryResult> {
    let stmt: string
    try {
      stmt = readOnlyStatement(query)
    } catch (e) {
      if (e instanceof SqlTextError) throw new ClickHouseError({ reason: "readonly", retryable: false, message: e.message })
      throw e
    }
    try {
      const rs = await this.client.query({
        query: stmt,
        format: "JSONCompact",
        // readonly last: once it applies, no further setting may change.
        clickhouse_settings: { max_result_rows: String(MAX_SQL_ROWS), result_overflow_mode: "break", max_execution_time: 30, readonly: "1" }
      })
      return toQueryResult(await rs.json())
    } catch (e) {
      throw classifyClickHouse(e, "query")
    }
  }
}
