// `arena backfill`: rebuild the ClickHouse tables from the JetStream stream (resumable: writes
// only above ClickHouse's own watermarks), with progress. Run it while the service is stopped
// when ClickHouse is embedded (the service owns its data directory).
import { Effect } from "effect"
import type { ArenaConfig } from "../Config.js"
import type { Log } from "../Log.js"
import { loadRules } from "../App.js"
import { runBackfill } from "../jobs/Backfill.js"
import { openClickHouseScoped } from "../adapters/clickhouse/ClickHouseClient.js"
import { openNats } from "../adapters/nats/Nats.js"

export const backfillCommand = async (config: ArenaConfig, log: Log): Promise<number> => {
  const abort = new AbortController()
  process.once("SIGINT", () => { log.info("stopping after the current batch"); abort.abort() })
  const program = Effect.gen(function*() {
    const nats = yield* openNats(config.natsUrl, "arena-backfill")
    const clickhouse = yield* openClickHouseScoped(config)
    const r = yield* runBackfill({
      js: nats.js, jsm: nats.jsm, stream: config.stream, clickhouse, rules: loadRules(config), signal: abort.signal,
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
