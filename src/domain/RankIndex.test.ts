// Proves RankIndex ranks exactly like a sorted array (score desc, seq asc, userId asc) under
// random inserts, moves up and down, removals, ties and bulk loads, and keeps its tree valid.
import { describe, expect, it } from "vitest"
import fc from "fast-check"
import { RankIndex } from "./RankIndex.js"
import type { RankEntry } from "./RankIndex.js"

const precedes = (a: RankEntry, b: RankEntry): boolean =>
  a.score !== b.score ? a.score > b.score : a.seq !== b.seq ? a.seq < b.seq : a.userId < b.userId

/** The naive reference: one sorted array, binary search for positions. */
class Model {
  readonly sorted: Array<RankEntry> = []
  readonly byId = new Map<string, RankEntry>()

  private lowerBound(k: RankEntry): number {
    let lo = 0
    let hi = this.sorted.length
    while (lo < hi) {
      const mid = (lo + hi) >>> 1
      if (precedes(this.sorted[mid]!, k)) lo = mid + 1
      else hi = mid
    }
    return lo
  }

  set(userId: string, score: number, seq: number): void {
    this.remove(userId)
    const e = { userId, score, seq }
    this.sorted.splice(this.lowerBound(e), 0, e)
    this.byId.set(userId, e)
  }

  remove(userId: string): boolean {
    const old = this.byId.get(userId)
    if (old === undefined) return false
    this.sorted.splice(this.lowerBound(old), 1)
    this.byId.delete(userId)
    return true
  }

  rankOf(userId: string): number | undefined {
    const e = this.byId.get(userId)
    return e === undefined ? undefined : this.lowerBound(e) + 1
  }

  countBefore(score: number, seq: number): number {
    return this.lowerBound({ userId: "", score, seq })
  }

  countThrough(score: number, seq: number): number {
    return this.sorted.filter((e) => e.score > score || (e.score === score && e.seq <= seq)).length
  }

  range(offset: number, limit: number): Array<RankEntry> {
    return this.sorted.slice(Math.max(0, offset), Math.max(0, offset) + Math.max(0, limit))
  }
}

/** mulberry32: a seeded PRNG so every randomized run is reproducible from its seed. */
const prng = (seed: number): (() => number) => {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

const expectSame = (idx: RankIndex, model: Model): void => {
  expect(idx.size).toBe(model.sorted.length)
  expect([...idx]).toEqual(model.sorted)
  idx.assertInvariants()
}

interface Scenario {
  readonly seed: number
  readonly users: number
  readonly ops: number
  /** Scores come from 0..scoreRange: a small range means many equal scores. */
  readonly scoreRange: number
  /** When true, seqs repeat across users, so equal (score, seq) keys fall back to userId. */
  readonly seqTies: boolean
  readonly removeRate: number
}

const runScenario = (s: Scenario, idx: RankIndex = new RankIndex(), model: Model = new Model()): { maxDepth: number } => {
  const rnd = prng(s.seed)
  const int = (n: number): number => Math.floor(rnd() * n)
  let seq = 1 + model.sorted.reduce((m, e) => Math.max(m, e.seq), 0)
  const nextSeq = (): number => (s.seqTies ? 1 + int(4) : seq++)
  let maxDepth = idx.depth
  for (let op = 0; op < s.ops; op++) {
    const userId = `u${int(s.users)}`
    const r = rnd()
    if (r < s.removeRate) {
      expect(idx.remove(userId)).toBe(model.remove(userId))
    } else if (r < 0.75) {
      const old = model.byId.get(userId)
      // Mostly small gains as in production, sometimes drops, sometimes a fresh score.
      const score =
        old === undefined || r < 0.2 ? int(s.scoreRange + 1) : Math.max(0, old.score + int(51) - (r < 0.3 ? 40 : 0))
      const q = nextSeq()
      idx.set(userId, score, q)
      model.set(userId, score, q)
    } else if (r < 0.85) {
      expect(idx.rankOf(userId)).toBe(model.rankOf(userId))
      expect(idx.get(userId)).toEqual(
        model.byId.has(userId) ? { score: model.byId.get(userId)!.score, seq: model.byId.get(userId)!.seq } : undefined
      )
    } else if (r < 0.93) {
      const score = int(s.scoreRange + 2)
      const q = 1 + int(seq + 1)
      expect(idx.countBefore(score, q)).toBe(model.countBefore(score, q))
      expect(idx.countThrough(score, q)).toBe(model.countThrough(score, q))
    } else {
      const offset = int(model.sorted.length + 3) - 1
      const limit = int(40)
      expect(idx.range(offset, limit)).toEqual(model.range(offset, limit))
      const seen: Array<number> = []
      idx.forEachInRange(offset, limit, (_u, _s, _q, rank) => seen.push(rank))
      const first = Math.max(0, offset) + 1
      expect(seen).toEqual(model.range(offset, limit).map((_, k) => first + k))
    }
    maxDepth = Math.max(maxDepth, idx.depth)
    expect(idx.size).toBe(model.sorted.length)
    if (op % 997 === 0) idx.assertInvariants()
  }
  expectSame(idx, model)
  return { maxDepth }
}

describe("RankIndex ordering (directed)", () => {
  it("ranks equal scores by who reached them first (lower seq)", () => {
    const idx = new RankIndex()
    idx.set("late", 100, 9)
    idx.set("early", 100, 3)
    idx.set("top", 101, 50)
    expect(idx.range(0, 10).map((e) => e.userId)).toEqual(["top", "early", "late"])
    expect(idx.rankOf("early")).toBe(2)
    expect(idx.rankOf("late")).toBe(3)
  })

  it("breaks an exact (score, seq) tie by userId so ranks stay unique", () => {
    const idx = new RankIndex()
    idx.set("b", 5, 1)
    idx.set("a", 5, 1)
    idx.set("c", 5, 1)
    expect([...idx].map((e) => e.userId)).toEqual(["a", "b", "c"])
    expect(["a", "b", "c"].map((u) => idx.rankOf(u))).toEqual([1, 2, 3])
  })

  it("moves a user to its new rank after an update, up and down", () => {
    const idx = new RankIndex()
    for (let i = 0; i < 10; i++) idx.set(`u${i}`, i * 10, i + 1)
    expect(idx.rankOf("u0")).toBe(10)
    idx.set("u0", 55, 11)
    expect(idx.rankOf("u0")).toBe(5)
    expect(idx.rankOf("u5")).toBe(6)
    expect(idx.range(3, 3).map((e) => e.userId)).toEqual(["u6", "u0", "u5"])
    idx.set("u9", 0, 12)
    expect(idx.rankOf("u9")).toBe(10)
    expect(idx.get("u9")).toEqual({ score: 0, seq: 12 })
    expect(idx.size).toBe(10)
  })

  it("counts only strictly better entries in countBefore, and the key itself in countThrough", () => {
    const idx = new RankIndex()
    idx.set("a", 10, 1)
    idx.set("b", 10, 2)
    idx.set("c", 9, 3)
    expect(idx.countBefore(10, 2)).toBe(1)
    expect(idx.countThrough(10, 2)).toBe(2)
    expect(idx.countBefore(11, 100)).toBe(0)
    expect(idx.countBefore(0, 1)).toBe(3)
    expect(idx.countThrough(9, 3)).toBe(3)
    // A keyset page after "b" starts at "c".
    expect(idx.range(idx.countThrough(10, 2), 10).map((e) => e.userId)).toEqual(["c"])
  })

  it("answers for absent users and empty ranges without throwing", () => {
    const idx = new RankIndex()
    expect(idx.rankOf("x")).toBeUndefined()
    expect(idx.get("x")).toBeUndefined()
    expect(idx.has("x")).toBe(false)
    expect(idx.remove("x")).toBe(false)
    expect(idx.range(0, 10)).toEqual([])
    idx.set("x", 1, 1)
    expect(idx.range(1, 10)).toEqual([])
    expect(idx.range(0, 0)).toEqual([])
    expect(idx.range(-5, 1)).toEqual([{ userId: "x", score: 1, seq: 1 }])
    expect(idx.remove("x")).toBe(true)
    expect(idx.size).toBe(0)
    expect([...idx]).toEqual([])
  })

  it("rejects scores and seqs outside the contract and leaves the index unchanged", () => {
    const idx = new RankIndex()
    idx.set("a", 1, 1)
    for (const [score, seq] of [[-1, 1], [1.5, 1], [Number.NaN, 1], [2 ** 53, 1], [1, 0], [1, 2.5], [1, Number.POSITIVE_INFINITY]] as const) {
      expect(() => idx.set("a", score, seq)).toThrow(RangeError)
      expect(() => RankIndex.fromUnsorted([{ userId: "z", score, seq }])).toThrow(RangeError)
    }
    expect(idx.get("a")).toEqual({ score: 1, seq: 1 })
    idx.assertInvariants()
  })

  it("handles scores and seqs up to 2^53 - 1", () => {
    const idx = new RankIndex()
    const max = Number.MAX_SAFE_INTEGER
    idx.set("a", max, max)
    idx.set("b", max, max - 1)
    idx.set("c", max - 1, 1)
    expect([...idx].map((e) => e.userId)).toEqual(["b", "a", "c"])
    expect(idx.countThrough(max, max)).toBe(2)
  })

  it("refuses to keep iterating after the index changes", () => {
    const idx = new RankIndex()
    idx.set("a", 1, 1)
    idx.set("b", 2, 2)
    const it = idx.entries()
    it.next()
    idx.set("c", 3, 3)
    expect(() => it.next()).toThrow(/modified/)
    expect(() => idx.forEach(() => idx.set("d", 4, 4))).toThrow(/modified/)
  })

  it("empties completely on clear and is reusable", () => {
    const idx = new RankIndex()
    for (let i = 0; i < 500; i++) idx.set(`u${i}`, i, i + 1)
    idx.clear()
    expect(idx.size).toBe(0)
    expect(idx.has("u1")).toBe(false)
    expect([...idx]).toEqual([])
    idx.set("u1", 3, 1)
    expect(idx.rankOf("u1")).toBe(1)
    idx.assertInvariants()
  })
})

describe("RankIndex against a sorted-array model (randomized)", () => {
  it("agrees at sizes 0 and 1", () => {
    for (let seed = 1; seed <= 40; seed++) {
      runScenario({ seed, users: 1, ops: 60, scoreRange: 3, seqTies: seed % 2 === 0, removeRate: 0.3 })
    }
  })

  it("agrees on small boards with heavy ties over many seeds", { timeout: 120_000 }, () => {
    for (let seed = 100; seed < 260; seed++) {
      const users = 2 + (seed % 150)
      runScenario({ seed, users, ops: 600, scoreRange: seed % 3 === 0 ? 5 : 300, seqTies: seed % 4 === 0, removeRate: 0.15 })
    }
  })

  it("agrees through splits, merges and root changes at a few thousand entries", { timeout: 120_000 }, () => {
    for (let seed = 1000; seed < 1004; seed++) {
      const idx = new RankIndex()
      const model = new Model()
      // Grow to two inner levels, then churn, then shrink back so merges collapse the root.
      const grown = runScenario({ seed, users: 6000, ops: 20000, scoreRange: seed % 2 === 0 ? 40 : 5000, seqTies: false, removeRate: 0.02 }, idx, model)
      expect(grown.maxDepth).toBeGreaterThanOrEqual(2)
      runScenario({ seed: seed + 1, users: 6000, ops: 8000, scoreRange: 5000, seqTies: seed === 1001, removeRate: 0.25 }, idx, model)
      // Shrink to a few hundred entries in hash order (scattered over the tree).
      const users = [...model.byId.keys()]
      for (let k = 0; k < users.length - 300; k++) {
        expect(idx.remove(users[k]!)).toBe(model.remove(users[k]!))
        if (k % 500 === 0) idx.assertInvariants()
      }
      expectSame(idx, model)
      expect(idx.depth).toBeLessThan(grown.maxDepth)
      runScenario({ seed: seed + 2, users: 6000, ops: 3000, scoreRange: 5000, seqTies: false, removeRate: 0.1 }, idx, model)
    }
  })

  it("agrees when the top of the board churns (leftmost nodes shrink while the rest grows)", { timeout: 120_000 }, () => {
    for (let seed = 7; seed < 10; seed++) {
      const rnd = prng(seed)
      const idx = new RankIndex()
      const model = new Model()
      let next = 0
      for (; next < 5000; next++) {
        const score = Math.floor(rnd() * 100_000)
        idx.set(`n${next}`, score, next + 1)
        model.set(`n${next}`, score, next + 1)
      }
      for (let op = 0; op < 30_000; op++) {
        if (rnd() < 0.5 && model.sorted.length > 0) {
          // The leader leaves (think: banned, or a period archive trimming the top).
          const top = model.sorted[Math.floor(rnd() * Math.min(20, model.sorted.length))]!.userId
          expect(idx.remove(top)).toBe(model.remove(top))
        } else {
          const score = Math.floor(rnd() * 100_000)
          idx.set(`n${next}`, score, next + 1)
          model.set(`n${next}`, score, next + 1)
          next++
        }
        if (op % 1000 === 0) {
          idx.assertInvariants()
          const u = model.sorted[Math.floor(rnd() * model.sorted.length)]!.userId
          expect(idx.rankOf(u)).toBe(model.rankOf(u))
        }
      }
      expectSame(idx, model)
    }
  })

  it("agrees for arbitrary operation sequences (fast-check, shrinking)", () => {
    const op = fc.oneof(
      fc.record({ kind: fc.constant("set" as const), user: fc.nat(40), score: fc.nat(8), seq: fc.integer({ min: 1, max: 6 }) }),
      fc.record({ kind: fc.constant("remove" as const), user: fc.nat(40) }),
      fc.record({ kind: fc.constant("range" as const), offset: fc.integer({ min: -2, max: 45 }), limit: fc.nat(12) }),
      fc.record({ kind: fc.constant("count" as const), score: fc.nat(9), seq: fc.integer({ min: 1, max: 7 }) })
    )
    fc.assert(
      fc.property(fc.array(op, { maxLength: 300 }), (ops) => {
        const idx = new RankIndex()
        const model = new Model()
        for (const o of ops) {
          if (o.kind === "set") {
            idx.set(`u${o.user}`, o.score, o.seq)
            model.set(`u${o.user}`, o.score, o.seq)
          } else if (o.kind === "remove") {
            expect(idx.remove(`u${o.user}`)).toBe(model.remove(`u${o.user}`))
          } else if (o.kind === "range") {
            expect(idx.range(o.offset, o.limit)).toEqual(model.range(o.offset, o.limit))
          } else {
            expect(idx.countBefore(o.score, o.seq)).toBe(model.countBefore(o.score, o.seq))
          }
        }
        for (const u of model.byId.keys()) expect(idx.rankOf(u)).toBe(model.rankOf(u))
        expectSame(idx, model)
      }),
      { numRuns: 300 }
    )
  })
})

describe("RankIndex bulk load", () => {
  it("builds the same order as set() from unsorted input, later duplicates winning", { timeout: 120_000 }, () => {
    for (let seed = 1; seed <= 30; seed++) {
      const rnd = prng(seed)
      const n = seed === 1 ? 0 : seed === 2 ? 1 : Math.floor(rnd() * 5000)
      const entries: Array<RankEntry> = []
      for (let i = 0; i < n; i++) {
        // Mix tiny and huge values so both halves of the 53-bit radix digits matter.
        const big = rnd() < 0.3
        entries.push({
          userId: `u${Math.floor(rnd() * (n * 0.9 + 1))}`,
          score: big ? Math.floor(rnd() * Number.MAX_SAFE_INTEGER) : Math.floor(rnd() * 20),
          seq: seed % 3 === 0 ? 1 + Math.floor(rnd() * 3) : big ? 1 + Math.floor(rnd() * (Number.MAX_SAFE_INTEGER - 1)) : 1 + i
        })
      }
      const model = new Model()
      for (const e of entries) model.set(e.userId, e.score, e.seq)
      const idx = RankIndex.fromUnsorted(entries)
      expectSame(idx, model)
      for (const u of model.byId.keys()) expect(idx.rankOf(u)).toBe(model.rankOf(u))
      // A bulk-built tree must keep working as a normal one.
      runScenario({ seed: seed + 7, users: Math.max(1, n), ops: 1500, scoreRange: 30, seqTies: false, removeRate: 0.3 }, idx, model)
    }
  })

  it("loads deep trees that stay valid under removal down to empty", { timeout: 120_000 }, () => {
    const n = 200_000
    const entries = Array.from({ length: n }, (_, i) => ({ userId: `u${i}`, score: (i * 7919) % 10007, seq: i + 1 }))
    const idx = RankIndex.fromUnsorted(entries)
    expect(idx.depth).toBeGreaterThanOrEqual(3)
    idx.assertInvariants()
    const rnd = prng(42)
    const order = entries.map((e) => e.userId)
    for (let i = order.length - 1; i > 0; i--) {
      const j = Math.floor(rnd() * (i + 1))
      const t = order[i]!
      order[i] = order[j]!
      order[j] = t
    }
    for (let k = 0; k < n; k++) {
      expect(idx.remove(order[k]!)).toBe(true)
      if (k % 20_000 === 0) idx.assertInvariants()
    }
    expect(idx.size).toBe(0)
    expect(idx.depth).toBe(0)
    idx.assertInvariants()
  })
})
