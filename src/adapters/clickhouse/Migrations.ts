// Applies sql/clickhouse/NNNN_name.sql in order, one statement at a time (ClickHouse takes one per
// request), recording version and checksum in `schema_migrations`. ClickHouse DDL is not
// transactional, so statements are idempotent (IF NOT EXISTS) and a half-applied file re-runs.
import type { ClickHouseClient } from "@clickhouse/client"
import { createHash } from "node:crypto"
import * as fs from "node:fs"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import { ClickHouseError, classifyClickHouse } from "./ClickHouseError.js"
import { splitStatements } from "./SqlText.js"

export const clickhouseSqlDir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../../sql/clickhouse")

export interface MigrationFile {
  readonly version: string
  readonly name: string
  readonly statements: ReadonlyArray<string>
  readonly checksum: string
}

export const readMigrations = (dir = clickhouseSqlDir): MigrationFile[] =>
  fs.readdirSync(dir)
    .filter((f) => /^\d{4}_[a-z0-9_]+\.sql$/.test(f))
    .sort()
    .map((f) => {
      const sql = fs.readFileSync(path.join(dir, f), "utf8")
      return { version: f.slice(0, 4), name: f, statements: splitStatements(sql), checksum: createHash("sha256").update(sql).digest("hex") }
    })

const rowsOf = async <T>(client: ClickHouseClient, query: string, params?: Record<string, unknown>): Promise<T[]> => {
  const rs = await client.query({ query, format: "JSONEachRow", ...(params !== undefined ? { query_params: params } : {}) })
  return rs.json<T>()
}

/** Returns the names of the files applied by this call. */
export const migrateClickHouse = async (client: ClickHouseClient, dir = clickhouseSqlDir): Promise<string[]> => {
  try {
    await client.command({
      query: `CREATE TABLE IF NOT EXISTS schema_migrations (version String, name String, checksum String, applied_at DateTime64(3, 'UTC'))
              ENGINE = MergeTree ORDER BY version`
    })
    const done = new Map((await rowsOf<{ version: string; name: string; checksum: string }>(client,
      "SELECT version, any(name) AS name, any(checksum) AS checksum FROM schema_migrations GROUP BY version")).map((r) => [r.version, r]))
    const applied: string[] = []
    for (const m of readMigrations(dir)) {
      const prev = done.get(m.version)
      if (prev !== undefined) {
        if (prev.checksum !== m.checksum) {
          throw new ClickHouseError({ reason: "migration", retryable: false, message: `ClickHouse migration ${m.name} was changed after it was applied (as ${prev.name}); add a new migration instead` })
        }
        continue
      }
      for (const stmt of m.statements) await client.command({ query: stmt })
      await client.insert({
        table: "schema_migrations",
        values: [{ version: m.version, name: m.name, checksum: m.checksum, applied_at: Date.now() }],
        format: "JSONEachRow"
      })
      applied.push(m.name)
    }
    return applied
  } catch (e) {
    if (e instanceof ClickHouseError) throw e
    const c = classifyClickHouse(e, "applying ClickHouse migrations")
    throw c.retryable ? c : new ClickHouseError({ reason: "migration", retryable: false, message: c.message, cause: e })
  }
}
