// Leaderboard periods (ARCHITECTURE §4): day `2026-11-26`, ISO week `2026-W48` (ISO-8601
// week-year), month `2026-11`, and `all`, as calendar periods of the deployment's period zone
// (ARENA_PERIOD_TZ, default UTC, set once at start with setPeriodZone). Per-event lookups go
// through a cache keyed by the zone's day number, because the engine asks for all three periods
// of every event.
import type { Window } from "./Model.js"
import { civilFromDays, daysFromCivil, daysInMonth, isoWeekday, MS_PER_DAY, pad2, pad4, utcDay } from "./Calendar.js"
import { UTC_ZONE, dayStartMs, localDay, zoneId, zoneName } from "./Zones.js"

export { utcDay } from "./Calendar.js"

export const ALL_PERIOD = "all"

/**
 * The day, week and month periods containing one UTC day, with their end instants (exclusive)
 * and their `state.periods` keys (`day:2026-11-26`; per agent via agentKeys).
 */
export interface DayPeriods {
  readonly dayNumber: number
  readonly day: string
  readonly dayEndMs: number
  readonly week: string
  readonly weekEndMs: number
  readonly month: string
  readonly monthEndMs: number
  readonly dayKey: string
  readonly weekKey: string
  readonly monthKey: string
  /** Per-agent keys, memoized (flat strings hash once; concatenating per event costs more). */
  readonly agentKeys: Map<string, AgentPeriodKeys>
}

export interface AgentPeriodKeys {
  readonly day: string
  readonly week: string
  readonly month: string
}

const AGENT_KEYS_LIMIT = 256

let periodZone = UTC_ZONE

/**
 * Sets the zone whose calendar board periods follow (an IANA name; throws RangeError when
 * unknown). Called once at start, before any event is scored: periods of one deployment must
 * never change zone (period strings would name other instants).
 */
export const setPeriodZone = (name: string): void => {
  const z = zoneId(name)
  if (z === periodZone) return
  periodZone = z
  dayCache.clear()
}

export const periodZoneName = (): string => zoneName(periodZone)

/** The period zone's day number of an instant (the key of periodsOfDay). */
export const periodDay = (ms: number): number => localDay(periodZone, ms)

/** The instant the period zone's day `day` starts. */
const startOf = (day: number): number => dayStartMs(periodZone, day)

/** Keys of `agent`'s period scores for this day's periods: `${window}:${period}:${agent}`. */
export const agentPeriodKeys = (p: DayPeriods, agent: string): AgentPeriodKeys => {
  let k = p.agentKeys.get(agent)
  if (k === undefined) {
    k = { day: p.dayKey + ":" + agent, week: p.weekKey + ":" + agent, month: p.monthKey + ":" + agent }
    if (p.agentKeys.size < AGENT_KEYS_LIMIT) p.agentKeys.set(agent, k)
  }
  return k
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
  const month = pad4(c.year) + "-" + pad2(c.month)
  const day = month + "-" + pad2(c.day)
  const week = pad4(w.year) + "-W" + pad2(w.week)
  return {
    dayNumber: d,
    day,
    dayEndMs: startOf(d + 1),
    week,
    weekEndMs: startOf(d - isoWeekday(d) + 7),
    month,
    monthEndMs: startOf(d - c.day + 1 + daysInMonth(c.year, c.month)),
    dayKey: "day:" + day,
    weekKey: "week:" + week,
    monthKey: "month:" + month,
    agentKeys: new Map()
  }
}

// Bounded memo: events cluster around "now", so a few thousand days cover any realistic replay.
const CACHE_LIMIT = 4096
const dayCache = new Map<number, DayPeriods>()

/** The periods of a period-zone day number (memoized; see periodDay). */
export const periodsOfDay = (day: number): DayPeriods => {
  let p = dayCache.get(day)
  if (p === undefined) {
    if (dayCache.size >= CACHE_LIMIT) dayCache.clear()
    p = computeDayPeriods(day)
    dayCache.set(day, p)
  }
  return p
}

const pad3 = (n: number): string => (n >= 100 ? String(n) : n >= 10 ? "0" + n : "00" + n)

// isoOfMs runs twice per event (event and stream time): a string built from ten pieces per call
// was the largest allocation of the hot path. Stream times repeat across the messages of one
// millisecond and event times within a second share all but the millis, so two direct-mapped
// caches (exact ms, then the "…T12:34:56." prefix of its second) leave one concatenation a call.
const MILLIS_Z: ReadonlyArray<string> = Array.from({ length: 1000 }, (_, k) => pad3(k) + "Z")
const SLOTS = 64
const exactMs = new Float64Array(SLOTS).fill(Number.NaN)
const exactText: Array<string> = new Array<string>(SLOTS).fill("")
const secKey = new Float64Array(SLOTS).fill(Number.NaN)
const secText: Array<string> = new Array<string>(SLOTS).fill("")

/**
 * `new Date(ms).toISOString()` for years 0000..9999, built from the cached day string
 * (toISOString costs about as much as the rest of an event's scoring).
 */
export const isoOfMs = (ms: number): string => {
  const slot = ms & (SLOTS - 1)
  if (exactMs[slot] === ms) return exactText[slot]!
  const milli = ms % 1000
  if (!Number.isInteger(ms) || milli < 0) return isoOfMsSlow(ms)
  const sec = (ms - milli) / 1000
  const s = sec & (SLOTS - 1)
  let prefix: string
  if (secKey[s] === sec) prefix = secText[s]!
  else {
    const d = utcDay(ms)
    const p = periodsOfDay(d)
    if (p.day.length !== 10) return new Date(ms).toISOString() // years outside 0..9999
    let t = sec - d * 86400
    const ss = t % 60
    t = (t - ss) / 60
    const min = t % 60
    const hour = (t - min) / 60
    prefix = p.day + "T" + pad2(hour) + ":" + pad2(min) + ":" + pad2(ss) + "."
    secKey[s] = sec
    secText[s] = prefix
  }
  const text = prefix + MILLIS_Z[milli]!
  exactMs[slot] = ms
  exactText[slot] = text
  return text
}

/** The uncached form (fractional or pre-1970 instants). */
const isoOfMsSlow = (ms: number): string => {
  const d = utcDay(ms)
  const p = periodsOfDay(d)
  if (p.day.length !== 10) return new Date(ms).toISOString() // years outside 0..9999
  let t = ms - d * MS_PER_DAY
  const milli = t % 1000
  t = (t - milli) / 1000
  const sec = t % 60
  t = (t - sec) / 60
  const min = t % 60
  const hour = (t - min) / 60
  return p.day + "T" + pad2(hour) + ":" + pad2(min) + ":" + pad2(sec) + "." + pad3(milli) + "Z"
}

/** The period of `window` that contains the instant `ms`. */
export const periodOf = (window: Window, ms: number): string => {
  if (window === "all") return ALL_PERIOD
  const p = periodsOfDay(periodDay(ms))
  return window === "day" ? p.day : window === "week" ? p.week : p.month
}

// Years are 4 digits, or ±6 digits outside 0..9999 (as periodOf writes them); canonical only.
const YEAR = "(\\d{4}|[+-]\\d{6})"
const DAY_RE = new RegExp(`^${YEAR}-(\\d{2})-(\\d{2})$`)
const WEEK_RE = new RegExp(`^${YEAR}-W(\\d{2})$`)
const MONTH_RE = new RegExp(`^${YEAR}-(\\d{2})$`)

/** The year of a period string, or NaN when not in its canonical form. */
const yearOf = (text: string | undefined): number => {
  const y = Number(text)
  return text !== undefined && pad4(y) === text ? y : Number.NaN
}

/** Bounds of a period, or null when `period` is not a valid period of `window`. */
export const periodBoundsOrNull = (window: Window, period: string): PeriodBounds | null => {
  if (window === "all") {
    return period === ALL_PERIOD ? { startMs: Number.NEGATIVE_INFINITY, endMs: Number.POSITIVE_INFINITY } : null
  }
  if (window === "day") {
    const m = DAY_RE.exec(period)
    if (m === null) return null
    const y = yearOf(m[1]), mo = Number(m[2]), d = Number(m[3])
    if (Number.isNaN(y) || mo < 1 || mo > 12 || d < 1 || d > daysInMonth(y, mo)) return null
    const start = daysFromCivil(y, mo, d)
    return { startMs: startOf(start), endMs: startOf(start + 1) }
  }
  if (window === "week") {
    const m = WEEK_RE.exec(period)
    if (m === null) return null
    const y = yearOf(m[1]), w = Number(m[2])
    if (Number.isNaN(y) || w < 1 || w > isoWeeksInYear(y)) return null
    const start = isoYearStart(y) + (w - 1) * 7
    return { startMs: startOf(start), endMs: startOf(start + 7) }
  }
  const m = MONTH_RE.exec(period)
  if (m === null) return null
  const y = yearOf(m[1]), mo = Number(m[2])
  if (Number.isNaN(y) || mo < 1 || mo > 12) return null
  const start = daysFromCivil(y, mo, 1)
  return { startMs: startOf(start), endMs: startOf(start + daysInMonth(y, mo)) }
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
/**
 * When the current period of `window` at instant `nowMs` resets (its exclusive end, ISO text), or
 * null for `all` (the `resets_at` of board answers and snapshots).
 */
export const resetsAt = (window: Window, nowMs: number): string | null => {
  if (window === "all") return null
  const p = periodsOfDay(periodDay(nowMs))
  return isoOfMs(window === "day" ? p.dayEndMs : window === "week" ? p.weekEndMs : p.monthEndMs)
}

/** The `resets_at` of a named period (its end), or null for `all`. */
export const periodResetsAt = (window: Window, period: string): string | null =>
  window === "all" ? null : isoOfMs(periodBounds(window, period).endMs)

export const closesAtMs = (window: Window, period: string, rules: { readonly periodGraceMs: number }): number =>
  periodBounds(window, period).endMs + rules.periodGraceMs
