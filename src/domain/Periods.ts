// Leaderboard periods (ARCHITECTURE §4): UTC day `2026-11-26`, ISO week `2026-W48` (ISO-8601
// week-year), month `2026-11`, and `all`. Per-event lookups go through a cache keyed by UTC day
// number, because the engine asks for all three periods of every event.
import type { Window } from "./model.js"
import { civilFromDays, daysFromCivil, daysInMonth, isoWeekday, MS_PER_DAY, pad2, pad4, utcDay } from "./Calendar.js"

export { utcDay } from "./Calendar.js"

export const ALL_PERIOD = "all"

/** The day, week and month periods containing one UTC day, with their end instants (exclusive). */
export interface DayPeriods {
  readonly day: string
  readonly dayEndMs: number
  readonly week: string
  readonly weekEndMs: number
  readonly month: string
  readonly monthEndMs: number
}

export interface PeriodBounds {
  /** Inclusive start, epoch ms (-Infinity for `all`). */
  readonly startMs: number
  /** Exclusive end, epoch ms (+Infinity for `all`). */
  readonly endMs: number
}

/** ISO week-year and week number of a UTC day: the week belongs to the year of its Thursday. */
export const isoWeekOf = (day: number): { readonly year: number; readonly week: number } => {
  const thursday = day - isoWeekday(day) + 3
  const year = civilFromDays(thursday).year
  return { year, week: Math.floor((thursday - daysFromCivil(year, 1, 1)) / 7) + 1 }
}

/** Day number of the Monday of ISO week 1 of an ISO week-year (the week holding Jan 4). */
const isoYearStart = (year: number): number => {
  const jan4 = daysFromCivil(year, 1, 4)
  return jan4 - isoWeekday(jan4)
}

/** 52 or 53. */
export const isoWeeksInYear = (year: number): number => (isoYearStart(year + 1) - isoYearStart(year)) / 7

const computeDayPeriods = (d: number): DayPeriods => {
  const c = civilFromDays(d)
  const w = isoWeekOf(d)
  const ym = pad4(c.year) + "-" + pad2(c.month)
  return {
    day: ym + "-" + pad2(c.day),
    dayEndMs: (d + 1) * MS_PER_DAY,
    week: pad4(w.year) + "-W" + pad2(w.week),
    weekEndMs: (d - isoWeekday(d) + 7) * MS_PER_DAY,
    month: ym,
    monthEndMs: (d - c.day + 1 + daysInMonth(c.year, c.month)) * MS_PER_DAY
  }
}

// Bounded memo: events cluster around "now", so a few thousand days cover any realistic replay.
const CACHE_LIMIT = 4096
const dayCache = new Map<number, DayPeriods>()

/** The periods of a UTC day number (memoized). */
export const periodsOfDay = (day: number): DayPeriods => {
  let p = dayCache.get(day)
  if (p === undefined) {
    if (dayCache.size >= CACHE_LIMIT) dayCache.clear()
    p = computeDayPeriods(day)
    dayCache.set(day, p)
  }
  return p
}

/** The period of `window` that contains the instant `ms`. */
export const periodOf = (window: Window, ms: number): string => {
  if (window === "all") return ALL_PERIOD
  const p = periodsOfDay(utcDay(ms))
  return window === "day" ? p.day : window === "week" ? p.week : p.month
}

const DAY_RE = /^(\d{4})-(\d{2})-(\d{2})$/
const WEEK_RE = /^(\d{4})-W(\d{2})$/
const MONTH_RE = /^(\d{4})-(\d{2})$/

/** Bounds of a period, or null when `period` is not a valid period of `window`. */
export const periodBoundsOrNull = (window: Window, period: string): PeriodBounds | null => {
  if (window === "all") {
    return period === ALL_PERIOD ? { startMs: Number.NEGATIVE_INFINITY, endMs: Number.POSITIVE_INFINITY } : null
  }
  if (window === "day") {
    const m = DAY_RE.exec(period)
    if (m === null) return null
    const y = Number(m[1]), mo = Number(m[2]), d = Number(m[3])
    if (mo < 1 || mo > 12 || d < 1 || d > daysInMonth(y, mo)) return null
    const start = daysFromCivil(y, mo, d)
    return { startMs: start * MS_PER_DAY, endMs: (start + 1) * MS_PER_DAY }
  }
  if (window === "week") {
    const m = WEEK_RE.exec(period)
    if (m === null) return null
    const y = Number(m[1]), w = Number(m[2])
    if (w < 1 || w > isoWeeksInYear(y)) return null
    const start = isoYearStart(y) + (w - 1) * 7
    return { startMs: start * MS_PER_DAY, endMs: (start + 7) * MS_PER_DAY }
  }
  const m = MONTH_RE.exec(period)
  if (m === null) return null
  const y = Number(m[1]), mo = Number(m[2])
  if (mo < 1 || mo > 12) return null
  const start = daysFromCivil(y, mo, 1)
  return { startMs: start * MS_PER_DAY, endMs: (start + daysInMonth(y, mo)) * MS_PER_DAY }
}

export const isValidPeriod = (window: Window, period: string): boolean => periodBoundsOrNull(window, period) !== null

/** Bounds of a period; throws on an invalid period (validate user input with isValidPeriod first). */
export const periodBounds = (window: Window, period: string): PeriodBounds => {
  const b = periodBoundsOrNull(window, period)
  if (b === null) throw new RangeError(`invalid ${window} period: ${JSON.stringify(period)}`)
  return b
}

/**
 * When a period stops accepting late events: its end plus the rules' grace (in stream time).
 * A period is open while `streamTimeMs < closesAtMs`. `all` never closes.
 */
export const closesAtMs = (window: Window, period: string, rules: { readonly periodGraceMs: number }): number =>
  periodBounds(window, period).endMs + rules.periodGraceMs
