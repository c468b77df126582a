// `arena serve [--role all|processor|gateway]`: the whole service in one process (App.startArena),
// stopped gracefully by SIGTERM/SIGINT — closing the scope runs App's shutdown order. The role and
// ARENA_PARTITIONS are checked first (cli/ServeRole.ts). The signal handlers are installed before
// start-up (the gateway listens while state still loads): a signal then interrupts the start-up,
// whose acquired parts are released in reverse order, instead of the default action killing the
// process half-way.
import { Effect, Exit, Fiber, Scope } from "effect"
import type { ArenaConfig } from "../Config.js"
import type { Log } from "../observability/Log.js"
import { startArena } from "../App.js"
import { startPartitioned } from "../PartitionedApp.js"
import { parseServeRole, planServe } from "./ServeRole.js"

export const serve = async (config: ArenaConfig, log: Log, roleFlag?: unknown): Promise<number> => {
  const role = parseServeRole(roleFlag)
  if ("error" in role) { process.stderr.write(`arena serve: ${role.error}\n`); return 2 }
  const plan = planServe(role.role, config.partitions, config.subjectPrefix)
  if (plan._tag === "Refused") { process.stderr.write(`arena serve: ${plan.message}\n`); return 2 }
  if (process.env.ARENA_SHARDS !== undefined) log.warn("ARENA_SHARDS is no longer used and is ignored: the pipeline applies events in one loop over the user table (README, Architecture)")
  const scope = Effect.runSync(Scope.make())
  const start = plan._tag === "Partitioned" ? startPartitioned(config, log, plan.role) : startArena(config, log).pipe(Effect.asVoid)
  const starting = Effect.runFork(start.pipe(Scope.provide(scope)))
  let signalled: string | null = null
  let wake: () => void = () => undefined
  const stopped = new Promise<void>((resolve) => (wake = resolve))
  const onSignal = (sig: string): void => {
    if (signalled !== null) return
    signalled = sig
    if (starting.pollUnsafe() === undefined) {
      log.info(`${sig} during start-up: stopping`)
      starting.interruptUnsafe()
    } else {
      log.info(`${sig}: shutting down`)
    }
    wake()
  }
  process.once("SIGTERM", () => onSignal("SIGTERM"))
  process.once("SIGINT", () => onSignal("SIGINT"))
  const exit = await Effect.runPromise(Fiber.await(starting))
  if (exit._tag === "Failure") {
    const interrupted = signalled !== null && Exit.hasInterrupts(exit)
    if (!interrupted) log.error(`could not start: ${String(exit.cause)}`)
    await Effect.runPromise(Scope.close(scope, Exit.void))
    if (interrupted) { log.info("stopped"); process.exit(0) }
    return 1
  }
  await stopped
  await Effect.runPromise(Scope.close(scope, Exit.void))
  log.info("stopped")
  process.exit(0)
}
