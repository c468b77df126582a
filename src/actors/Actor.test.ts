// The actor primitive: batches are drained in order, and a handler defect is never silent — it
// fails the pipeline's latch naming the actor (the supervisor then restarts from the snapshot).
import { describe, expect, it } from "vitest"
import { Deferred, Effect, Exit } from "effect"
import { spawn } from "./Actor.js"
import type { ActorDefect } from "./Actor.js"

describe("spawn", () => {
  it("drains messages in order, in batches", async () => {
    const seen: number[] = []
    const batches: number[] = []
    await Effect.runPromise(Effect.scoped(Effect.gen(function*() {
      const latch = yield* Deferred.make<never, ActorDefect>()
      const box = yield* spawn<number>("counter", 100, latch, (b) => { batches.push(b.length); for (const n of b) seen.push(n) })
      yield* box.sendAll([1, 2, 3, 4, 5])
      yield* box.send(6)
      while (seen.length < 6) yield* Effect.sleep(1)
    })))
    expect(seen).toEqual([1, 2, 3, 4, 5, 6])
    expect(batches.reduce((a, b) => a + b, 0)).toBe(6)
    expect(batches.length).toBeLessThan(6)
  })

  it("fails the latch with the actor's name when its handler throws", async () => {
    const exit = await Effect.runPromiseExit(Effect.scoped(Effect.gen(function*() {
      const latch = yield* Deferred.make<never, ActorDefect>()
      const box = yield* spawn<number>("fragile", 10, latch, (b) => { if (b.includes(13)) throw new Error("unlucky") })
      yield* box.send(1)
      yield* box.send(13)
      return yield* Deferred.await(latch)
    })))
    expect(Exit.isFailure(exit)).toBe(true)
    const text = String(Exit.isFailure(exit) ? exit.cause : "")
    expect(text).toContain("fragile")
    expect(text).toContain("unlucky")
  })

  it("does not report an actor stopped by its scope as failed", async () => {
    const outcome = await Effect.runPromise(Effect.gen(function*() {
      const latch = yield* Deferred.make<never, ActorDefect>()
      yield* Effect.scoped(spawn<number>("quiet", 10, latch, () => {}))
      yield* Effect.sleep(5)
      return yield* Deferred.isDone(latch)
    }))
    expect(outcome).toBe(false)
  })
})
