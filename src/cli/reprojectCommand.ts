// `arena rules reproject <projection> [--progress-json]`: the shadow build of a retroactive apply
// (src/actors/ShadowBuild.ts). Started by the service (adapters/process/ReprojectionBuilds.ts) as a
// child process with its own environment; not meant to be run by hand. It exits when its parent
// does (its stdin closes), so a killed service leaves no build behind; the next start resumes it.
import { Effect } from "effect"
import type { ArenaConfig } from "../Config.js"
import type { Log } from "../observability/Log.js"
import { compileHistory } from "../actors/EstablishRulesHistory.js"
import { makeEventSource } from "../adapters/nats/EventSource.js"
import { openNats } from "../adapters/nats/Nats.js"
import { makeVoidScan } from "../adapters/nats/VoidScan.js"
import { openDb } from "../adapters/postgres/Db.js"
import { makeProjectionStore } from "../adapters/postgres/ProjectionStore.js"
import { makeShadowRecordsFile, projectionRowsDir } from "../adapters/clickhouse/ProjectionRows.js"
import { streamNames } from "../adapters/nats/Streams.js"
import { kindSubjects } from "../domain/MessageKind.js"
import { buildShadowProjection } from "../actors/ShadowBuild.js"

export const reprojectCommand = async (config: ArenaConfig, log: Log, arg: string | undefined, flags: Readonly<Record<string, unknown>>): Promise<number> => {
  const projection = Number(arg)
  if (!Number.isInteger(projection) || projection < 1) {
    process.stderr.write("usage: arena rules reproject <projection> [--progress-json] (started by the service for a retroactive apply)\n")
    return 2
  }
  const progressJson = flags["progress-json"] === true
  if (progressJson) {
    // The service holds our stdin: when it goes (even kill -9), so does this build.
    process.stdin.on("end", () => process.exit(3)).on("error", () => process.exit(3)).resume()
    // And if the pipe outlives it somehow: a child re-parented (to init or a subreaper) stops.
    const parent = process.ppid
    setInterval(() => { if (process.ppid !== parent) process.exit(3) }, 500).unref()
  }
  const program = Effect.gen(function*() {
    const sql = yield* openDb(config.databaseUrl)
    const store = makeProjectionStore(sql)
    const row = yield* store.get(projection)
    if (row === null || row.state !== "pending") return yield* Effect.fail(new Error(`re-projection ${projection} is ${row?.state ?? "not recorded"}, not pending`))
    const history = yield* compileHistory(yield* store.history(projection))
    const nats = yield* openNats(config.natsUrl, "arena-reproject")
    return yield* buildShadowProjection({
      events: makeEventSource(nats, config.stream, kindSubjects(config.subjectPrefix)),
      // Its voids are read first: each takes back what its event is worth under the new rules.
      voids: makeVoidScan(makeEventSource(nats, config.stream, kindSubjects(config.subjectPrefix), { filterSubject: streamNames(config).correctionSubject })),
      store,
      projection,
      history,
      // The service loads them into ClickHouse (only it may open the embedded engine).
      records: makeShadowRecordsFile(projectionRowsDir(config.dataDir, projection), projection),
      pauseMs: config.reprojectionStepPauseMs,
      onProgress: (p) => {
        if (progressJson) process.stderr.write(JSON.stringify({ progress: { seq: p.seq, last_seq: p.lastSeq, percent: Math.round(p.percent * 10) / 10, events_per_second: p.eventsPerSecond } }) + "\n")
      },
      log: (l) => log.info(l)
    })
  })
  const exit = await Effect.runPromiseExit(Effect.scoped(program))
  if (exit._tag === "Failure") {
    log.error(`re-projection ${projection} failed: ${String(exit.cause)}`)
    return 1
  }
  process.stdout.write(JSON.stringify(exit.value) + "\n")
  return 0
}
