// `arena serve [--role all|processor|gateway]`: the whole service in one process (App.startArena),
// stopped gracefully by SIGTERM/SIGINT — closing the scope runs App's shutdown order. The role and
// ARENA_PARTITIONS are checked first (cli/ServeRole.ts). The signal handlers are installed before
// start-up (the gateway listens while state still loads): a signal then interrupts the start-up,
// whose acquired parts are released in reverse order, instead of the default action killing the
// process half-way.
import { setFlagsFromString } from "node:v8"
import { Effect, Exit, Fiber, Scope } from "effect"
import type { ArenaConfig } from "../Config.js"
import type { Log } from "../observability/Log.js"
import { startArena } from "../App.js"
import { startPartitioned } from "../PartitionedApp.js"
import { parseServeRole, planServe } from "./ServeRole.js"

/**
 * V8's old-generation growth between full GCs, as a percentage (V8 otherwise picks a factor from
 * its own GC speed). The service keeps its state in typed arrays outside the JS heap, so the heap's
 * live part is small (~40 MB at 100k users) and V8 chose a limit a few MB above it: under a
 * 2,000 events/s stream and 10k sockets it ran a full GC every ~2.7 s (22 a minute, most 8–32 ms
 * of the thread that publishes board views). With 300 (the heap may reach 4× its live part before a
 * full GC: ~160 MB there) it ran 4 a minute. `node --heap-growing-percent=N` overrides it.
 */
export const HEAP_GROWING_PERCENT = 300

export const serve = async (config: ArenaConfig, log: Log, roleFlag?: unknown): Promise<number> => {
  if (!process.execArgv.some((a) => a.startsWith("--heap-growing-percent"))) setFlagsFromString(`--heap-growing-percent=${HEAP_GROWING_PERCENT}`)
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
