// `arena serve`: the whole service in one process, stopped gracefully by SIGTERM/SIGINT.
import { Effect, Exit, Scope } from "effect"
import type { ArenaConfig } from "../Config.js"
import type { Log } from "../Log.js"
import { loadRules, openInfrastructure, supervisePipeline } from "../App.js"
import type { AnalyticsSink } from "../actors/AnalyticsPort.js"
import { startHttp } from "./http.js"

export const serve = async (config: ArenaConfig, log: Log): Promise<number> => {
  const rules = loadRules(config)
  const scope = Effect.runSync(Scope.make())
  const program = Effect.gen(function*() {
    const { sql, nats } = yield* openInfrastructure(config, log)
    const analytics: AnalyticsSink = yield* makeAnalytics(config, log)
    const running = yield* supervisePipeline(config, rules, { sql, nats, analytics }, log)
    const http = yield* Effect.promise(() => startHttp({ config, rules, running, nats, log }))
    yield* Effect.addFinalizer(() => Effect.promise(() => http.close()))
    log.info(`arena listening on http://${config.host}:${http.port} (rules ${rules.version})`)
  })
  const exit = await Effect.runPromiseExit(program.pipe(Scope.provide(scope)))
  if (exit._tag === "Failure") {
    log.error(`could not start: ${String(exit.cause)}`)
    await Effect.runPromise(Scope.close(scope, Exit.void))
    return 1
  }
  await new Promise<void>((resolve) => {
    const stop = (sig: string) => { log.info(`${sig}: shutting down`); resolve() }
    process.once("SIGTERM", () => stop("SIGTERM"))
    process.once("SIGINT", () => stop("SIGINT"))
  })
  await Effect.runPromise(Scope.close(scope, Exit.void))
  log.info("stopped")
  process.exit(0)
}

import { makeAnalytics } from "./analytics.js"
