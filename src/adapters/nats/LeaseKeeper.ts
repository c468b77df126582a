// Keeps a held lease alive: renews it every renewEveryMs(TTL) (≤ 1 s) on its own fiber (never behind work, so a busy
// processor does not lose its partitions), and reports it lost when a renew is refused or when its
// validity runs out without a successful renew (a paused process wakes up to a lease it no longer
// trusts). `current()` is what a holder asks before acting; the fence still decides what commits.
import { Clock, Duration, Effect, Fiber } from "effect"
import { renewEveryMs } from "./Leases.js"
import type { Held, Leases } from "./Leases.js"

export interface KeptLease {
  /** The lease while it is valid, else null (lost for good: acquire again to hold it anew). */
  readonly current: () => Held | null
  /** Tokens this keeper held, in order (they only grow). */
  readonly tokens: () => ReadonlyArray<number>
  /** Why the lease was lost, once it was. */
  readonly lostReason: () => string | null
}

/** Renews `held` until the scope closes (then releases it) or until it is lost. */
export const keepLease = (leases: Leases, held: Held) =>
  Effect.gen(function*() {
    let state: Held | null = held
    let reason: string | null = null
    let lastError: string | null = null
    const tokens = [held.token]
    const lose = (why: string) => {
      state = null
      reason ??= why
    }
    // Often, so that the validity left after the last success spans a NATS leader election
    // (Leases.ts NATS_FAILOVER_MS): with a renew every TTL/3 a 10 s lease had 4.7 s of it and was
    // lost whenever the stream's leader node died (CI runs T1 and X1).
    const period = Duration.millis(renewEveryMs(leases.settings.ttlMs))
    const loop = Effect.gen(function*() {
      while (state !== null) {
        yield* Effect.sleep(period)
        const before: Held | null = state
        if (before === null) return
        const now = yield* Clock.currentTimeMillis
        if (now >= before.validUntil) return lose(`not renewed before its validity ran out (token ${before.token}${lastError === null ? "" : `; last error: ${lastError}`})`)
        // A renew and the recording of its token are one step that the release waits for: when
        // the scope closed while a renew was in flight, the release purged only up to the older
        // token, the renew's message survived, and the next owner waited a whole TTL (seen as
        // handovers that took ~20 s in bench/partitioned.mjs).
        const next = yield* Effect.uninterruptible(leases.renew(before).pipe(
          // An error is not a refusal: retry next round; the validity ends it if no renew succeeds.
          Effect.catch((e) => Effect.sync((): "error" => { lastError = e.message; return "error" })),
          Effect.tap((r) => Effect.sync(() => {
            if (r === "error" || r === null) return
            tokens.push(r.token)
            state = r
          }))
        ))
        if (next === "error") continue
        if (next === null) return lose(`renew refused (token ${before.token}): expired or taken`)
      }
    })
    const fiber = yield* Effect.forkScoped(loop)
    yield* Effect.addFinalizer(() =>
      Effect.gen(function*() {
        yield* Fiber.interrupt(fiber)
        const last: Held | null = state
        if (last !== null) yield* leases.release(last).pipe(Effect.ignore)
        state = null
      })
    )
    const current = (): Held | null => {
      const s: Held | null = state
      if (s !== null && Date.now() >= s.validUntil) lose(`validity ran out (token ${s.token})`)
      return state
    }
    return { current, tokens: () => tokens, lostReason: () => reason } satisfies KeptLease
  })
