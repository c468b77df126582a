// Wiring only: builds the adapters, hands their ports to the pipeline and the gateway, and owns the
// start order and the reverse stop order. Start: Postgres (migrate) → NATS (streams) → ClickHouse
// sink → supervised pipeline (rules history, load, replay) → gateway. Stop, in reverse (scope finalizers): gateway
// closes, the consumer stops, batches drain, a final snapshot, sink, connections.
import { Data, Effect } from "effect"
import { createHash } from "node:crypto"
import * as fs from "node:fs"
import type { ArenaConfig } from "./Config.js"
import { makeAnalyticsActor } from "./actors/AnalyticsActor.js"
import { startErasures } from "./actors/Erasures.js"
import { establishRulesHistory } from "./actors/EstablishRulesHistory.js"
import type { RulesCandidate } from "./actors/EstablishRulesHistory.js"
import { LiveBoards } from "./actors/LiveBoards.js"
import { GroupBoards } from "./actors/GroupBoards.js"
import { LiveFeed } from "./actors/LiveFeed.js"
import { startPipeline } from "./actors/Pipeline.js"
import { supervisePipeline } from "./actors/Supervisor.js"
import { makeCorrections } from "./actors/Corrections.js"
import { makeRulesApply } from "./actors/RulesApply.js"
import { Reprojections } from "./actors/Reprojections.js"
import { makeProjectionStore } from "./adapters/postgres/ProjectionStore.js"
import { ReprojectionBuilds } from "./adapters/process/ReprojectionBuilds.js"
import { makeUsers } from "./actors/Users.js"
import { AnalyticsQueries } from "./adapters/clickhouse/AnalyticsQueries.js"
import { makeClickHouseAnalyticsStore } from "./adapters/clickhouse/ClickHouseAnalyticsStore.js"
import { makeProjectionRowsLoader } from "./adapters/clickhouse/ProjectionRows.js"
import { openClickHouseScoped } from "./adapters/clickhouse/ClickHouseClient.js"
import { describeTarget } from "./adapters/clickhouse/ClickHouseTarget.js"
import { makeEventSource } from "./adapters/nats/EventSource.js"
import { openNats } from "./adapters/nats/Nats.js"
import type { NatsLiveness } from "./adapters/nats/Nats.js"
import { DeadLetters } from "./adapters/nats/DeadLetters.js"
import { makeErasureStream } from "./adapters/nats/ErasureStream.js"
import { makeIngest } from "./adapters/nats/Publisher.js"
import { makeSettingsPublisher } from "./adapters/nats/SettingsPublisher.js"
import { provisionStreams, streamNames } from "./adapters/nats/Streams.js"
import { ensureDatabase, openDb } from "./adapters/postgres/Db.js"
import { makeErasureStore } from "./adapters/postgres/ErasureStore.js"
import { migrate } from "./adapters/postgres/Migrations.js"
import { PostgresShareStore } from "./adapters/postgres/ShareStore.js"
import { PostgresGroupStore } from "./adapters/postgres/GroupStore.js"
import { DryRunJobs } from "./adapters/process/DryRunJobs.js"
import { makeRulesStore } from "./adapters/postgres/RulesStore.js"
import { makeSnapshotStore } from "./adapters/postgres/SnapshotStore.js"
import { DEFAULT_RULES } from "./domain/DefaultRules.js"
import { kindSubjects } from "./domain/MessageKind.js"
import { checkForPublish } from "./domain/PublishCheck.js"
import { achievementCatalog, loadRulesOrThrow, rulesDocument } from "./domain/Rules.js"
import type { CompiledRules } from "./domain/Rules.js"
import { canonicalRulesText, refusedRulesDocument, rulesHistoryDocument } from "./domain/RulesHistory.js"
import type { RulesHistory } from "./domain/RulesHistory.js"
import { startGateway } from "./gateway/Gateway.js"
import { gatewayConfig } from "./gateway/GatewayConfig.js"
import type { Log } from "./observability/Log.js"
import { registry } from "./observability/Metrics.js"
import { watchPipeline } from "./observability/PipelineGauges.js"
import { watchGc } from "./observability/LoopBlocks.js"
import { readiness } from "./observability/Readiness.js"
import type { StoredRulesVersion } from "./ports/RulesStore.js"

export const loadRules = (config: ArenaConfig): CompiledRules => loadRulesCandidate(config).rules

/** sha256 (hex) of a rules document's canonical text: what "the same content" means (§10). */
export const rulesContentHash = (rules: CompiledRules): string => createHash("sha256").update(canonicalRulesText(rules.document)).digest("hex")

/** A rules file (or the built-in defaults) validated, with its text and content hash. */
export const rulesCandidateOf = (path: string | undefined, label = "ARENA_RULES"): RulesCandidate => {
  const body = path === undefined ? JSON.stringify(DEFAULT_RULES.document, null, 2) + "\n" : fs.readFileSync(path, "utf8")
  const rules = path === undefined ? DEFAULT_RULES : loadRulesOrThrow(JSON.parse(body))
  return { rules, body, contentHash: rulesContentHash(rules), source: path === undefined ? "built-in defaults" : `${label}=${path}` }
}

export const loadRulesCandidate = (config: ArenaConfig): RulesCandidate => rulesCandidateOf(config.rulesPath)

/** Postgres and NATS, ready for the pipeline: database created and migrated, streams applied. */
export const openInfrastructure = (config: ArenaConfig, log: Log, liveness?: NatsLiveness) =>
  Effect.gen(function*() {
    const created = yield* ensureDatabase(config.databaseUrl)
    if (created) log.info(`created database ${new URL(config.databaseUrl).pathname.slice(1)}`)
    const sql = yield* openDb(config.databaseUrl)
    const applied = yield* migrate(sql)
    log.info(applied.length > 0 ? `postgres migrations applied: ${applied.join(", ")}` : "postgres migrations: up to date")
    const nats = yield* openNats(config.natsUrl, "arena", liveness)
    // Partitioned mode on a NATS cluster: R3 event and dead-letter streams (Streams.ts; single-process mode keeps the files' R1).
    for (const line of yield* provisionStreams(nats.jsm, { ...config, replicas: nats.nc.info?.cluster === undefined ? 1 : 3 })) log.info(line)
    return { sql, nats }
  })

/**
 * Analytics over the configured ClickHouse (embedded chDB in a child process by default, or a
 * server): the sink actor (pipeline side), the ledger reader and the dashboard/SQL routes (gateway
 * side), all on the rows of the current projection (`projection`, from Postgres; switched by a
 * re-projection, §10). The scope closes the sink (final flush) before the client.
 */
export const openAnalytics = (config: ArenaConfig, log: Log, projection = 0) =>
  Effect.gen(function*() {
    const ch = yield* openClickHouseScoped(config, { warn: (m) => log.warn(m) })
    log.info(`analytics: ClickHouse ${describeTarget(ch.target)}${projection > 0 ? `, projection ${projection}` : ""}`)
    let current = projection
    const sink = yield* makeAnalyticsActor(makeClickHouseAnalyticsStore(ch, (m) => log.info(m), () => current))
    const queries = new AnalyticsQueries(ch.client, undefined, () => current)
    return {
      sink,
      /** A re-projection's switch: the sink and the reads take `p`'s rows from here on. */
      useProjection: (p: number) => sink.reproject(() => { current = p }),
      /** The projection the reads (and the sink) are on now. */
      projection: () => current,
      projectionRows: makeProjectionRowsLoader({ client: ch.client, dataDir: config.dataDir, exclusively: sink.exclusively }),
      ledger: (userId: string, limit: number, beforeSeq: number | null) => queries.ledger(userId, limit, beforeSeq),
      pendingLedger: (userId: string) => sink.pendingLedger(userId),
      awardOf: async (eventId: string) => sink.pendingAward(eventId) ?? queries.awardOf(eventId),
      routes: queries,
      status: () => Effect.runSync(sink.status),
      erasure: {
        awaitDurable: (seq: number) => Effect.runPromise(sink.awaitDurable(seq)),
        userSeqs: (userId: string, beforeSeq: number) => queries.userSeqs(userId, beforeSeq),
        deleteSeqs: (seqs: ReadonlyArray<number>) => Effect.runPromise(sink.eraseSeqs(seqs)),
        describe: () => `projection ${current}: ${sink.describe()}`
      }
    }
  })

/**
 * The whole service: Postgres → NATS → ClickHouse sink → supervised pipeline → gateway. Closing the
 * returned scope stops it in reverse: gateway, consumer, drain, final snapshot, sink, connections.
 */
export const startArena = (config: ArenaConfig, log: Log) =>
  Effect.gen(function*() {
    const candidate = loadRulesCandidate(config)
    const rules = candidate.rules
    const names = streamNames(config)
    const { sql, nats } = yield* openInfrastructure(config, log)
    const projections = makeProjectionStore(sql)
    const analytics = yield* openAnalytics(config, log, yield* projections.current)
    // Made once: the gateway holds them across pipeline restarts.
    const boards = new LiveBoards()
    const feed = new LiveFeed(boards)
    // Groups are loaded before the pipeline starts, so group boards are whole from its first view.
    const groups = new GroupBoards(new PostgresGroupStore(sql), boards.emitView)
    const groupCount = yield* Effect.tryPromise({ try: () => groups.load(), catch: (e) => new GatewayStartError({ message: `loading groups: ${e instanceof Error ? e.message : String(e)}` }) })
    boards.useGroups(groups)
    log.info(`groups: ${groupCount} loaded`)
    const events = makeEventSource(nats, names.events, kindSubjects(config.subjectPrefix), { log: (m) => log.warn(`event consumer: ${m}`) })
    const snapshots = makeSnapshotStore(sql)
    const rulesStore = makeRulesStore(sql)
    // What GET /v1/rules shows: the recorded versions and, once established, the compiled history.
    let recorded: ReadonlyArray<StoredRulesVersion> = []
    let history: RulesHistory | null = null
    let refusal: string | null = null
    const pipeline = yield* supervisePipeline({
      boards,
      log,
      // Each start first puts the rules file under the history's rule (a no-op once it is in force).
      start: (latch) => Effect.gen(function*() {
        const established = yield* establishRulesHistory({ candidate, events, store: rulesStore, log: (l) => log.info(l), onHistory: (v) => { recorded = v } }).pipe(
          Effect.tapError((e) => Effect.sync(() => { if (e._tag === "RulesVersionConflict") refusal = e.message }))
        )
        history = established.history
        return yield* startPipeline({
          events,
          snapshots,
          openDeadLetters: () => new DeadLetters(nats.js, names.dlqSubject, { maxPayload: () => nats.nc.info?.max_payload ?? 1024 * 1024 }),
          analytics: analytics.sink,
          feed,
          history: established.history,
          projection: established.projection,
          batchMax: config.batchMax,
          snapshotIntervalMs: config.snapshotIntervalMs,
          latch,
          log: (l) => log.info(l)
        })
      })
    })
    watchPipeline(pipeline.current)
    const erasureStore = makeErasureStore(sql)
    // Erasures (§11): resumed from Postgres at start, run one at a time beside the pipeline.
    const erasures = yield* startErasures({
      store: erasureStore,
      stream: makeErasureStream(nats.js, nats.jsm, { events: names.events, deadLetters: names.dlq, subject: names.erasureSubject, settingsSubject: names.settingsSubject }),
      analytics: analytics.erasure,
      pipeline: {
        applied: () => pipeline.current()?.status.ingest.applied ?? null,
        snapshotSeq: () => pipeline.current()?.status.snapshot.lastSeq ?? null,
        requestSnapshot: () => {
          const p = pipeline.current()
          if (p !== null) Effect.runFork(p.requestSnapshot)
        }
      },
      log: (l) => log.info(l),
      stepPauseMs: config.erasureStepPauseMs,
      groups
    })
    watchGc()
    const users = makeUsers(pipeline.current, analytics.ledger, analytics.pendingLedger, () => boards.unavailable())
    // The server's clock is "now" for HTTP ingest's future-timestamp check.
    const ingest = makeIngest(nats.js, names.eventSubject, (item) => checkForPublish(item, rules, Date.now()))
    // Dry runs are child processes with this service's environment (same stream, same database).
    const dryRuns = yield* Effect.acquireRelease(Effect.sync(() => new DryRunJobs({ env: process.env, log: (l) => log.info(l) })), (d) => Effect.promise(() => d.close()))
    // Retroactive applies (§10): shadow builds as child processes, the switch through the supervisor.
    const reprojections = yield* Effect.acquireRelease(Effect.sync(() => new Reprojections({
      store: projections,
      builder: new ReprojectionBuilds({ env: process.env, log: (l) => log.info(l) }),
      rows: analytics.projectionRows,
      erasingSeqs: () => erasureStore.erasingSeqs(),
      eraseRows: (seqs) => analytics.erasure.deleteSeqs(seqs),
      useProjection: analytics.useProjection,
      restart: pipeline.restart,
      headSeq: events.head.pipe(Effect.map((h) => h.lastSeq)),
      newEpoch: () => boards.newEpochOnNextAttach(),
      pauseMs: config.reprojectionStepPauseMs,
      log: (l) => log.info(l)
    })), (r) => Effect.sync(() => r.close()))
    yield* Effect.tryPromise({ try: () => reprojections.resume(), catch: (e) => new GatewayStartError({ message: `resuming a re-projection: ${e instanceof Error ? e.message : String(e)}` }) })
    const gateway = yield* Effect.acquireRelease(
      Effect.tryPromise({
        try: () => startGateway({
          leaderboards: boards,
          users,
          ingest,
          settings: makeSettingsPublisher(ingest.publisher, names.settingsSubject),
          corrections: makeCorrections({
            pipeline: pipeline.current,
            awardOf: analytics.awardOf,
            projection: analytics.projection,
            openReprojection: () => reprojections.open(),
            ledger: users.ledger,
            publish: async (id, json) => {
              const [o] = await ingest.publisher.publishBatch(names.correctionSubject, [{ msgId: id, data: json }])
              return o === undefined ? { ok: false, message: "no outcome" } : o.ok ? { ok: true, seq: o.seq, duplicate: o.duplicate } : { ok: false, message: o.message }
            }
          }),
          health: {
            readiness: () => readiness({
              pipeline: pipeline.current, pipelineError: pipeline.lastError, pipelineFatal: pipeline.fatal, natsConnected: nats.connected, analytics: analytics.status, now: Date.now
            }),
            metrics: () => registry.render()
          },
          notifications: feed,
          shares: new PostgresShareStore(sql),
          erasures,
          groups,
          rules: {
            rules: () => history === null ? refusedRulesDocument(rulesDocument(rules), recorded, refusal) : rulesHistoryDocument(history),
            achievements: () => achievementCatalog(history?.current.rules ?? rules)
          },
          dryRuns,
          rulesApply: makeRulesApply({
            store: rulesStore,
            restart: pipeline.restart,
            establish: (c) => establishRulesHistory({ candidate: c, events, store: rulesStore, log: (l) => log.info(l), mode: "apply", onHistory: (v) => { recorded = v } }),
            retroactive: { start: (c) => reprojections.start(c), last: () => reprojections.last(), open: () => reprojections.open() },
            log: (l) => log.info(l)
          }),
          analytics: analytics.routes,
          config: gatewayConfig(config),
          log: { warn: (m, f) => log.warn(`${m} ${f ? JSON.stringify(f) : ""}`), error: (m, f) => log.error(`${m} ${f ? JSON.stringify(f) : ""}`) }
        }),
        catch: (e) => new GatewayStartError({ message: e instanceof Error ? e.message : String(e) })
      }),
      (g) => Effect.promise(() => g.close())
    )
    log.info(`arena listening on http://${config.host}:${gateway.port} (rules ${rules.version}; WebSocket threads ${config.wsThreads})`)
    return { port: gateway.port, pipeline, gateway }
  })

export class GatewayStartError extends Data.TaggedError("GatewayStartError")<{ readonly message: string }> {}
