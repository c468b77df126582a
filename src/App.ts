// Wiring only: which parts run, in which order they start and stop. Start: Postgres (migrate) →
// NATS (streams) → ClickHouse sink → pipeline (load, replay) → gateway. Stop, in reverse (scope
// finalizers): gateway closes, the consumer stops, batches drain, a final snapshot, sink, connections.
import { Data, Deferred, Effect, Exit, Scope } from "effect"
import * as fs from "node:fs"
import type { ArenaConfig } from "./Config.js"
import { openNats } from "./adapters/nats/Nats.js"
import { streamNames, provisionStreams } from "./adapters/nats/Streams.js"
import { ensureDatabase, openDb } from "./adapters/postgres/Db.js"
import { migrate } from "./adapters/postgres/Migrations.js"
import type { ActorDefect } from "./actors/Actor.js"
import type { AnalyticsSink } from "./actors/AnalyticsPort.js"
import { fatalMessage } from "./actors/Fatal.js"
import { startPipeline } from "./actors/Pipeline.js"
import { LiveBoards } from "./actors/LiveBoards.js"
import type { Pipeline } from "./actors/Pipeline.js"
import { DEFAULT_RULES } from "./domain/defaultRules.js"
import { loadRulesOrThrow } from "./domain/Rules.js"
import type { CompiledRules } from "./domain/Rules.js"
import type { Readiness, UserNotification } from "./gateway/ports.js"
import type { NatsHandle } from "./adapters/nats/Nats.js"
import { makeIngest } from "./adapters/nats/Publisher.js"
import type { Validate } from "./adapters/nats/Publisher.js"
import { PostgresShareStore } from "./adapters/postgres/ShareStore.js"
import { makeUsers } from "./actors/Users.js"
import { decodeEventValue } from "./domain/Event.js"
import { achievementCatalog, checkSemantics, rulesDocument } from "./domain/Rules.js"
import { startGateway } from "./gateway/Gateway.js"
import { gatewayConfig } from "./gateway/GatewayConfig.js"
import { registry } from "./observability/Metrics.js"
import { makeAnalytics } from "./Analytics.js"
import type { AnalyticsStatus } from "./Analytics.js"
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
  /** Set when the pipeline failed in a way no retry fixes (actors/Fatal.ts); it is not restarted. */
  readonly pipelineFatal: () => string | null
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
    let fatal: string | null = null
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
        if (r._tag === "Failure" && (fatal = fatalMessage(r.cause)) !== null) {
          lastError = fatal
          log.error(`FATAL, not retrying (an operator must fix this, then restart the service): ${fatal}`)
          return
        }
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
        // A large state's final snapshot can take a minute or more (1M users: ~90 s here); giving up
        // early is safe (the last periodic snapshot + replay is exact) but makes the next start slower.
        if (p !== null) {
          yield* p.drainAndSnapshot.pipe(
            Effect.timeout(300_000),
            Effect.catchCause((c) => Effect.sync(() => log.warn(`final snapshot not completed (${String(c).split("\n")[0]}); the next start replays from the last one`)))
          )
        }
        const s: Scope.Closeable | null = currentScope
        if (s !== null) yield* Scope.close(s, Exit.void)
      })
    )

    const running: Omit<Running, "config" | "rules"> = {
      boards,
      pipeline: () => current,
      pipelineError: () => lastError,
      pipelineFatal: () => fatal,
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

/** Readiness: pipeline caught up, NATS connected, snapshots succeeding, analytics keeping up. */
export const readiness = (running: Omit<Running, "config" | "rules">, nats: NatsHandle, analytics: () => AnalyticsStatus | null): Readiness => {
  const reasons: string[] = []
  const p = running.pipeline()
  const fatal = running.pipelineFatal()
  if (fatal !== null) reasons.push(`fatal, not retried: ${fatal}`)
  else if (p === null) reasons.push(`pipeline not running${running.pipelineError() ? `: ${running.pipelineError()}` : ""}`)
  else if (p.status.phase !== "ready") reasons.push(`pipeline ${p.status.phase}: at seq ${p.status.ingest.applied} of ${p.status.headAtStart}`)
  if (!nats.connected()) reasons.push("nats: disconnected")
  if (p !== null && p.status.snapshot.lastError !== null) reasons.push(`postgres: snapshots failing (${p.status.snapshot.lastError})`)
  const a = analytics()
  if (a !== null && !a.connected) reasons.push(`clickhouse: unavailable${a.lastError ? ` (${a.lastError})` : ""}`)
  return {
    ready: reasons.length === 0,
    fatal: fatal !== null,
    reasons,
    details: p === null ? {} : {
      seq: p.status.ingest.applied,
      pending: p.status.ingest.pending,
      phase: p.status.phase,
      snapshot_seq: p.status.snapshot.lastSeq,
      snapshot_age_seconds: Math.round((Date.now() - p.status.snapshot.lastAtMs) / 1000),
      ...(a === null ? {} : { analytics_durable_seq: a.durableSeq, analytics_buffered: a.bufferedRecords })
    }
  }
}


/** HTTP ingest: the same decoder and rules as the pipeline, with the server's clock as "now". */
export const validateForPublish = (rules: CompiledRules): Validate => (item) => {
  const d = decodeEventValue(item)
  const id = typeof (item as { event_id?: unknown } | null)?.event_id === "string" ? (item as { event_id: string }).event_id : null
  if (!d.ok) return { ok: false, eventId: id, reason: d.rejection.reason, message: d.rejection.message, issues: d.rejection.issues }
  const r = checkSemantics(d.event, d.timeMs, rules, Date.now())
  if (r !== null) return { ok: false, eventId: d.event.event_id, reason: r.reason, message: r.message, issues: r.issues }
  return { ok: true, eventId: d.event.event_id, json: JSON.stringify(d.event) }
}

const gaugeOnce = (() => {
  let running: (() => Pipeline | null) | null = null
  registry.gauge("arena_consumer_lag", "Messages in the stream not yet applied", (g) => g.set(running?.()?.status.ingest.pending ?? 0))
  registry.gauge("arena_applied_seq", "Last stream sequence applied", (g) => g.set(running?.()?.status.ingest.applied ?? 0))
  registry.gauge("arena_snapshot_age_seconds", "Seconds since the last committed snapshot", (g) => {
    const p = running?.()
    g.set(p ? (Date.now() - p.status.snapshot.lastAtMs) / 1000 : 0)
  })
  registry.gauge("arena_snapshot_seq", "Stream sequence of the last committed snapshot", (g) => g.set(running?.()?.status.snapshot.lastSeq ?? 0))
  return (r: () => Pipeline | null) => { running = r }
})()

/**
 * The whole service: Postgres → NATS → ClickHouse sink → supervised pipeline → gateway. Closing the
 * returned scope stops it in reverse: gateway, consumer, drain, final snapshot, sink, connections.
 */
export const startArena = (config: ArenaConfig, log: Log) =>
  Effect.gen(function*() {
    const rules = loadRules(config)
    const { sql, nats } = yield* openInfrastructure(config, log)
    const analytics = yield* makeAnalytics(config, log)
    const running = yield* supervisePipeline(config, rules, { sql, nats, analytics: analytics.sink }, log)
    gaugeOnce(running.pipeline)
    const names = streamNames(config)
    const gateway = yield* Effect.acquireRelease(
      Effect.tryPromise({
        try: () => startGateway({
          leaderboards: running.boards,
          users: makeUsers(running.pipeline, rules, analytics.ledger),
          ingest: makeIngest(nats.js, names.eventSubject, validateForPublish(rules)),
          health: { readiness: () => readiness(running, nats, analytics.status), metrics: () => registry.render() },
          notifications: { onUserNotification: running.onNotification, watchUser: running.watchUser },
          shares: new PostgresShareStore(sql),
          rules: { rules: () => rulesDocument(rules), achievements: () => achievementCatalog(rules) },
          analytics: analytics.routes,
          config: gatewayConfig(config),
          log: { warn: (m, f) => log.warn(`${m} ${f ? JSON.stringify(f) : ""}`), error: (m, f) => log.error(`${m} ${f ? JSON.stringify(f) : ""}`) }
        }),
        catch: (e) => new GatewayStartError({ message: e instanceof Error ? e.message : String(e) })
      }),
      (g) => Effect.promise(() => g.close())
    )
    log.info(`arena listening on http://${config.host}:${gateway.port} (rules ${rules.version})`)
    return { port: gateway.port, running, gateway }
  })

export class GatewayStartError extends Data.TaggedError("GatewayStartError")<{ readonly message: string }> {}
