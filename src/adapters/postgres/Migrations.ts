// Applies sql/postgres/NNNN_name.sql in order, all pending ones in one transaction, recording version
// and checksum; a changed, already-applied file is an error, never silently re-run.
import { Effect } from "effect"
import { createHash } from "node:crypto"
import * as fs from "node:fs"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import type { Sql } from "./Db.js"
import { PgError, classifyPg } from "./PgError.js"

export const postgresMigrationsDir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../../sql/postgres")

export interface MigrationFile {
  readonly version: string
  readonly name: string
  readonly sql: string
  readonly checksum: string
}

export const readMigrations = (dir = postgresMigrationsDir): MigrationFile[] =>
  fs.readdirSync(dir)
    .filter((f) => /^\d{4}_[a-z0-9_]+\.sql$/.test(f))
    .sort()
    .map((f) => {
      const sql = fs.readFileSync(path.join(dir, f), "utf8")
      return { version: f.slice(0, 4), name: f, sql, checksum: createHash("sha256").update(sql).digest("hex") }
    })

const LOCK_KEY = 0x4172656e61 // "Arena": one migrator at a time

/** Returns the names of the migrations applied by this call. */
export const migrate = (sql: Sql, dir = postgresMigrationsDir) =>
  Effect.tryPromise({
    try: () =>
      sql.begin(async (tx) => {
        await tx`SELECT pg_advisory_xact_lock(${LOCK_KEY})`
        await tx`CREATE TABLE IF NOT EXISTS arena_migrations (
          version text PRIMARY KEY, name text NOT NULL, checksum text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())`
        const done = new Map((await tx<{ version: string; checksum: string; name: string }[]>`SELECT version, checksum, name FROM arena_migrations`).map((r) => [r.version, r]))
        const applied: string[] = []
        for (const m of readMigrations(dir)) {
          const prev = done.get(m.version)
          if (prev !== undefined) {
            if (prev.checksum !== m.checksum) {
              throw new PgError({ reason: "migration", retryable: false, message: `migration ${m.name} was changed after it was applied (as ${prev.name}); add a new migration instead` })
            }
            continue
          }
          await tx.unsafe(m.sql)
          await tx`INSERT INTO arena_migrations (version, name, checksum) VALUES (${m.version}, ${m.name}, ${m.checksum})`
          applied.push(m.name)
        }
        return applied
      }),
    catch: (e) => (e instanceof PgError ? e : classifyPg(e, "applying Postgres migrations"))
  })
