// Opens ClickHouse for Arena: the same @clickhouse/client API over the embedded engine (a chDB
// child process per data directory) or a server. An optional fault hook sits between the client
// and the connection so tests can break and heal the link to a real engine.
import { ClickHouseLogLevel, createClient } from "@clickhouse/client"
import type { ClickHouseClient } from "@clickhouse/client"
import { Effect } from "effect"
import type { Scope } from "effect"
import { ChdbProcess, ChildChdbConnection } from "./ChdbProcess.js"
import type { Connection } from "./ChdbProcess.js"
import { ClickHouseError, classifyClickHouse } from "./ClickHouseError.js"
import { parseClickHouseTarget } from "./ClickHouseTarget.js"
import type { ClickHouseTarget, TargetConfig } from "./ClickHouseTarget.js"

export type CallKind = "ping" | "query" | "command" | "exec" | "insert"

/** Test seam: `failWith` fails calls before they reach ClickHouse; `sent` sees calls in flight. */
export interface FaultHook {
  failWith?: (call: CallKind, sql: string) => Error | null
  sent?: (call: CallKind, sql: string) => void
}

/** A connection that consults the fault hook around every call. */
class FaultyConnection implements Connection {
  constructor(private readonly inner: Connection, private readonly hook: FaultHook) {}
  private gate(call: CallKind, sql: string): void {
    const e = this.hook.failWith?.(call, sql) ?? null
    if (e !== null) throw e
  }
  private track<A>(call: CallKind, sql: string, p: Promise<A>): Promise<A> {
    this.hook.sent?.(call, sql)
    return p
  }
  ping(p: Parameters<Connection["ping"]>[0]) {
    const e = this.hook.failWith?.("ping", "") ?? null
    return e !== null ? Promise.resolve({ success: false as const, error: e }) : this.inner.ping(p)
  }
  async query(p: Parameters<Connection["query"]>[0]) { this.gate("query", p.query); return this.track("query", p.query, this.inner.query(p)) }
  async command(p: Parameters<Connection["command"]>[0]) { this.gate("command", p.query); return this.track("command", p.query, this.inner.command(p)) }
  async exec(p: Parameters<Connection["exec"]>[0]) { this.gate("exec", p.query); return this.track("exec", p.query, this.inner.exec(p)) }
  async insert(p: Parameters<Connection["insert"]>[0]) { this.gate("insert", p.query); return this.track("insert", p.query, this.inner.insert(p)) }
  close() { return this.inner.close() }
}

export interface ClickHouseHandle {
  readonly client: ClickHouseClient
  readonly target: ClickHouseTarget
  /** Embedded only: the chDB child (pid, restarts); null for a server. */
  readonly process: ChdbProcess | null
  /** HTTP only: creates the database (the embedded child does it itself). */
  ensureDatabase(): Promise<void>
  close(): Promise<void>
}

export interface OpenOptions {
  readonly fault?: FaultHook
  /** HTTP request timeout, ms (default 60 s). */
  readonly requestTimeoutMs?: number
  /** What the embedded engine's supervision did that an operator should see (e.g. an orphan killed). */
  readonly warn?: (message: string) => void
}

/** Synchronous: nothing connects until the first call (the embedded child starts then). */
export const openClickHouse = (target: ClickHouseTarget, opts: OpenOptions = {}): ClickHouseHandle => {
  const wrap = (c: Connection): Connection => (opts.fault === undefined ? c : new FaultyConnection(c, opts.fault))
  if (target.kind === "embedded") {
    const proc = new ChdbProcess(target.path, target.database, undefined, opts.warn)
    const client = createClient({ connection: wrap(new ChildChdbConnection(proc)), log: { level: ClickHouseLogLevel.OFF } })
    return { client, target, process: proc, ensureDatabase: async () => {}, close: () => client.close() }
  }
  // The client's own logger would print every failed request; failures reach the caller (and the
  // sink's status and metrics) as ClickHouseError instead.
  const common = {
    url: target.url, username: target.username, password: target.password, request_timeout: opts.requestTimeoutMs ?? 60_000,
    log: { level: ClickHouseLogLevel.OFF }
  }
  if (opts.fault !== undefined) {
    // The HTTP connection is internal to @clickhouse/client; faults are injected on the embedded path.
    throw new ClickHouseError({ reason: "config", retryable: false, message: "a fault hook needs the embedded engine" })
  }
  const client = createClient({ ...common, database: target.database })
  return {
    client,
    target,
    process: null,
    ensureDatabase: async () => {
      // The target database may not exist yet, so this one statement runs against `default`.
      const boot = createClient({ ...common, database: "default" })
      try {
        await boot.command({ query: `CREATE DATABASE IF NOT EXISTS ${target.database}` }) // name validated by parseClickHouseTarget
      } finally {
        await boot.close()
      }
    },
    close: () => client.close()
  }
}

/** Effect-facing: run one client call, mapping failures to ClickHouseError. */
export const chTry = <A>(context: string, f: () => Promise<A>): Effect.Effect<A, ClickHouseError> =>
  Effect.tryPromise({ try: f, catch: (e) => classifyClickHouse(e, context) })

/** The configured ClickHouse in the current scope: closing the scope stops the chDB child. */
export const openClickHouseScoped = (config: TargetConfig, opts: OpenOptions = {}): Effect.Effect<ClickHouseHandle, ClickHouseError, Scope.Scope> =>
  Effect.acquireRelease(
    Effect.try({ try: () => openClickHouse(parseClickHouseTarget(config), opts), catch: (e) => classifyClickHouse(e, "CLICKHOUSE_URL") }),
    (h) => Effect.promise(() => h.close().catch(() => {}))
  )
