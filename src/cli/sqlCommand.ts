// `arena sql "SELECT ..."`: an analyst's read-only query against the configured ClickHouse. The
// embedded engine's data directory belongs to the running service, so then the query goes
// through the service (POST /v1/analytics/sql, admin token) instead.
import type { ArenaConfig } from "../Config.js"
import { AnalyticsQueries } from "../adapters/clickhouse/AnalyticsQueries.js"
import { openClickHouse } from "../adapters/clickhouse/ClickHouseClient.js"
import { ClickHouseError } from "../adapters/clickhouse/ClickHouseError.js"
import { parseClickHouseTarget } from "../adapters/clickhouse/ClickHouseTarget.js"
import { mintToken } from "../gateway/auth/Auth.js"

interface Result { readonly columns: ReadonlyArray<string>; readonly rows: ReadonlyArray<ReadonlyArray<unknown>> }

const print = (r: Result) => {
  const cells = [r.columns.map(String), ...r.rows.map((row) => row.map((v) => (typeof v === "string" ? v : JSON.stringify(v))))]
  const widths = r.columns.map((_, i) => Math.min(60, Math.max(...cells.map((c) => (c[i] ?? "").length))))
  for (const [n, c] of cells.entries()) {
    process.stdout.write(c.map((v, i) => v.slice(0, 60).padEnd(widths[i] ?? 0)).join("  ").trimEnd() + "\n")
    if (n === 0) process.stdout.write(widths.map((w) => "-".repeat(w)).join("  ") + "\n")
  }
  process.stdout.write(`(${r.rows.length} row${r.rows.length === 1 ? "" : "s"})\n`)
}

const viaService = async (config: ArenaConfig, query: string): Promise<Result> => {
  if (config.jwtSecret === undefined) throw new Error("the service holds the embedded ClickHouse; set ARENA_JWT_SECRET so `arena sql` can ask it")
  const token = await mintToken({ sub: "arena-cli", scope: "admin", ttlSeconds: 60 }, config.jwtSecret)
  const host = config.host === "0.0.0.0" ? "127.0.0.1" : config.host
  const r = await fetch(`http://${host}:${config.port}/v1/analytics/sql`, {
    method: "POST", headers: { authorization: `Bearer ${token}`, "content-type": "application/json" }, body: JSON.stringify({ query })
  })
  const body = await r.json() as Result & { error?: { message: string } }
  if (!r.ok) throw new Error(body.error?.message ?? `HTTP ${r.status}`)
  return body
}

export const sqlCommand = async (config: ArenaConfig, query: string): Promise<number> => {
  if (query.trim() === "") { process.stderr.write("arena sql: give a query, e.g. arena sql \"SELECT count() FROM awards\"\n"); return 2 }
  const target = parseClickHouseTarget(config)
  try {
    if (target.kind === "embedded") {
      // Ask a running service first: it owns the embedded engine's directory.
      const served = await viaService(config, query).catch((e: unknown) => (e instanceof TypeError ? null : Promise.reject(e)))
      if (served !== null) { print(served); return 0 }
    }
    const h = openClickHouse(target)
    try { print(await new AnalyticsQueries(h.client).sql(query)) } finally { await h.close() }
    return 0
  } catch (e) {
    process.stderr.write(`arena sql: ${e instanceof ClickHouseError || e instanceof Error ? e.message : String(e)}\n`)
    return 1
  }
}
