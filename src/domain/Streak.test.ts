// Proves the run-list streak store: inserts in any order give the same runs as a plain set of
// days; an event's streak is the run ENDING at its day (§3), the longest run held and the
// highest streak counted are kept, and memory stays bounded.
import { describe, expect, it } from "vitest"
import fc from "fast-check"
import type { StreakState } from "./Streak.js"
import { currentStreak, MAX_STREAK_RUNS, recordDay } from "./Streak.js"

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
/** Reference: active days counted back from `day` (days after it do not count). */
const backFrom = (days: ReadonlySet<number>, day: number): number => {
  let n = 0
  while (days.has(day - n)) n++
  return n
}
/** Reference: the longest run in a set of days. */
const longestOf = (days: ReadonlySet<number>): number => {
  let best = 0
  for (const d of days) if (!days.has(d + 1)) best = Math.max(best, backFrom(days, d))
  return best
}
const fresh = (runs: Array<number> = []): StreakState => ({ streakRuns: runs, longestStreak: 0, streakReached: 0 })

describe("recordDay", () => {
  it("matches the set-of-days model for any insertion order (within the run bound)", () => {
    fc.assert(fc.property(fc.array(fc.integer({ min: 20_000, max: 20_120 }), { maxLength: 200 }), (days) => {
      const s = fresh()
      const seen = new Set<number>()
      let reached = 0
      for (const d of days) {
        seen.add(d)
        const streak = recordDay(s, d)
        expect(s.streakRuns).toEqual(runsOf(seen))
        expect(streak).toBe(backFrom(seen, d))
        reached = Math.max(reached, streak)
        expect(s.streakReached).toBe(reached)
        expect(s.longestStreak).toBe(longestOf(seen))
      }
    }))
  })

  it("gives a late gap-filler the run up to its own day only; later events see the filled gap", () => {
    const s = fresh([10, 12, 14, 15])
    expect(recordDay(s, 13)).toBe(4) // 10..13: days 14 and 15 come after it and do not count
    expect(s.streakRuns).toEqual([10, 15])
    expect(s.longestStreak).toBe(6) // the run now held reaches past the event's day
    expect(s.streakReached).toBe(4)
    expect(recordDay(s, 15)).toBe(6) // an event after it sees 10..15
    expect(recordDay(s, 14)).toBe(5)
    expect(s.streakReached).toBe(6)
  })

  it("extends a run backwards and forwards by one day", () => {
    const s = fresh([10, 12, 20, 20])
    expect(recordDay(s, 9)).toBe(1) // the new first day of 9..12
    expect(recordDay(s, 13)).toBe(5)
    expect(s.streakRuns).toEqual([9, 13, 20, 20])
    expect(s.longestStreak).toBe(5)
  })

  it("counts an event on a day inside a run up to that day", () => {
    const s = fresh([10, 20])
    expect(recordDay(s, 12)).toBe(3)
    expect(recordDay(s, 20)).toBe(11)
  })

  it(`keeps at most ${MAX_STREAK_RUNS} runs by dropping the oldest`, () => {
    const s = fresh()
    for (let i = 0; i <= MAX_STREAK_RUNS; i++) recordDay(s, 1000 + 2 * i)
    expect(s.streakRuns.length).toBe(2 * MAX_STREAK_RUNS)
    expect(s.streakRuns[0]).toBe(1002)
    // A late day older than everything kept is measured, then dropped again.
    expect(recordDay(s, 500)).toBe(1)
    expect(s.streakRuns[0]).toBe(1002)
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
