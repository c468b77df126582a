// Proves RankTree ranks exactly like a sorted array (score desc, seq asc, uid asc) under random
// inserts, moves up and down, removals, ties and bulk loads, keeps its tree valid, and refuses a
// wrong old key instead of corrupting itself.
import { describe, expect, it } from "vitest"
import fc from "fast-check"
import { RankTree } from "./RankTree.js"

interface Entry { readonly uid: number; readonly score: number; readonly seq: number }

const precedes = (a: Entry, b: Entry): boolean =>
  a.score !== b.score ? a.score > b.score : a.seq !== b.seq ? a.seq < b.seq : a.uid < b.uid

/** The naive reference: one sorted array. */
class Model {
  readonly sorted: Array<Entry> = []
  readonly byId = new Map<number, Entry>()
  private lowerBound(k: Entry): number {
    let lo = 0
    let hi = this.sorted.length
    while (lo < hi) {
      const mid = (lo + hi) >>> 1
      if (precedes(this.sorted[mid]!, k)) lo = mid + 1
      else hi = mid
    }
    return lo
  }
  set(uid: number, score: number, seq: number): void {
    this.remove(uid)
    const e = { uid, score, seq }
    this.sorted.splice(this.lowerBound(e), 0, e)
    this.byId.set(uid, e)
  }
  remove(uid: number): boolean {
    const old = this.byId.get(uid)
    if (old === undefined) return false
    this.sorted.splice(this.lowerBound(old), 1)
    this.byId.delete(uid)
    return true
  }
  rankOf(uid: number): number | undefined {
    const e = this.byId.get(uid)
    return e === undefined ? undefined : this.lowerBound(e) + 1
  }
  countThrough(score: number, seq: number): number {
    return this.sorted.filter((e) => e.score > score || (e.score === score && e.seq <= seq)).length
  }
  range(offset: number, limit: number): Array<Entry> {
    return this.sorted.slice(Math.max(0, offset), Math.max(0, offset) + Math.max(0, limit))
  }
}

/** What the user table does for the tree: remembers each uid's key and passes it back. */
class Keyed {
  readonly tree = new RankTree()
  readonly keys = new Map<number, Entry>()
  set(uid: number, score: number, seq: number): void {
    const old = this.keys.get(uid)
    if (old === undefined) this.tree.insert(score, seq, uid)
    else this.tree.move(old.score, old.seq, score, seq, uid)
    this.keys.set(uid, { uid, score, seq })
  }
  remove(uid: number): boolean {
    const old = this.keys.get(uid)
    if (old === undefined) return false
    this.tree.remove(old.score, old.seq, uid)
    this.keys.delete(uid)
    return true
  }
  rankOf(uid: number): number | undefined {
    const k = this.keys.get(uid)
    return k === undefined ? undefined : this.tree.countBefore(k.score, k.seq, uid) + 1
  }
  range(offset: number, limit: number): Array<Entry> {
    const out: Array<Entry> = []
    this.tree.forEachInRange(offset, limit, (uid, score, seq) => { out.push({ uid, score, seq }) })
    return out
  }
  all(): Array<Entry> {
    return this.range(0, this.tree.size)
  }
}

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

const expectSame = (k: Keyed, model: Model): void => {
  expect(k.tree.size).toBe(model.sorted.length)
  expect(k.all()).toEqual(model.sorted)
  k.tree.assertInvariants()
}

interface Scenario { readonly seed: number; readonly users: number; readonly ops: number; readonly scoreRange: number; readonly seqTies: boolean; readonly removeRate: number }

const runScenario = (s: Scenario, k: Keyed = new Keyed(), model: Model = new Model()): { maxDepth: number } => {
  const rnd = prng(s.seed)
  const int = (n: number): number => Math.floor(rnd() * n)
  let seq = 1 + model.sorted.reduce((m, e) => Math.max(m, e.seq), 0)
  const nextSeq = (): number => (s.seqTies ? 1 + int(4) : seq++)
  let maxDepth = k.tree.depth
  for (let op = 0; op < s.ops; op++) {
    const uid = int(s.users)
    const r = rnd()
    if (r < s.removeRate) {
      expect(k.remove(uid)).toBe(model.remove(uid))
    } else if (r < 0.75) {
      const old = model.byId.get(uid)
      const score = old === undefined || r < 0.2 ? int(s.scoreRange + 1) : Math.max(0, old.score + int(51) - (r < 0.3 ? 40 : 0))
      const q = nextSeq()
      k.set(uid, score, q)
      model.set(uid, score, q)
    } else if (r < 0.85) {
      expect(k.rankOf(uid)).toBe(model.rankOf(uid))
    } else if (r < 0.93) {
      const score = int(s.scoreRange + 2)
      const q = 1 + int(seq + 1)
      expect(k.tree.countThrough(score, q)).toBe(model.countThrough(score, q))
    } else {
      const offset = int(model.sorted.length + 3) - 1
      const limit = int(40)
      expect(k.range(offset, limit)).toEqual(model.range(offset, limit))
      const seen: Array<number> = []
      k.tree.forEachInRange(offset, limit, (_u, _s, _q, rank) => seen.push(rank))
      expect(seen).toEqual(model.range(offset, limit).map((_, i) => Math.max(0, offset) + 1 + i))
    }
    maxDepth = Math.max(maxDepth, k.tree.depth)
    if (op % 997 === 0) k.tree.assertInvariants()
  }
  expectSame(k, model)
  return { maxDepth }
}

describe("RankTree ordering (directed)", () => {
  it("ranks equal scores by who reached them first (lower seq), then by uid", () => {
    const k = new Keyed()
    k.set(1, 100, 9)
    k.set(2, 100, 3)
    k.set(3, 101, 50)
    k.set(5, 7, 4)
    k.set(4, 7, 4)
    expect(k.all().map((e) => e.uid)).toEqual([3, 2, 1, 4, 5])
    expect(k.rankOf(2)).toBe(2)
  })

  it("counts the key itself in countThrough whatever the uid (keyset cursors)", () => {
    const k = new Keyed()
    k.set(10, 10, 1)
    k.set(0, 10, 2)
    k.set(7, 9, 3)
    expect(k.tree.countThrough(10, 2)).toBe(2)
    expect(k.tree.countThrough(10, 1)).toBe(1)
    expect(k.range(k.tree.countThrough(10, 2), 10).map((e) => e.uid)).toEqual([7])
  })

  it("refuses a wrong old key, a duplicate insert and keys outside the contract, unchanged", () => {
    const k = new Keyed()
    for (let i = 0; i < 300; i++) k.set(i, i % 17, i + 1)
    const before = k.all()
    expect(() => k.tree.remove(5, 7, 5)).toThrow(/not present/)
    expect(() => k.tree.move(5, 7, 9, 9, 5)).toThrow(/not present/)
    expect(() => k.tree.insert(3, 4, 3)).toThrow(/already present/)
    for (const [score, seq] of [[-1, 1], [1.5, 1], [Number.NaN, 1], [2 ** 53, 1], [1, 0], [1, 2.5]] as const) {
      expect(() => k.tree.insert(score, seq, 999)).toThrow(RangeError)
    }
    expect(k.all()).toEqual(before)
    k.tree.assertInvariants()
  })

  it("handles scores and seqs up to 2^53 - 1", () => {
    const k = new Keyed()
    const max = Number.MAX_SAFE_INTEGER
    k.set(1, max, max)
    k.set(2, max, max - 1)
    k.set(3, max - 1, 1)
    expect(k.all().map((e) => e.uid)).toEqual([2, 1, 3])
    expect(k.tree.countThrough(max, max)).toBe(2)
  })

  it("refuses to keep iterating after the tree changes", () => {
    const k = new Keyed()
    k.set(1, 1, 1)
    k.set(2, 2, 2)
    expect(() => k.tree.forEach(() => k.set(3, 3, 3))).toThrow(/modified/)
  })
})

describe("RankTree against a sorted-array model (randomized)", () => {
  it("agrees on small boards with heavy ties over many seeds", { timeout: 120_000 }, () => {
    for (let seed = 100; seed < 220; seed++) {
      runScenario({ seed, users: 1 + (seed % 150), ops: 600, scoreRange: seed % 3 === 0 ? 5 : 300, seqTies: seed % 4 === 0, removeRate: 0.15 })
    }
  })

  it("agrees through splits, merges and root changes at a few thousand entries", { timeout: 120_000 }, () => {
    for (let seed = 1000; seed < 1003; seed++) {
      const k = new Keyed()
      const model = new Model()
      const grown = runScenario({ seed, users: 6000, ops: 20000, scoreRange: seed % 2 === 0 ? 40 : 5000, seqTies: false, removeRate: 0.02 }, k, model)
      expect(grown.maxDepth).toBeGreaterThanOrEqual(2)
      runScenario({ seed: seed + 1, users: 6000, ops: 8000, scoreRange: 5000, seqTies: seed === 1001, removeRate: 0.25 }, k, model)
      const users = [...model.byId.keys()]
      for (let i = 0; i < users.length - 300; i++) {
        expect(k.remove(users[i]!)).toBe(model.remove(users[i]!))
        if (i % 500 === 0) k.tree.assertInvariants()
      }
      expectSame(k, model)
      expect(k.tree.depth).toBeLessThan(grown.maxDepth)
    }
  })

  it("agrees for arbitrary operation sequences (fast-check, shrinking)", () => {
    const op = fc.oneof(
      fc.record({ kind: fc.constant("set" as const), uid: fc.nat(40), score: fc.nat(8), seq: fc.integer({ min: 1, max: 6 }) }),
      fc.record({ kind: fc.constant("remove" as const), uid: fc.nat(40) }),
      fc.record({ kind: fc.constant("range" as const), offset: fc.integer({ min: -2, max: 45 }), limit: fc.nat(12) })
    )
    fc.assert(
      fc.property(fc.array(op, { maxLength: 300 }), (ops) => {
        const k = new Keyed()
        const model = new Model()
        for (const o of ops) {
          if (o.kind === "set") { k.set(o.uid, o.score, o.seq); model.set(o.uid, o.score, o.seq) }
          else if (o.kind === "remove") expect(k.remove(o.uid)).toBe(model.remove(o.uid))
          else expect(k.range(o.offset, o.limit)).toEqual(model.range(o.offset, o.limit))
        }
        for (const u of model.byId.keys()) expect(k.rankOf(u)).toBe(model.rankOf(u))
        expectSame(k, model)
      }),
      { numRuns: 300 }
    )
  })
})

describe("RankTree bulk load", () => {
  it("builds the same order as inserts from unsorted input, and keeps working", { timeout: 120_000 }, () => {
    for (let seed = 1; seed <= 25; seed++) {
      const rnd = prng(seed)
      const n = seed === 1 ? 0 : seed === 2 ? 1 : Math.floor(rnd() * 5000)
      const uids = new Int32Array(n)
      const scores = new Float64Array(n)
      const seqs = new Float64Array(n)
      const model = new Model()
      for (let i = 0; i < n; i++) {
        const big = rnd() < 0.3
        uids[i] = (i * 7919) % 100_003
        scores[i] = big ? Math.floor(rnd() * Number.MAX_SAFE_INTEGER) : Math.floor(rnd() * 20)
        seqs[i] = seed % 3 === 0 ? 1 + Math.floor(rnd() * 3) : big ? 1 + Math.floor(rnd() * (Number.MAX_SAFE_INTEGER - 1)) : 1 + i
        model.set(uids[i]!, scores[i]!, seqs[i]!)
      }
      const k = new Keyed()
      k.tree.load(uids, scores, seqs, n)
      for (const e of model.sorted) k.keys.set(e.uid, e)
      expectSame(k, model)
      runScenario({ seed: seed + 7, users: Math.max(1, n), ops: 1500, scoreRange: 30, seqTies: false, removeRate: 0.3 }, k, model)
    }
  })

  it("loads deep trees that stay valid under removal down to empty", { timeout: 120_000 }, () => {
    const n = 200_000
    const uids = new Int32Array(n)
    const scores = new Float64Array(n)
    const seqs = new Float64Array(n)
    for (let i = 0; i < n; i++) { uids[i] = i; scores[i] = (i * 7919) % 10007; seqs[i] = i + 1 }
    const t = new RankTree()
    t.load(uids, scores, seqs, n)
    expect(t.depth).toBeGreaterThanOrEqual(2)
    t.assertInvariants()
    const rnd = prng(42)
    const order = Array.from({ length: n }, (_, i) => i)
    for (let i = n - 1; i > 0; i--) { const j = Math.floor(rnd() * (i + 1)); const x = order[i]!; order[i] = order[j]!; order[j] = x }
    for (let k = 0; k < n; k++) {
      const i = order[k]!
      t.remove(scores[i]!, seqs[i]!, i)
      if (k % 20_000 === 0) t.assertInvariants()
    }
    expect(t.size).toBe(0)
    expect(t.depth).toBe(0)
    t.assertInvariants()
  })
})
