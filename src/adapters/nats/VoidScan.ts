// The VoidScan port (ports/EventSource.ts) on JetStream: the stream read from seq 1 on the
// corrections subject only (a filtered consumer), up to a bound; the void messages' seqs and the
// event seqs they name (§10: what a re-projection re-scores before it scores anything).
import { Deferred, Effect, Fiber } from "effect"
import { voidedEventSeq } from "../../domain/Correction.js"
import type { EventSource, VoidScan } from "../../ports/EventSource.js"

/** `corrections`: the stream filtered on `<prefix>.corrections` (its head is the last correction's seq). */
export const makeVoidScan = (corrections: EventSource): VoidScan => (bound) =>
  Effect.gen(function*() {
    const out: Array<readonly [number, number]> = []
    const last = (yield* corrections.head).lastSeq
    if (last === 0 || bound <= 0) return out
    const until = Math.min(last, bound)
    const done = yield* Deferred.make<void>()
    const reader = yield* Effect.forkChild(corrections.consumeFrom(1, 4096, async (b) => {
      for (const m of b.events) {
        if (m.seq > bound) { Effect.runSync(Deferred.succeed(done, undefined)); return }
        // Undecodable messages are the pipeline's to refuse; they name no event here.
        const seq = voidedEventSeq(m.data)
        if (seq !== null) out.push([m.seq, seq])
        if (m.seq >= until) { Effect.runSync(Deferred.succeed(done, undefined)); return }
      }
    }))
    yield* Effect.raceFirst(Deferred.await(done), Fiber.join(reader))
    yield* Fiber.interrupt(reader)
    return out
  })
