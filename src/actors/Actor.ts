// The actor primitive: a bounded mailbox (Effect Queue) drained in batches by one fiber that
// runs the handler as plain synchronous code. A handler defect fails the pipeline's latch, so
// the supervisor restarts the whole pipeline from its snapshot — never a silently dead actor.
import { Cause, Data, Deferred, Effect, Queue } from "effect"
import type { Scope } from "effect"

export interface Mailbox<A> {
  readonly name: string
  readonly queue: Queue.Queue<A>
  /** Suspends while the mailbox is full (backpressure). */
  readonly send: (a: A) => Effect.Effect<void>
  readonly sendAll: (as: Iterable<A>) => Effect.Effect<void>
  readonly size: () => number
}

/** An actor (or the consumer) failed: `reason` is one sentence for the log and /readyz, `detail` the whole cause. */
export class ActorDefect extends Data.TaggedError("ActorDefect")<{
  readonly actor: string
  readonly reason: string
  readonly detail: string
  readonly message: string
}> {}

/** The first line of what failed, as a sentence — never a `Cause([Fail(…` dump. */
export const causeSentence = (cause: Cause.Cause<unknown>): string => {
  if (Cause.hasInterruptsOnly(cause)) return "interrupted"
  const e = Cause.squash(cause)
  const text = e instanceof Error
    ? e.message
    : typeof e === "object" && e !== null && typeof (e as { message?: unknown }).message === "string"
    ? (e as { message: string }).message
    : String(e)
  return text.split("\n")[0]!.trim() || (e instanceof Error ? e.name : "unknown failure")
}

export const actorDefect = (actor: string, cause: Cause.Cause<unknown>): ActorDefect => {
  const reason = causeSentence(cause)
  return new ActorDefect({ actor, reason, detail: Cause.pretty(cause), message: `actor ${actor} failed: ${reason}` })
}

/** Fires once, with the first actor defect; the pipeline awaits it. */
export type FailureLatch = Deferred.Deferred<never, ActorDefect>

export const spawn = <A>(
  name: string,
  capacity: number,
  latch: FailureLatch,
  handle: (batch: ReadonlyArray<A>) => Effect.Effect<void> | void
): Effect.Effect<Mailbox<A>, never, Scope.Scope> =>
  Effect.gen(function*() {
    const queue = yield* Queue.bounded<A>(capacity)
    const loop = Effect.gen(function*() {
      for (;;) {
        const batch = yield* Queue.takeAll(queue)
        const r = handle(batch)
        if (r !== undefined) yield* r
      }
    })
    yield* Effect.forkScoped(
      loop.pipe(
        Effect.catchCause((cause) =>
          Cause.hasInterruptsOnly(cause)
            ? Effect.void
            : Deferred.fail(latch, actorDefect(name, cause)).pipe(Effect.asVoid)
        )
      )
    )
    return {
      name,
      queue,
      send: (a: A) => Queue.offer(queue, a).pipe(Effect.asVoid),
      sendAll: (as: Iterable<A>) => Queue.offerAll(queue, as).pipe(Effect.asVoid),
      size: () => Queue.sizeUnsafe(queue)
    }
  })
