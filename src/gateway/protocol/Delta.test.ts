import fc from "fast-check"
import { describe, expect, it } from "vitest"
import type { RankedEntry } from "../../ports/ReadModel.js"
import { applyDelta, applyWindowDelta, computeDelta } from "./Delta.js"

type Board = Map<string, { xp: number; seq: number; level: number; name: string }>

const topN = (board: Board, n: number): Array<RankedEntry> =>
  [...board.entries()]
    .sort(([, a], [, b]) => b.xp - a.xp || a.seq - b.seq)
    .slice(0, n)
    .map(([id, v], i) => ({ rank: i + 1, user_id: id, username: v.name, xp: v.xp, level: v.level }))

const e = (rank: number, id: string, xp: number): RankedEntry => ({ rank, user_id: id, username: id, xp, level: 1 })

describe("computeDelta", () => {
  it("sends only entries that are new or whose xp changed, with new and previous ranks", () => {
    const prev = [e(1, "a", 30), e(2, "b", 20), e(3, "c", 10)]
    const next = [e(1, "c", 40), e(2, "a", 30), e(3, "b", 20)]
    const d = computeDelta(prev, next)
    expect(d.changes).toEqual([{ user_id: "c", username: "c", xp: 40, level: 1, rank: 1, prev_rank: 3 }])
    expect(d.removed).toEqual([])
  })

  it("lists users pushed out of the top-N as removed and newcomers with prev_rank null", () => {
    const prev = [e(1, "a", 30), e(2, "b", 20)]
    const next = [e(1, "d", 50), e(2, "a", 30)]
    const d = computeDelta(prev, next)
    expect(d.changes).toEqual([{ user_id: "d", username: "d", xp: 50, level: 1, rank: 1, prev_rank: null }])
    expect(d.removed).toEqual(["b"])
  })

  it("treats a username or level change as a change so the client's row stays exact", () => {
    const d = computeDelta([e(1, "a", 30)], [{ ...e(1, "a", 30), level: 2 }])
    expect(d.changes.map((c) => c.user_id)).toEqual(["a"])
  })
})

describe("applyDelta", () => {
  it("yields exactly the server's next top-N for any sequence of score updates", () => {
    const update = fc.record({
      user: fc.integer({ min: 0, max: 40 }),
      add: fc.integer({ min: 0, max: 50 }),
      level: fc.integer({ min: 1, max: 3 })
    })
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 12 }), fc.array(fc.array(update, { maxLength: 8 }), { maxLength: 30 }), (limit, batches) => {
        const board: Board = new Map()
        let seq = 0
        let client = topN(board, limit)
        for (const batch of batches) {
          const prev = topN(board, limit)
          for (const u of batch) {
            const id = `u${u.user}`
            const cur = board.get(id)
            seq++
            // Equal scores: the earlier seq ranks first, as on real boards.
            board.set(id, { xp: (cur?.xp ?? 0) + u.add, seq: u.add === 0 && cur ? cur.seq : seq, level: u.level, name: id })
          }
          const next = topN(board, limit)
          client = applyDelta(client, computeDelta(prev, next), limit)
          expect(client).toEqual(next)
        }
      }),
      { numRuns: 300 }
    )
  })
})

describe("applyWindowDelta", () => {
  /** The window of ranks around `me` (radius each side), and its first rank (null: no rank). */
  const windowOf = (board: Board, me: string, radius: number): { entries: Array<RankedEntry>; first: number | null } => {
    const all = topN(board, board.size)
    const i = all.findIndex((x) => x.user_id === me)
    if (i < 0) return { entries: [], first: null }
    const from = Math.max(0, i - radius)
    return { entries: all.slice(from, i + radius + 1), first: from + 1 }
  }

  it("yields exactly the server's next window around a user as the user and others move", () => {
    const update = fc.record({ user: fc.integer({ min: 0, max: 25 }), add: fc.integer({ min: 0, max: 40 }), level: fc.integer({ min: 1, max: 3 }) })
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 4 }), fc.array(fc.array(update, { maxLength: 6 }), { maxLength: 30 }), (radius, batches) => {
        const board: Board = new Map()
        let seq = 0
        let client = windowOf(board, "u0", radius).entries
        for (const batch of batches) {
          const prev = windowOf(board, "u0", radius)
          for (const u of batch) {
            const id = `u${u.user}`
            const cur = board.get(id)
            seq++
            board.set(id, { xp: (cur?.xp ?? 0) + u.add, seq: u.add === 0 && cur ? cur.seq : seq, level: u.level, name: id })
          }
          const next = windowOf(board, "u0", radius)
          const d = computeDelta(prev.entries, next.entries, (next.first ?? 1) - 1)
          client = applyWindowDelta(client, d, next.first)
          expect(client).toEqual(next.entries)
        }
      }),
      { numRuns: 300 }
    )
  })
})
