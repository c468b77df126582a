// The Postgres client (postgres@3, parameterized tagged templates only), scoped so shutdown
// closes it; and `ensureDatabase`, which creates the configured database when it is missing.
import postgres from "postgres"
import { Effect } from "effect"
import { classifyPg } from "./PgError.js"

export type Sql = postgres.Sql

/**
 * The delay (s) before a pool connection tries again after `retries` failed connects (shared by the
 * pool). postgres.js's default grows to 20 s, and a query waits for its connection's delay: with
 * Postgres unreachable and other queries failing, a request hung past 30 s instead of answering 503
 * (CI run P1, scopes.test; reproduced with a cut proxy and a query every 200 ms: from the 6th
 * request on, each hung > 30 s). Capped at 1 s with jitter, a request fails in about a second and
 * the pool is back within a second of Postgres returning, at the cost of at most ~4 connect
 * attempts per second while it is down.
 */
export const reconnectDelaySeconds = (retries: number): number => (0.5 + Math.random() / 2) * Math.min(3 ** retries / 100, 1)

export const openDb = (url: string) =>
  Effect.acquireRelease(
    Effect.sync(() => postgres(url, { max: 4, onnotice: () => {}, connect_timeout: 10, idle_timeout: 60, backoff: reconnectDelaySeconds })),
    (sql) => Effect.promise(() => sql.end({ timeout: 5 }))
  )

/** CREATE DATABASE <name> if it does not exist (connecting to the `postgres` database). */
export const ensureDatabase = (url: string) =>
  Effect.tryPromise({
    try: async () => {
      const u = new URL(url)
      const name = decodeURIComponent(u.pathname.replace(/^\//, "")) || "postgres"
      if (!/^[A-Za-z0-9_]{1,63}$/.test(name)) throw new Error(`database name ${JSON.stringify(name)} must match [A-Za-z0-9_]{1,63}`)
      u.pathname = "/postgres"
      const admin = postgres(u.toString(), { max: 1, onnotice: () => {}, connect_timeout: 10 })
      try {
        const rows = await admin`SELECT 1 FROM pg_database WHERE datname = ${name}`
        if (rows.length === 0) await admin.unsafe(`CREATE DATABASE "${name}"`) // name checked above; DDL cannot take parameters
        return rows.length === 0
      } finally {
        await admin.end({ timeout: 5 })
      }
    },
    catch: (e) => classifyPg(e, `ensuring database in ${url.replace(/\/\/[^@]*@/, "//***@")}`)
  })
