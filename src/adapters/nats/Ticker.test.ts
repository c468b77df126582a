// The coordinator's ticker (ARCHITECTURE §9): each second one tick into every partition, on the
// partition's tick subject with the msg id `tick/<k>/<second>` that dedupes a second's tick across
// a coordinator handover; a failed publish is counted and warned about, never retried.
import { Effect, Fiber } from "effect"
import { TestClock } from "effect/testing"
import { describe, expect, it } from "vitest"
import { runTicker, tickRound } from "./Ticker.js"
import type { TickPublish } from "./Ticker.js"

const recorder = (failOn: (subject: string, msgId: string) => boolean = () => false) => {
  const sent: Array<[string, string]> = []
  const publish: TickPublish = (subject, msgId) => {
    sent.push([subject, msgId])
    return failOn(subject, msgId) ? Promise.reject(new Error("no responders")) : Promise.resolve({ duplicate: false })
  }
  return { sent, publish }
}

describe("tickRound", () => {
  it("publishes second s's tick into each partition, each with its own msg id", async () => {
    const r = recorder()
    expect(await tickRound(r.publish, 3, 1_765_000_000)).toEqual({ second: 1_765_000_000, failed: 0, error: null })
    expect(r.sent).toEqual([
      ["arena.xp.p.0.$tick", "tick/0/1765000000"],
      ["arena.xp.p.1.$tick", "tick/1/1765000000"],
      ["arena.xp.p.2.$tick", "tick/2/1765000000"]
    ])
  })

  it("counts the publishes that failed and keeps the first reason; the others still went out", async () => {
    const r = recorder((s) => s !== "arena.xp.p.0.$tick")
    expect(await tickRound(r.publish, 3, 7)).toEqual({ second: 7, failed: 2, error: "no responders" })
    expect(r.sent).toHaveLength(3)
  })
})

describe("runTicker", () => {
  it("ticks at each second of the clock until interrupted, warning once while ticks fail and saying when they are stored again", async () => {
    const failing = new Set([1, 2])
    const r = recorder((_, id) => failing.has(Number(id.split("/")[2])))
    const lines: Array<string> = []
    const log = { info: (l: string) => { lines.push(`info ${l}`) }, warn: (l: string) => { lines.push(`warn ${l}`) } }
    const settle = Effect.promise(() => new Promise<void>((resolve) => setImmediate(resolve)))
    await Effect.runPromise(Effect.gen(function*() {
      const fiber = yield* Effect.forkChild(runTicker(r.publish, 2, log))
      yield* settle
      for (let i = 0; i < 4; i++) {
        yield* TestClock.adjust(1000)
        yield* settle
      }
      yield* Fiber.interrupt(fiber)
    }).pipe(Effect.provide(TestClock.layer())))
    // Seconds 0..4 (the test clock starts at 0), both partitions each second, nothing retried.
    expect(r.sent.map(([, id]) => id)).toEqual([0, 1, 2, 3, 4].flatMap((s) => [`tick/0/${s}`, `tick/1/${s}`]))
    expect(lines.filter((l) => l.startsWith("warn"))).toHaveLength(1)
    expect(lines.some((l) => l.includes("ticks stored again"))).toBe(true)
  })
})
