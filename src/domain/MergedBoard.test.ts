// Merged answers equal one board's answers: property tests over random boards split into random
// partitions (the partitions' answers are computed here from sorted arrays, as owners would).
import * as fc from "fast-check"
import { describe, expect, it } from "vitest"
import type { PartEntry } from "./MergedBoard.js"
import { compareEntries, globalRank, mergeAround, mergePage, mergeTop } from "./MergedBoard.js"

/** A board of distinct users and distinct seqs, with many xp ties, and a partition per user. */
const board = fc.integer({ min: 1, max: 9 }).chain((p) =>
  fc.uniqueArray(fc.record({ xp: fc.integer({ min: 0, max: 20 }), seq: fc.integer({ min: 1, max: 100_000 }), part: fc.integer({ min: 0, max: p - 1 }) }), {
    selector: (e) => e.seq, minLength: 1, maxLength: 300
  }).map((rows) => ({
    p,
    rows: rows.map((r, i) => ({ userId: `u${i}`, xp: r.xp, seq: r.seq, part: r.part }))
  })))

const split = (p: number, rows: ReadonlyArray<PartEntry & { part: number }>) => {
  const parts: Array<Array<PartEntry>> = Array.from({ length: p }, () => [])
  for (const r of rows) parts[r.part]!.push({ userId: r.userId, xp: r.xp, seq: r.seq })
  for (const q of parts) q.sort(compareEntries)
  return parts
}
const strip = (e: PartEntry) => ({ userId: e.userId, xp: e.xp, seq: e.seq })

describe("order", () => {
  it("higher xp first; on a tie the lower seq (reached it first) ranks better", () => {
    const a = { userId: "a", xp: 10, seq: 5 }
    const b = { userId: "b", xp: 10, seq: 3 }
    const c = { userId: "c", xp: 11, seq: 9 }
    expect([a, b, c].sort(compareEntries).map((e) => e.userId)).toEqual(["c", "b", "a"])
  })
})

describe("merged board = one board", () => {
  it("top-N", () => {
    fc.assert(fc.property(board, fc.integer({ min: 1, max: 400 }), ({ p, rows }, n) => {
      const global = rows.map(strip).sort(compareEntries)
      const merged = mergeTop(split(p, rows).map((q) => q.slice(0, n)), n)
      expect(merged).toEqual(global.slice(0, n).map((e, i) => ({ ...e, rank: i + 1 })))
    }))
  })

  it("every user's rank = 1 + Σ partitions' users ranked better", () => {
    fc.assert(fc.property(board, ({ p, rows }) => {
      const global = rows.map(strip).sort(compareEntries)
      const parts = split(p, rows)
      global.forEach((u, i) => {
        expect(globalRank(parts.map((q) => q.filter((v) => compareEntries(v, u) < 0).length))).toBe(i + 1)
      })
    }))
  })

  it("keyset pages after any cursor, with the total", () => {
    fc.assert(fc.property(board, fc.integer({ min: 1, max: 50 }), fc.nat(), ({ p, rows }, limit, c) => {
      const global = rows.map(strip).sort(compareEntries)
      const cursor = global[c % global.length]!
      const parts = split(p, rows).map((q) => ({
        entries: q.filter((v) => compareEntries(v, cursor) > 0).slice(0, limit),
        throughCursor: q.filter((v) => compareEntries(v, cursor) <= 0).length,
        size: q.length
      }))
      const at = global.indexOf(cursor)
      const page = mergePage(parts, limit)
      expect(page.total).toBe(global.length)
      expect(page.entries).toEqual(global.slice(at + 1, at + 1 + limit).map((e, i) => ({ ...e, rank: at + 2 + i })))
    }))
  })

  it("around-me with radius r", () => {
    fc.assert(fc.property(board, fc.integer({ min: 0, max: 10 }), fc.nat(), ({ p, rows }, r, m) => {
      const global = rows.map(strip).sort(compareEntries)
      const me = global[m % global.length]!
      const parts = split(p, rows).map((q) => {
        const better = q.filter((v) => compareEntries(v, me) < 0)
        const worse = q.filter((v) => compareEntries(v, me) > 0)
        return { better: better.slice(Math.max(0, better.length - r)), worse: worse.slice(0, r), betterCount: better.length }
      })
      const at = global.indexOf(me)
      const want = global.slice(Math.max(0, at - r), at + r + 1).map((e) => ({ ...e, rank: global.indexOf(e) + 1 }))
      expect(mergeAround(me, parts, r)).toEqual(want)
    }))
  })
})
