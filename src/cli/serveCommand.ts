// `arena serve [--role all|processor|gateway]`: the whole service in one process (App.startArena),
// stopped gracefully by SIGTERM/SIGINT — closing the scope runs App's shutdown order. The role and
// ARENA_PARTITIONS are checked first (cli/ServeRole.ts).
import { Effect, Exit, Scope } from "effect"
import type { ArenaConfig } from "../Config.js"
import type { Log } from "../observability/Log.js"
import { startArena } from "../App.js"
import { parseServeRole, planServe } from "./ServeRole.js"

export const serve = async (config: ArenaConfig, log: Log, roleFlag?: unknown): Promise<number> => {
  const role = parseServeRole(roleFlag)
  if ("error" in role) { process.stderr.write(`arena serve: ${role.error}\n`); return 2 }
  const plan = planServe(role.role, config.partitions)
  if (plan._tag === "Refused") { process.stderr.write(`arena serve: ${plan.message}\n`); return 2 }
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
