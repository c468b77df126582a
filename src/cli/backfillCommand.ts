// `arena backfill`: rebuild the ClickHouse tables from the JetStream stream (resumable: writes
// only above ClickHouse's own watermarks), with progress. Run it while the service is stopped
// when ClickHouse is embedded (the service owns its data directory).
import type { JetStreamClient, JetStreamManager } from "@nats-io/jetstream"
import { Effect } from "effect"
import type { ArenaConfig } from "../Config.js"
import type { Log } from "../observability/Log.js"
import { loadRulesCandidate } from "../App.js"
import { compileHistory } from "../actors/EstablishRulesHistory.js"
import { kindSubjects } from "../domain/MessageKind.js"
import { RulesHistory } from "../domain/RulesHistory.js"
import { ensureDatabase, openDb } from "../adapters/postgres/Db.js"
import { migrate } from "../adapters/postgres/Migrations.js"
import { makeRulesStore } from "../adapters/postgres/RulesStore.js"
import { backfill } from "../jobs/Backfill.js"
import type { BackfillOptions, BackfillResult } from "../jobs/Backfill.js"
import { makeClickHouseAnalyticsStore } from "../adapters/clickhouse/ClickHouseAnalyticsStore.js"
import { openClickHouseScoped } from "../adapters/clickhouse/ClickHouseClient.js"
import type { ClickHouseHandle } from "../adapters/clickhouse/ClickHouseClient.js"
import { makeEventSource } from "../adapters/nats/EventSource.js"
import { openNats } from "../adapters/nats/Nats.js"
import { streamNames } from "../adapters/nats/Streams.js"
import { makeVoidScan } from "../adapters/nats/VoidScan.js"
import { makeProjectionStore } from "../adapters/postgres/ProjectionStore.js"
import type { PortFailure } from "../ports/Failure.js"

export interface RunBackfillOptions extends Omit<BackfillOptions, "events" | "store"> {
  readonly js: JetStreamClient
  readonly jsm: JetStreamManager
  readonly stream: string
  /** The deployment's subject prefix (`arena.xp`): tells corrections from events. */
  readonly subjectPrefix?: string
  readonly clickhouse: ClickHouseHandle
}

/** The backfill job over JetStream and ClickHouse (the wiring the command and its test share). */
export const runBackfill = (o: RunBackfillOptions): Effect.Effect<BackfillResult, PortFailure> => {
  const { js, jsm, stream, clickhouse, subjectPrefix, ...rest } = o
  return backfill({ ...rest, events: makeEventSource({ js, jsm }, stream, kindSubjects(subjectPrefix ?? "arena.xp")), store: makeClickHouseAnalyticsStore(clickhouse, o.log ?? (() => {})) })
}

export const backfillCommand = async (config: ArenaConfig, log: Log): Promise<number> => {
  const abort = new AbortController()
  process.once("SIGINT", () => { log.info("stopping after the current batch"); abort.abort() })
  const program = Effect.gen(function*() {
    const nats = yield* openNats(config.natsUrl, "arena-backfill")
    const clickhouse = yield* openClickHouseScoped(config)
    // Each event under the version it was scored with: the recorded history (the file alone when none is).
    yield* ensureDatabase(config.databaseUrl)
    const sql = yield* openDb(config.databaseUrl)
    yield* migrate(sql)
    const candidate = loadRulesCandidate(config)
    const stored = yield* makeRulesStore(sql).history
    const history = stored.length === 0 ? RulesHistory.single(candidate.rules, candidate.contentHash) : yield* compileHistory(stored, candidate)
    log.info(stored.length === 0 ? `rules: no history recorded; ${candidate.rules.version} for the whole stream` : `rules: ${stored.length} recorded version(s), ${history.current.rules.version} in force`)
    // Voids (§10): the current projection re-scored those up to the seq its re-projection was built through.
    const projections = makeProjectionStore(sql)
    const projection = yield* projections.current
    const builtSeq = projection === 0 ? 0 : (yield* projections.get(projection))?.built_seq ?? 0
    const scan = makeVoidScan(makeEventSource(nats, config.stream, kindSubjects(config.subjectPrefix), { filterSubject: streamNames(config).correctionSubject }))
    const r = yield* runBackfill({
      js: nats.js, jsm: nats.jsm, stream: config.stream, subjectPrefix: config.subjectPrefix, clickhouse, history, signal: abort.signal, voids: { scan, projection, builtSeq },
      log: (m) => log.info(m),
      onProgress: (p) => process.stderr.write(`\rbackfill: seq ${p.seq}/${p.lastSeq} ${p.percent.toFixed(1)}% ${Math.round(p.eventsPerSecond)} ev/s, ${p.written} records written, ${p.skipped} already there   `)
    })
    process.stderr.write("\n")
    log.info(`backfill done: ${JSON.stringify(r)}`)
  })
  const exit = await Effect.runPromiseExit(Effect.scoped(program))
  if (exit._tag === "Failure") { log.error(String(exit.cause)); return 1 }
  return 0
}
