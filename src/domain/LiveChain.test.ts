import fc from "fast-check"
import { describe, expect, it } from "vitest"
import type { ChainEntry } from "./LiveChain.js"
import { applyTop, boardOfToken, boardToken, deltaSubject, diffTop, instanceOfSubject } from "./LiveChain.js"

/** A top list from (user, xp) pairs: best first, ranks 1.. (ties by user id, as a stand-in for seq). */
const top = (rows: ReadonlyArray<readonly [number, number]>, k: number): Array<ChainEntry> => {
  const best = new Map<number, number>()
  for (const [u, xp] of rows) best.set(u, xp)
  return [...best].sort((a, b) => b[1] - a[1] || a[0] - b[0]).slice(0, k)
    .map(([u, xp], i) => ({ rank: i + 1, user_id: `u${u}`, username: `n${u}`, xp, level: Math.floor(xp / 10) }))
}

describe("LiveChain", () => {
  it("applyTop(prev, diffTop(prev, next)) is next, for any two top lists", () => {
    const rows = fc.array(fc.tuple(fc.integer({ min: 0, max: 30 }), fc.integer({ min: 0, max: 50 })), { maxLength: 40 })
    fc.assert(fc.property(rows, rows, fc.integer({ min: 1, max: 12 }), (a, b, k) => {
      const prev = top(a, k), next = top(b, k)
      expect(applyTop(prev, diffTop(prev, next))).toEqual(next)
    }), { numRuns: 2000 })
  })

  it("a chain of deltas folds to the last state (xp only grows)", () => {
    fc.assert(fc.property(fc.array(fc.tuple(fc.integer({ min: 0, max: 20 }), fc.integer({ min: 1, max: 9 })), { maxLength: 60 }), fc.integer({ min: 1, max: 8 }), (steps, k) => {
      const xp = new Map<number, number>()
      let sent: Array<ChainEntry> = [], folded: Array<ChainEntry> = []
      for (const [u, d] of steps) {
        xp.set(u, (xp.get(u) ?? 0) + d)
        const next = top([...xp], k)
        folded = applyTop(folded, diffTop(sent, next))
        sent = next
      }
      expect(folded).toEqual(sent)
    }), { numRuns: 1000 })
  })

  it("board names with dots are one subject token, and subjects parse back", () => {
    expect(boardToken("group:a.b")).toBe("group:a~b")
    expect(boardOfToken("group:a~b")).toBe("group:a.b")
    expect(deltaSubject("group:a.b", "week", "2026-W49")).toBe("arena.lb.delta.group:a~b.week.2026-W49")
    expect(instanceOfSubject("arena.lb.want.group:a~b.day.2026-12-07")).toEqual({ board: "group:a.b", window: "day", period: "2026-12-07" })
    expect(instanceOfSubject("arena.lb.want.global.year.2026")).toBeNull()
  })
})
