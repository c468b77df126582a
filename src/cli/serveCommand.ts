// `arena serve`: the whole service in one process (App.startArena), stopped gracefully by
// SIGTERM/SIGINT — closing the scope runs App's shutdown order.
import { Effect, Exit, Scope } from "effect"
import type { ArenaConfig } from "../Config.js"
import type { Log } from "../observability/Log.js"
import { startArena } from "../App.js"

export const serve = async (config: ArenaConfig, log: Log): Promise<number> => {
  if (process.env.ARENA_SHARDS !== undefined) log.warn("ARENA_SHARDS is no longer used and is ignored: the pipeline applies events in one loop over the user table (README, Architecture)")
  const scope = Effect.runSync(Scope.make())
  const exit = await Effect.runPromiseExit(startArena(config, log).pipe(Scope.provide(scope)))
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
