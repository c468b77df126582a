// keepLease against a stand-in for the lease stream (an object with Leases' renew and release; no
// NATS): the release at the scope's end names the newest token, even when the scope closes while
// a renew is in flight. The real stream is tested in test/cluster/leases.test.ts.
import { Deferred, Effect } from "effect"
import { describe, expect, it } from "vitest"
import { keepLease } from "./LeaseKeeper.js"
import type { Held, Leases } from "./Leases.js"

const standIn = (renewMs: number) => {
  const released: number[] = []
  let token = 1
  const started = Effect.runSync(Deferred.make<void>())
  const leases = {
    settings: { ttlMs: 3_000 },
    renew: (h: Held) => Effect.gen(function*() {
      yield* Deferred.succeed(started, undefined)
      yield* Effect.sleep(renewMs)
      token++
      return { ...h, token, validUntil: Date.now() + 2_000 } satisfies Held
    }),
    release: (h: Held) => Effect.sync(() => { released.push(h.token) })
  } as unknown as Leases
  return { leases, released, started, renewed: () => token }
}

describe("keepLease", () => {
  it("closing the scope while a renew is in flight waits for it and releases the renewed token (not the older one, whose release would leave the lease held for a TTL)", async () => {
    const s = standIn(300)
    const held: Held = { name: "p.0", holder: "m1", token: 1, validUntil: Date.now() + 2_000, streamCreated: "2026-12-07T00:00:00Z", nonce: "n1" }
    await Effect.runPromise(Effect.scoped(Effect.gen(function*() {
      const kept = yield* keepLease(s.leases, held)
      yield* Deferred.await(s.started) // a renew is now in flight
      expect(kept.current()?.token).toBe(1)
    })))
    expect(s.renewed()).toBe(2)
    expect(s.released).toEqual([2])
  })

  it("releases the lease it holds when the scope closes between renews", async () => {
    const s = standIn(0)
    const held: Held = { name: "p.0", holder: "m1", token: 1, validUntil: Date.now() + 2_000, streamCreated: "2026-12-07T00:00:00Z", nonce: "n1" }
    await Effect.runPromise(Effect.scoped(Effect.gen(function*() {
      const kept = yield* keepLease(s.leases, held)
      expect(kept.tokens()).toEqual([1])
    })))
    expect(s.released).toEqual([1])
  })
})
