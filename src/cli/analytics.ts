// Which analytics sink the service runs with. The ClickHouse sink actor plugs in here.
import { Effect } from "effect"
import type { ArenaConfig } from "../Config.js"
import type { Log } from "../Log.js"
import type { AnalyticsSink } from "../actors/AnalyticsPort.js"

export const makeAnalytics = (_config: ArenaConfig, log: Log) =>
  Effect.sync((): AnalyticsSink => {
    log.warn("analytics: the ClickHouse sink is not wired in this build; awards are not exported")
    return { submit: () => Effect.void, awaitDurable: () => Effect.void }
  })
