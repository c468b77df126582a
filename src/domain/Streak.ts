// Streaks: a user's active UTC days stored as runs [s0,e0,s1,e1,...] (ascending, disjoint,
// non-adjacent), so a late event for an old day fills its gap and merges neighbouring runs.
// Memory is bounded: at most MAX_STREAK_RUNS runs; inserting one more drops the OLDEST run
// (its days stop counting for later gap-filling; longestStreak and streakReached keep what was reached).

export const MAX_STREAK_RUNS = 64

/** First pair index i (even) whose run end ≥ day - 1, or runs.length. */
const findRun = (runs: ReadonlyArray<number>, day: number): number => {
  let lo = 0
  let hi = runs.length / 2
  while (lo < hi) {
    const mid = (lo + hi) >>> 1
    if (runs[2 * mid + 1]! >= day - 1) hi = mid
    else lo = mid + 1
  }
  return 2 * lo
}

/**
 * Marks `day` active (in place, merging runs) and returns the pair index of the run that now
 * holds it. Does not trim: the caller measures first.
 */
const markDay = (runs: Array<number>, day: number): number => {
  const n = runs.length
  if (n > 0) {
    // Hot path: the event is on the latest active day or the day after.
    const s = runs[n - 2]!
    const e = runs[n - 1]!
    if (day >= s && day <= e) return n - 2
    if (day === e + 1) {
      runs[n - 1] = day
      return n - 2
    }
  }
  const i = findRun(runs, day)
  if (i === n || runs[i]! > day + 1) {
    runs.splice(i, 0, day, day) // a new isolated day
    return i
  }
  const e = runs[i + 1]!
  if (day >= runs[i]! && day <= e) return i
  if (day === runs[i]! - 1) {
    runs[i] = day // findRun guarantees the previous run ends before day - 1: no merge there
    return i
  }
  // day === e + 1: extend, and merge with the next run if it starts at day + 1
  if (runs[i + 2] === day + 1) {
    runs[i + 1] = runs[i + 3]!
    runs.splice(i + 2, 2)
  } else {
    runs[i + 1] = day
  }
  return i
}

/** The streak fields of a user's state (model.ts UserState), owned by this module. */
export interface StreakState {
  streakRuns: number[]
  longestStreak: number
  streakReached: number
}

/**
 * Records an event on `day` and returns its streak (ARCHITECTURE §3): the run of active days
 * that ENDS at `day`. Days after it never count for this event, so a late event that fills a
 * gap gets the run up to its own day; events applied after it see the filled gap.
 * Also keeps `longestStreak` (the longest run of active days ever held — it may reach past
 * the event's day, and is never below the profile's current streak) and `streakReached` (the
 * highest streak an event has counted: what streak achievements unlock on and progress toward).
 * Trimming to MAX_STREAK_RUNS happens after measuring.
 */
export const recordDay = (state: StreakState, day: number): number => {
  const runs = state.streakRuns
  const i = markDay(runs, day)
  const s = runs[i]!
  const through = day - s + 1
  const held = runs[i + 1]! - s + 1
  if (held > state.longestStreak) state.longestStreak = held
  if (through > state.streakReached) state.streakReached = through
  if (runs.length > 2 * MAX_STREAK_RUNS) runs.splice(0, runs.length - 2 * MAX_STREAK_RUNS)
  return through
}

/** Consecutive active days ending at `day` (days after it not counted), or 0. */
const runUpTo = (runs: ReadonlyArray<number>, day: number): number => {
  const i = findRun(runs, day + 1)
  if (i >= runs.length) return 0
  const s = runs[i]!
  return s <= day ? day - s + 1 : 0
}

/**
 * The streak shown on a profile as of UTC day `asOfDay`: consecutive active days up to today,
 * or up to yesterday when today has no event yet; otherwise 0. Days after asOfDay (events
 * up to the future-skew ahead) do not count.
 */
export const currentStreak = (state: { readonly streakRuns: ReadonlyArray<number> }, asOfDay: number): number => {
  const today = runUpTo(state.streakRuns, asOfDay)
  return today > 0 ? today : runUpTo(state.streakRuns, asOfDay - 1)
}
