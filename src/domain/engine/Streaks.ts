// A user's active days in the user table: the latest run of consecutive days in columns (the hot
// path: an event on the latest day or the next one), older runs as KIND_RUN entries. The streak an
// event gets is the run of active days that ends at its own day (ARCHITECTURE §3): days after it
// never count for it. At most MAX_STREAK_RUNS runs are kept; one more drops the oldest.
// Days are the user's zone's calendar days (civil day numbers, domain/Zones.ts localDay).
//
// Streak freezes (rules streak.freezes_per_month): an event on day D after a gap of g missed days
// past the latest run (D > end + 1) bridges the gap when g ≤ the freezes left in D's calendar month
// (per_month − freezes already used in that month): the missed days join the run as if active (they
// count in the streak's length) and g freezes of D's month are used. Only this forward step uses
// freezes; a late event filling an older gap follows the plain rule.
import { civilFromDays } from "../Calendar.js"
import { MAX_STREAK_RUNS, currentStreak, recordDay } from "../Streak.js"
import { KIND_RUN, NO_DAY, NO_MONTH, entryKey } from "../state/UserTable.js"
import type { UserTable } from "../state/UserTable.js"

const RUN_KEY = entryKey(KIND_RUN, 0)
const scratch: Array<number> = []

/** All runs of a user as [s0, e0, s1, e1, …] ascending (allocates; reads and the slow path). */
export const runsOf = (t: UserTable, uid: number, out: Array<number> = []): Array<number> => {
  out.length = 0
  const pairs: Array<number> = []
  for (let e = t.blockStart(uid), end = t.blockEnd(uid); e < end; e++) {
    if (t.eKey[e] === RUN_KEY) pairs.push(t.eA[e]!, t.eB[e]!)
  }
  const order = Array.from({ length: pairs.length / 2 }, (_, i) => i).sort((a, b) => pairs[2 * a]! - pairs[2 * b]!)
  for (const i of order) out.push(pairs[2 * i]!, pairs[2 * i + 1]!)
  if (t.runStart[uid] !== NO_DAY) out.push(t.runStart[uid]!, t.runEnd[uid]!)
  return out
}

/** Replaces a user's runs with `runs` (ascending pairs): the last one goes to the columns. */
const storeRuns = (t: UserTable, uid: number, runs: ReadonlyArray<number>): void => {
  for (let e = t.blockEnd(uid) - 1; e >= t.blockStart(uid); e--) if (t.eKey[e] === RUN_KEY) t.removeAt(uid, e)
  const n = runs.length
  if (n === 0) { t.runStart[uid] = NO_DAY; t.runEnd[uid] = NO_DAY; return }
  for (let i = 0; i + 2 < n; i += 2) t.add(uid, RUN_KEY, runs[i]!, runs[i + 1]!)
  t.runStart[uid] = runs[n - 2]!
  t.runEnd[uid] = runs[n - 1]!
}


/** Keeps the longest run held and the highest streak counted; returns `through`. */
const reach = (t: UserTable, uid: number, through: number, held: number): number => {
  if (held > t.longest[uid]!) t.longest[uid] = held
  if (through > t.reached[uid]!) t.reached[uid] = through
  return through
}

/**
 * Marks `day` active and returns the streak through it: the length of the run of active days
 * that ends at `day`, after merging with the runs around it. Also keeps `longest` (the longest
 * run ever held, which may reach past the event's day) and `reached` (the highest streak an
 * event counted).
 */
/** The calendar month of a civil day number as year * 12 + month - 1. */
export const monthOfDay = (day: number): number => {
  const c = civilFromDays(day)
  return c.year * 12 + c.month - 1
}

/** Freezes the user has left in the month of `day` under `perMonth`. */
export const freezesLeft = (t: UserTable, uid: number, day: number, perMonth: number): number =>
  Math.max(0, perMonth - (t.freezeMonth[uid] !== NO_MONTH && t.freezeMonth[uid] === monthOfDay(day) ? t.freezeUsed[uid]! : 0))

export const markDay = (t: UserTable, uid: number, day: number, freezesPerMonth = 0): number => {
  const s = t.runStart[uid]!
  const e = t.runEnd[uid]!
  if (s === NO_DAY) {
    t.runStart[uid] = day
    t.runEnd[uid] = day
    return reach(t, uid, 1, 1)
  }
  if (day >= s && day <= e) return reach(t, uid, day - s + 1, e - s + 1)
  if (day === e + 1) {
    t.runEnd[uid] = day
    return reach(t, uid, day - s + 1, day - s + 1)
  }
  if (day > e + 1 && freezesPerMonth > 0) {
    const gap = day - e - 1
    if (gap <= freezesPerMonth) {
      const month = monthOfDay(day)
      const used = t.freezeMonth[uid] === month ? t.freezeUsed[uid]! : 0
      if (gap <= freezesPerMonth - used) {
        t.freezeMonth[uid] = month
        t.freezeUsed[uid] = used + gap
        t.runEnd[uid] = day
        return reach(t, uid, day - s + 1, day - s + 1)
      }
    }
  }
  if (day > e + 1) {
    // A new run after a gap: the latest run becomes an older one (dropping the oldest past the cap).
    let runs = 1
    let oldest = -1
    for (let k = t.blockStart(uid), end = t.blockEnd(uid); k < end; k++) {
      if (t.eKey[k] !== RUN_KEY) continue
      runs++
      if (oldest < 0 || t.eA[k]! < t.eA[oldest]!) oldest = k
    }
    if (runs >= MAX_STREAK_RUNS) {
      if (oldest >= 0) t.removeAt(uid, oldest)
      else { t.runStart[uid] = day; t.runEnd[uid] = day; return reach(t, uid, 1, 1) }
    }
    t.add(uid, RUN_KEY, s, e)
    t.runStart[uid] = day
    t.runEnd[uid] = day
    return reach(t, uid, 1, 1)
  }
  // A late event before the latest run (rare): the list-of-runs rule of Streak.ts, on a copy.
  const st = { streakRuns: runsOf(t, uid, scratch), longestStreak: t.longest[uid]!, streakReached: t.reached[uid]! }
  const through = recordDay(st, day)
  storeRuns(t, uid, st.streakRuns)
  t.longest[uid] = st.longestStreak
  t.reached[uid] = st.streakReached
  return through
}

/**
 * The streak shown on a profile as of `asOfDay` (the user's local day): Streak.currentStreak over
 * the user's runs; when that is 0 but the days missed since the latest run (up to yesterday) could
 * still be bridged by the freezes left in asOfDay's month, the run is alive and counts through
 * yesterday (what the next event's bridge would make it).
 */
export const currentStreakOf = (t: UserTable, uid: number, asOfDay: number, freezesPerMonth = 0): number => {
  const runs = runsOf(t, uid, scratch)
  const shown = currentStreak({ streakRuns: runs }, asOfDay)
  if (shown > 0 || freezesPerMonth === 0) return shown
  // The latest run that ended before today (a run on a later day — an event up to the future skew
  // ahead, past local midnight — is not the one today's streak continues).
  let i = runs.length - 2
  while (i >= 0 && runs[i + 1]! >= asOfDay) i -= 2
  if (i < 0) return 0
  const missed = asOfDay - 1 - runs[i + 1]!
  return missed <= freezesLeft(t, uid, asOfDay, freezesPerMonth) ? asOfDay - runs[i]! : 0
}
