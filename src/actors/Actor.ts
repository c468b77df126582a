// The actor primitive: a bounded mailbox (Effect Queue) drained in batches by one fiber that
// runs the handler as plain synchronous code. A handler defect fails the pipeline's latch, so
// the supervisor restarts the whole pipeline from its snapshot — never a silently dead actor.
import { Cause, Deferred, Effect, Queue } from "effect"
import type { Scope } from "effect"

export interface Mailbox<A> {
  readonly name: string
  readonly queue: Queue.Queue<A>
  /** Suspends while the mailbox is full (backpressure). */
  readonly send: (a: A) => Effect.Effect<void>
  readonly sendAll: (as: Iterable<A>) => Effect.Effect<void>
  readonly size: () => number
}

export class ActorDefect extends Error {
  constructor(readonly actor: string, readonly detail: string) {
    super(`actor ${actor} failed: ${detail}`)
  }
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
            : Deferred.fail(latch, new ActorDefect(name, Cause.pretty(cause))).pipe(Effect.asVoid)
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
