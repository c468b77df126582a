// Runs the pipeline under supervision: an actor defect (the latch) stops it and it starts again
// from the last snapshot, with back-off; so does a failed start. The gateway stays up meanwhile
// (LiveBoards detaches and re-attaches), and `lastError` says why it is not running, as a sentence.
import { Data, Deferred, Effect, Exit, Scope } from "effect"
import type { Schedule } from "effect"
import { backoff } from "../domain/Backoff.js"
import type { Log } from "../observability/Log.js"
import type { PortFailure } from "../ports/Failure.js"
import { causeSentence } from "./Actor.js"
import { fatalMessage } from "./Fatal.js"
import type { ActorDefect, FailureLatch } from "./Actor.js"
import type { LiveBoards } from "./LiveBoards.js"
import type { Pipeline } from "./Pipeline.js"

export interface SupervisorOptions {
  /** Starts one pipeline in the given scope; its actors fail `latch` on a defect. */
  readonly start: (latch: FailureLatch) => Effect.Effect<Pipeline, PortFailure, Scope.Scope>
  /** The gateway's leaderboards: attached to each running pipeline's boards. */
  readonly boards: LiveBoards
  readonly log: Pick<Log, "error" | "warn">
  /** Delay between runs (default: 250 ms doubling up to 10 s). */
  readonly restart?: Schedule.Schedule<unknown>
}

export interface SupervisedPipeline {
  /** The running pipeline, null while (re)starting. */
  readonly current: () => Pipeline | null
  /** Why the last run ended or could not start, as one sentence; null while one runs. */
  readonly lastError: () => string | null
  /** Set when the pipeline failed in a way no retry fixes (Fatal.ts): it is not restarted. */
  readonly fatal: () => string | null
  /**
   * Stops the running pipeline on purpose (its consumer, a final snapshot of what it applied),
   * runs `between` while no pipeline runs (nothing is applied meanwhile: a rules apply records its
   * version from the stream head here; a re-projection switches here), then starts one again at
   * once. Completes with `between`'s outcome once the next pipeline has been started (or has
   * failed to start, which the supervisor retries as usual). Fails with a sentence when no
   * pipeline is running (starting, restarting, fatal) or another restart is under way.
   */
  readonly restart: <A, E>(reason: string, between: Effect.Effect<A, E>) => Effect.Effect<A, E | RestartRefused>
}

/** A requested restart that cannot happen now (no pipeline runs, or another restart is under way). */
export class RestartRefused extends Data.TaggedError("RestartRefused")<{ readonly message: string }> {}

interface RestartRequest {
  readonly reason: string
  readonly between: Effect.Effect<unknown, unknown>
  readonly done: Deferred.Deferred<unknown, unknown>
}

export const supervisePipeline = (o: SupervisorOptions): Effect.Effect<SupervisedPipeline, never, Scope.Scope> =>
  Effect.gen(function*() {
    let current: Pipeline | null = null
    let lastError: string | null = null
    let fatal: string | null = null
    let stopping = false
    let currentScope: Scope.Closeable | null = null
    let attempt = 0
    /** Set while a pipeline runs: a restart request completes it. */
    let restartSlot: Deferred.Deferred<RestartRequest> | null = null
    /** The request put in the slot (answered with RestartRefused if a defect ends the run first). */
    let requested: RestartRequest | null = null
    /** A restart's outcome, given to its caller once the next pipeline has started (or failed to). */
    let carrying: { readonly done: Deferred.Deferred<unknown, unknown>; readonly value: unknown } | null = null

    const runOnce = Effect.gen(function*() {
      for (;;) {
        const latch = yield* Deferred.make<never, ActorDefect>()
        const slot = yield* Deferred.make<RestartRequest>()
        const scope = yield* Scope.make()
        currentScope = scope
        const started = yield* o.start(latch).pipe(
          Scope.provide(scope),
          Effect.onError(() => Scope.close(scope, Exit.void)),
          Effect.onExit(() => Effect.suspend(() => {
            const c = carrying
            carrying = null
            return c === null ? Effect.void : Deferred.succeed(c.done, c.value).pipe(Effect.asVoid)
          }))
        )
        current = started
        lastError = null
        restartSlot = slot
        o.boards.attach(started.boards)
        const ended = yield* Effect.raceFirst(
          Effect.flip(Deferred.await(latch)).pipe(Effect.map((defect) => ({ _tag: "Defect" as const, defect }))),
          Deferred.await(slot).pipe(Effect.map((request) => ({ _tag: "Restart" as const, request })))
        )
        restartSlot = null
        const asked = requested
        requested = null
        if (ended._tag === "Defect") {
          const defect = ended.defect
          if (asked !== null) yield* Deferred.fail(asked.done, new RestartRefused({ message: `the pipeline failed before the restart could begin (${defect.message})` }))
          current = null
          o.boards.attach(null, `the pipeline is restarting from its last snapshot after a failure (${defect.message})`)
          lastError = defect.message
          o.log.error(`pipeline failed, restarting from the last snapshot: ${defect.message}\n${defect.detail}`)
          yield* Scope.close(scope, Exit.void)
          return
        }
        // A restart on purpose: a final snapshot, stop, `between`, and start again at once.
        const r = ended.request
        yield* started.drainAndSnapshot.pipe(
          Effect.timeout(300_000),
          Effect.catchCause((c) => Effect.sync(() => o.log.warn(`snapshot before the restart not completed (${causeSentence(c)}); the next start replays from the last one`)))
        )
        current = null
        o.boards.attach(null, `the pipeline is restarting: ${r.reason}`)
        yield* Scope.close(scope, Exit.void)
        const outcome = yield* Effect.exit(r.between)
        // `done` carries between's failure at once; its success once the next pipeline started.
        if (outcome._tag === "Failure") yield* Deferred.done(r.done, outcome)
        else carrying = { done: r.done, value: outcome.value }
      }
    })

    const runLogged = Effect.exit(runOnce).pipe(Effect.map((r) => {
      attempt++
      if (r._tag === "Failure" && (fatal = fatalMessage(r.cause)) !== null) {
        lastError = fatal
        o.boards.attach(null, `the pipeline stopped and an operator must act: ${fatal}`)
        o.log.error(`FATAL, not retrying (an operator must fix this, then restart the service): ${fatal}`)
      } else if (r._tag === "Failure") {
        lastError = causeSentence(r.cause)
        o.boards.attach(null, `the pipeline could not start and is retrying (${lastError})`)
        o.log.error(`pipeline could not start (attempt ${attempt}): ${lastError}`)
      }
    }))
    yield* Effect.forkScoped(Effect.repeat(runLogged, { schedule: o.restart ?? backoff(250, 10_000), while: () => !stopping && fatal === null }))

    yield* Effect.addFinalizer(() =>
      Effect.gen(function*() {
        stopping = true
        const p = current
        // A large state's final snapshot can take a minute or more (1M users: ~90 s here); giving up
        // early is safe (the last periodic snapshot + replay is exact) but makes the next start slower.
        if (p !== null) {
          yield* p.drainAndSnapshot.pipe(
            Effect.timeout(300_000),
            Effect.catchCause((c) => Effect.sync(() => o.log.warn(`final snapshot not completed (${causeSentence(c)}); the next start replays from the last one`)))
          )
        }
        const s: Scope.Closeable | null = currentScope
        if (s !== null) yield* Scope.close(s, Exit.void)
      })
    )

    const restart = <A, E>(reason: string, between: Effect.Effect<A, E>): Effect.Effect<A, E | RestartRefused> =>
      Effect.gen(function*() {
        const slot = restartSlot
        if (slot === null || current === null) {
          return yield* Effect.fail(new RestartRefused({ message: fatal ?? lastError ?? "the pipeline is (re)starting; try again once /readyz is ready" }))
        }
        restartSlot = null
        const done = yield* Deferred.make<unknown, unknown>()
        requested = { reason, between, done }
        yield* Deferred.succeed(slot, requested)
        return (yield* Deferred.await(done).pipe(Effect.mapError((e) => e as E))) as A
      })

    return { current: () => current, lastError: () => lastError, fatal: () => fatal, restart }
  })
