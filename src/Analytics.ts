// Which analytics the service runs with: the ClickHouse sink actor (pipeline side), the ledger
// reader and the dashboard/SQL routes (gateway side), over the configured ClickHouse (embedded
// chDB in a child process by default, or a server). The scope closes the sink (final flush) first.
import { Effect } from "effect"
import type { ArenaConfig } from "./Config.js"
import type { Log } from "./Log.js"
import type { AnalyticsSink } from "./ports/Analytics.js"
import { makeAnalyticsActor } from "./actors/AnalyticsActor.js"
import type { LedgerReader } from "./actors/Users.js"
import { AnalyticsQueries } from "./adapters/clickhouse/AnalyticsQueries.js"
import { makeClickHouseAnalyticsStore } from "./adapters/clickhouse/ClickHouseAnalyticsStore.js"
import { openClickHouseScoped } from "./adapters/clickhouse/ClickHouseClient.js"
import { describeTarget } from "./adapters/clickhouse/ClickHouseTarget.js"
import type { AnalyticsRoutesPort } from "./ports/AnalyticsQueries.js"

export interface AnalyticsStatus {
  readonly connected: boolean
  readonly bufferedRecords: number
  readonly durableSeq: number
  readonly lastError: string | null
}

export interface Analytics {
  readonly sink: AnalyticsSink
  readonly ledger: LedgerReader
  readonly routes: AnalyticsRoutesPort
  readonly status: () => AnalyticsStatus
}

export const makeAnalytics = (config: ArenaConfig, log: Log) =>
  Effect.gen(function*() {
    const ch = yield* openClickHouseScoped(config)
    log.info(`analytics: ClickHouse ${describeTarget(ch.target)}`)
    const sink = yield* makeAnalyticsActor(makeClickHouseAnalyticsStore(ch, (m) => log.info(m)))
    const queries = new AnalyticsQueries(ch.client)
    return {
      sink,
      ledger: (userId, limit, cursor) => queries.ledger(userId, limit, cursor),
      routes: queries,
      status: () => Effect.runSync(sink.status)
    } satisfies Analytics
  })
