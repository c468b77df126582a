// Wiring only: which parts run, in which order they start and stop. Start: Postgres (migrate) →
// NATS (streams) → ClickHouse sink → pipeline (load, replay) → gateway. Stop, in reverse: gateway
// closes, the consumer stops, in-flight batches drain, a final snapshot, then the connections.
import { Deferred, Effect, Exit, Scope } from "effect"
import * as fs from "node:fs"
import type { ArenaConfig } from "./Config.js"
import { openNats } from "./adapters/nats/Nats.js"
import { streamNames, provisionStreams } from "./adapters/nats/Streams.js"
import { ensureDatabase, openDb } from "./adapters/postgres/Db.js"
import { migrate } from "./adapters/postgres/Migrations.js"
import type { ActorDefect } from "./actors/Actor.js"
import type { AnalyticsSink } from "./actors/AnalyticsPort.js"
import { startPipeline } from "./actors/Pipeline.js"
import { LiveBoards } from "./actors/LiveBoards.js"
import type { Pipeline } from "./actors/Pipeline.js"
import { DEFAULT_RULES } from "./domain/defaultRules.js"
import { loadRulesOrThrow } from "./domain/Rules.js"
import type { CompiledRules } from "./domain/Rules.js"
import type { UserNotification } from "./gateway/ports.js"
import type { Log } from "./Log.js"

export const loadRules = (config: ArenaConfig): CompiledRules =>
  config.rulesPath === undefined ? DEFAULT_RULES : loadRulesOrThrow(JSON.parse(fs.readFileSync(config.rulesPath, "utf8")))

/** The parts of a running Arena the gateway and the CLI use. */
export interface Running {
  readonly config: ArenaConfig
  readonly rules: CompiledRules
  /** Leaderboards over whichever pipeline runs (the gateway's LeaderboardPort). */
  readonly boards: LiveBoards
  /** The current pipeline (replaced when the supervisor restarts it). */
  readonly pipeline: () => Pipeline | null
  readonly pipelineError: () => string | null
  readonly onNotification: (l: (n: UserNotification) => void) => () => void
  readonly watchUser: (userId: string) => () => void
}

/** Runs the pipeline under supervision: an actor defect restarts it from the last snapshot. */
export const supervisePipeline = (
  config: ArenaConfig,
  rules: CompiledRules,
  deps: { nats: Parameters<typeof startPipeline>[0]["nats"]; sql: Parameters<typeof startPipeline>[0]["sql"]; analytics: AnalyticsSink },
  log: Log
) =>
  Effect.gen(function*() {
    let current: Pipeline | null = null
    let lastError: string | null = null
    const listeners = new Set<(n: UserNotification) => void>()
    const watched = new Map<string, number>()
    const watchedSet = new Set<string>()
    let stopping = false
    let currentScope: Scope.Closeable | null = null
    const boards = new LiveBoards()

    const runOnce = Effect.gen(function*() {
      const latch: Deferred.Deferred<never, ActorDefect> = yield* Deferred.make<never, ActorDefect>()
      const scope = yield* Scope.make()
      currentScope = scope
      const started = yield* startPipeline({
        nats: deps.nats,
        sql: deps.sql,
        names: streamNames(config),
        rules,
        analytics: deps.analytics,
        shards: config.shards,
        batchMax: config.batchMax,
        snapshotIntervalMs: config.snapshotIntervalMs,
        latch,
        notify: (notes) => { for (const n of notes) for (const l of listeners) l(n) },
        watchedUsers: watchedSet,
        emitView: boards.emitView,
        emitRollover: boards.emitRollover,
        log: (l) => log.info(l)
      }).pipe(Scope.provide(scope), Effect.onError(() => Scope.close(scope, Exit.void)))
      current = started
      lastError = null
      boards.attach(started.boards)
      const defect = yield* Effect.flip(Deferred.await(latch))
      current = null
      boards.attach(null)
      lastError = defect.message
      log.error(`pipeline failed, restarting from the last snapshot: ${defect.message}`)
      yield* Scope.close(scope, Exit.void)
    })

    const loop = Effect.gen(function*() {
      for (let attempt = 0; !stopping; attempt++) {
        const r = yield* Effect.exit(runOnce)
        if (r._tag === "Failure") {
          const msg = String(r.cause).split("\n")[0] ?? "unknown"
          lastError = msg
          log.error(`pipeline could not start (attempt ${attempt + 1}): ${msg}`)
        }
        if (!stopping) yield* Effect.sleep(Math.min(10_000, 250 * 2 ** Math.min(attempt, 6)))
      }
    })
    yield* Effect.forkScoped(loop)

    yield* Effect.addFinalizer(() =>
      Effect.gen(function*() {
        stopping = true
        const p = current
        if (p !== null) yield* p.drainAndSnapshot.pipe(Effect.timeout(60_000), Effect.catchCause(() => Effect.void))
        const s: Scope.Closeable | null = currentScope
        if (s !== null) yield* Scope.close(s, Exit.void)
      })
    )

    const running: Omit<Running, "config" | "rules"> = {
      boards,
      pipeline: () => current,
      pipelineError: () => lastError,
      onNotification: (l) => { listeners.add(l); return () => { listeners.delete(l) } },
      watchUser: (id) => {
        watched.set(id, (watched.get(id) ?? 0) + 1)
        watchedSet.add(id)
        return () => {
          const n = (watched.get(id) ?? 1) - 1
          if (n <= 0) { watched.delete(id); watchedSet.delete(id) } else watched.set(id, n)
        }
      }
    }
    return running
  })

/** Postgres and NATS, ready for the pipeline: database created and migrated, streams applied. */
export const openInfrastructure = (config: ArenaConfig, log: Log) =>
  Effect.gen(function*() {
    const created = yield* ensureDatabase(config.databaseUrl)
    if (created) log.info(`created database ${new URL(config.databaseUrl).pathname.slice(1)}`)
    const sql = yield* openDb(config.databaseUrl)
    const applied = yield* migrate(sql)
    log.info(applied.length > 0 ? `postgres migrations applied: ${applied.join(", ")}` : "postgres migrations: up to date")
    const nats = yield* openNats(config.natsUrl, "arena")
    for (const line of yield* provisionStreams(nats.jsm, config)) log.info(line)
    return { sql, nats }
  })
