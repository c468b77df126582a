// The Postgres client (postgres@3, parameterized tagged templates only), scoped so shutdown
// closes it; `ensureDatabase`, which creates the configured database when it is missing; and how a
// store's statement fails (a request's deadline, an unreachable database as the store's Unavailable).
import postgres from "postgres"
import { Effect } from "effect"
import { classifyPg } from "./PgError.js"

export type Sql = postgres.Sql
/** The pool or a transaction: what a helper that runs in either takes. */
export type SqlOrTx = postgres.ISql

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

/** A request-path statement that got no answer within its deadline (the route answers 503). */
export class StatementDeadline extends Error {}

/** How long a request waits for Postgres before it answers 503 (connect attempts included). */
export const REQUEST_STATEMENT_DEADLINE_MS = 5_000

/**
 * Runs a query with a deadline: past it, the query is cancelled (a queued one never runs; a sent
 * one gets a cancel request, so a write may or may not have happened — as with any lost answer)
 * and the call rejects with StatementDeadline. Bounds a request's wait on Postgres whatever the
 * driver's reconnect queueing does (CI run S1: a share request with Postgres cut went unanswered
 * for 30 s even with the reconnect delay capped).
 */
export const withDeadline = <A>(what: string, q: () => PromiseLike<A>, ms = REQUEST_STATEMENT_DEADLINE_MS): Promise<A> => {
  const pending = q() as PromiseLike<A> & Cancellable
  let timer: ReturnType<typeof setTimeout> | undefined
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      cancelQuietly(pending)
      reject(new StatementDeadline(`${what}: no answer from Postgres within ${ms} ms`))
    }, ms)
  })
  return Promise.race([Promise.resolve(pending), deadline]).finally(() => clearTimeout(timer))
}

/** A postgres.js query (3.4.9): `canceller(query)` returns the cancel request's promise; `cancel()` drops it. */
interface Cancellable { canceller?: ((q: unknown) => unknown) | null; cancel?: () => unknown }

/**
 * Cancels a query, best effort, without leaving a promise unhandled. postgres.js 3.4.9's
 * `query.cancel()` discards the promise of its cancel request (`this.canceller(this)`'s result),
 * and for a query already sent that request opens a new connection: when Postgres cannot be
 * reached — the case a deadline is for — it rejects (`read ECONNRESET`) with no handler and the
 * process exits on the unhandled rejection (CI run L1: the service died 5 s into a Postgres cut, at
 * the first request's deadline). So the canceller is called here and its promise kept and caught;
 * a query without one (another driver, a test double) gets `cancel()`.
 */
export const cancelQuietly = (q: Cancellable): void => {
  try {
    const c = q.canceller
    if (typeof c === "function") {
      q.canceller = null // as query.cancel() does: one cancel per query
      void Promise.resolve(c(q)).catch(() => undefined)
    } else if (typeof q.cancel === "function") {
      void Promise.resolve(q.cancel()).catch(() => undefined)
    }
  } catch { /* cancel is best effort */ }
}

/** Postgres SQLSTATE undefined_table. */
const UNDEFINED_TABLE = "42P01"

/** The error a store rejects with when Postgres cannot answer now (its routes answer 503). */
export type UnavailableClass = new (args: { readonly message: string }) => Error

/**
 * Runs one store statement: a connection-class failure (classifyPg: retryable), a missed deadline
 * or a table not created yet rejects with `Unavailable`; anything else passes through untouched (a
 * defect). A missing table is a partitioned gateway started before any processor ran the
 * migrations (the gateway does not migrate): unavailable until one has, not a 500.
 */
export const storeStatement = async <A>(what: string, Unavailable: UnavailableClass, q: () => PromiseLike<A>): Promise<A> => {
  try {
    return await q()
  } catch (e) {
    if (e instanceof StatementDeadline) throw new Unavailable({ message: e.message })
    if ((e as { code?: unknown } | null)?.code === UNDEFINED_TABLE) {
      throw new Unavailable({ message: `${what}: ${(e as Error).message}: the database is not migrated yet (\`arena migrate\`, or start a processor, which migrates)` })
    }
    const pg = classifyPg(e, what)
    throw pg.retryable ? new Unavailable({ message: pg.message }) : e
  }
}

/** A request's statement: a store statement that also rejects with `Unavailable` past the request deadline. */
export const requestStatement = <A>(what: string, Unavailable: UnavailableClass, q: () => PromiseLike<A>): Promise<A> =>
  storeStatement(what, Unavailable, () => withDeadline(what, q))

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
        if (rows.length > 0) return false
        try {
          await admin.unsafe(`CREATE DATABASE "${name}"`) // name checked above; DDL cannot take parameters
          return true
        } catch (e) {
          // Processors started together on a fresh database all find it missing and all create it:
          // the losers get duplicate_database (42P04) or, from a concurrent catalog insert, a unique
          // violation (23505). The database is there, which is all a start needs.
          const again = await admin`SELECT 1 FROM pg_database WHERE datname = ${name}`
          if (again.length > 0) return false
          throw e
        }
      } finally {
        await admin.end({ timeout: 5 })
      }
    },
    catch: (e) => classifyPg(e, `ensuring database in ${url.replace(/\/\/[^@]*@/, "//***@")}`)
  })
