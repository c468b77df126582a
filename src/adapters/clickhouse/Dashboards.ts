// The analyst's dashboards: sql/clickhouse/dashboards/<name>.sql, each a documented query with
// {from:DateTime64(3)} and {to:DateTime64(3)} parameters, reading the rows of {projection:UInt32}
// only (the current projection, ARCHITECTURE §10 "Re-projection"). A header of `-- key: value` lines
// (name, title, description, chart) describes it to the dashboard page.
import * as fs from "node:fs"
import * as path from "node:path"
import { clickhouseSqlDir } from "./Migrations.js"

export const dashboardsDir = path.join(clickhouseSqlDir, "dashboards")

export type ChartKind = "timeseries" | "bars" | "table"

export interface DashboardInfo {
  readonly name: string
  readonly title: string
  readonly description: string
  readonly chart: ChartKind
}

export interface Dashboard extends DashboardInfo {
  readonly sql: string
}

const NAME_RE = /^[a-z0-9_]{1,64}$/

export const parseDashboard = (file: string, text: string): Dashboard => {
  const meta: Record<string, string> = {}
  for (const line of text.split("\n")) {
    const m = /^--\s*(name|title|description|chart):\s*(.*)$/.exec(line.trim())
    if (m !== null) meta[m[1]!] = meta[m[1]!] === undefined ? m[2]!.trim() : `${meta[m[1]!]} ${m[2]!.trim()}`
  }
  const name = meta["name"] ?? path.basename(file, ".sql")
  if (!NAME_RE.test(name) || name !== path.basename(file, ".sql")) throw new Error(`dashboard ${file}: name must be the file name and match ${NAME_RE.source}`)
  const chart = meta["chart"] ?? "table"
  if (chart !== "timeseries" && chart !== "bars" && chart !== "table") throw new Error(`dashboard ${file}: chart must be timeseries, bars or table`)
  if (!text.includes("{from:DateTime64(3)}") || !text.includes("{to:DateTime64(3)}")) {
    throw new Error(`dashboard ${file}: must use {from:DateTime64(3)} and {to:DateTime64(3)}`)
  }
  // Every table a dashboard can read holds the rows of every projection: one that never names
  // the current projection would add an old scoring's rows to the current one's.
  if (!text.includes("projection = {projection:UInt32}")) {
    throw new Error(`dashboard ${file}: must read the current projection only (WHERE projection = {projection:UInt32} on every table it reads)`)
  }
  return { name, title: meta["title"] ?? name, description: meta["description"] ?? "", chart, sql: text.trim().replace(/;\s*$/, "") }
}

/** Read at call time, so an edited dashboard shows up without a restart. */
export const loadDashboards = (dir = dashboardsDir): Dashboard[] =>
  fs.readdirSync(dir)
    .filter((f) => f.endsWith(".sql"))
    .sort()
    .map((f) => parseDashboard(f, fs.readFileSync(path.join(dir, f), "utf8")))
