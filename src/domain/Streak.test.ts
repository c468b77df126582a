// Proves the run-list streak store: inserts in any order give the same runs as a plain set of
// days, the returned streak is the run through the inserted day, and memory stays bounded.
import { describe, expect, it } from "vitest"
import fc from "fast-check"
import { currentStreak, insertDay, MAX_STREAK_RUNS, runLengthAt } from "./Streak.js"

/** Reference model: runs of a set of days. */
const runsOf = (days: ReadonlySet<number>): Array<number> => {
  const sorted = [...days].sort((a, b) => a - b)
  const out: Array<number> = []
  for (const d of sorted) {
    if (out.length > 0 && out[out.length - 1] === d - 1) out[out.length - 1] = d
    else out.push(d, d)
  }
  return out
}

describe("insertDay", () => {
  it("matches the set-of-days model for any insertion order (within the run bound)", () => {
    fc.assert(fc.property(fc.array(fc.integer({ min: 20_000, max: 20_120 }), { maxLength: 200 }), (days) => {
      const runs: Array<number> = []
      const seen = new Set<number>()
      for (const d of days) {
        seen.add(d)
        const len = insertDay(runs, d)
        const model = runsOf(seen)
        expect(runs).toEqual(model)
        expect(len).toBe(runLengthAt(model, d))
      }
    }))
  })

  it("merges a gap-filling day with both neighbours", () => {
    const runs = [10, 12, 14, 15]
    expect(insertDay(runs, 13)).toBe(6)
    expect(runs).toEqual([10, 15])
  })

  it("extends a run backwards and forwards by one day", () => {
    const runs = [10, 12, 20, 20]
    expect(insertDay(runs, 9)).toBe(4)
    expect(insertDay(runs, 13)).toBe(5)
    expect(runs).toEqual([9, 13, 20, 20])
  })

  it(`keeps at most ${MAX_STREAK_RUNS} runs by dropping the oldest`, () => {
    const runs: Array<number> = []
    for (let i = 0; i <= MAX_STREAK_RUNS; i++) insertDay(runs, 1000 + 2 * i)
    expect(runs.length).toBe(2 * MAX_STREAK_RUNS)
    expect(runs[0]).toBe(1002)
    // A late day older than everything kept is measured, then dropped again.
    expect(insertDay(runs, 500)).toBe(1)
    expect(runs[0]).toBe(1002)
  })
})

describe("currentStreak", () => {
  const state = { streakRuns: [100, 104, 107, 109] }
  it("is the run through today, else through yesterday, else 0", () => {
    expect(currentStreak(state, 109)).toBe(3)
    expect(currentStreak(state, 110)).toBe(3)
    expect(currentStreak(state, 111)).toBe(0)
    expect(currentStreak(state, 105)).toBe(5)
    expect(currentStreak(state, 106)).toBe(0)
    expect(currentStreak(state, 102)).toBe(3)
  })
  it("does not count active days after the as-of day", () => {
    expect(currentStreak(state, 108)).toBe(2)
  })
})
