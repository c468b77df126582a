// Which analytics the service runs with: the ClickHouse sink (pipeline side), the ledger reader
// and the dashboard routes (gateway side), all over the configured ClickHouse.
import { Effect } from "effect"
import type { ArenaConfig } from "./Config.js"
import type { Log } from "./Log.js"
import type { AnalyticsSink } from "./actors/AnalyticsPort.js"
import type { LedgerReader } from "./actors/Users.js"
import type { AnalyticsRoutesPort } from "./gateway/deps.js"
import type { AnalyticsStatus } from "./App.js"

export interface Analytics {
  readonly sink: AnalyticsSink
  readonly ledger: LedgerReader
  readonly routes: AnalyticsRoutesPort | undefined
  readonly status: () => AnalyticsStatus | null
}

export const makeAnalytics = (_config: ArenaConfig, log: Log) =>
  Effect.sync((): Analytics => {
    log.warn("analytics: the ClickHouse sink is not wired in this build; awards are not exported")
    return {
      sink: { submit: () => Effect.void, awaitDurable: () => Effect.void },
      ledger: async () => ({ entries: [], next_cursor: null }),
      routes: undefined,
      status: () => null
    }
  })
