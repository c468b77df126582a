// UTC calendar for the oracle, via the platform Date (independent of src/domain/Calendar.ts):
// day numbers, the day/ISO-week/month periods of a day, and when each period ends.

export const DAY_MS = 86_400_000

export const dayOf = (ms: number): number => Math.floor(ms / DAY_MS)

export const dayString = (day: number): string => new Date(day * DAY_MS).toISOString().slice(0, 10)

/** Monday = 0 … Sunday = 6. */
const weekday = (day: number): number => (new Date(day * DAY_MS).getUTCDay() + 6) % 7

export interface Periods {
  readonly day: string
  readonly dayEndMs: number
  readonly week: string
  readonly weekEndMs: number
  readonly month: string
  readonly monthEndMs: number
}

/** The periods containing UTC day `day`; each end is exclusive (the next period's start). */
export const periodsOf = (day: number): Periods => {
  const date = new Date(day * DAY_MS)
  const y = date.getUTCFullYear(), m = date.getUTCMonth()
  // ISO 8601: a week belongs to the year of its Thursday; week 1 holds the year's first Thursday.
  const monday = day - weekday(day)
  const thursday = new Date((monday + 3) * DAY_MS)
  const wy = thursday.getUTCFullYear()
  const jan1 = Date.UTC(wy, 0, 1) / DAY_MS
  const week = Math.floor((monday + 3 - jan1) / 7) + 1
  return {
    day: dayString(day),
    dayEndMs: (day + 1) * DAY_MS,
    week: `${wy}-W${String(week).padStart(2, "0")}`,
    weekEndMs: (monday + 7) * DAY_MS,
    month: `${y}-${String(m + 1).padStart(2, "0")}`,
    monthEndMs: Date.UTC(y, m + 1, 1)
  }
}

/** RFC 3339 date-time with an offset → epoch ms (fraction truncated to ms); NaN if invalid. */
export const parseTimestamp = (s: string): number => {
  const m = /^(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(?:\.(\d+))?(?:([Zz])|([+-])(\d{2}):(\d{2}))$/.exec(s)
  if (m === null) return NaN
  const [y, mo, d, hh, mi, ss] = [1, 2, 3, 4, 5, 6].map((i) => Number(m[i]))
  if (mo! < 1 || mo! > 12 || d! < 1 || hh! > 23 || mi! > 59 || ss! > 59) return NaN
  const probe = new Date(0)
  probe.setUTCFullYear(y!, mo! - 1, d!)
  if (probe.getUTCMonth() !== mo! - 1 || probe.getUTCDate() !== d!) return NaN // e.g. 02-30
  const ms = Number(((m[7] ?? "") + "000").slice(0, 3))
  let offsetMin = 0
  if (m[8] === undefined) {
    const oh = Number(m[10]), om = Number(m[11])
    if (oh > 23 || om > 59) return NaN
    offsetMin = (m[9] === "+" ? 1 : -1) * (oh * 60 + om)
  }
  probe.setUTCHours(hh!, mi!, ss!, ms)
  return probe.getTime() - offsetMin * 60_000
}

// Time zones, from Intl's own date formatting (not src/domain/Zones.ts's offset arithmetic): the
// calendar date an instant has in a zone, as a day number comparable with dayOf's.
const fmts = new Map<string, Intl.DateTimeFormat>()

/** The day number of the calendar date instant `ms` has in IANA zone `zone` ("UTC": dayOf). */
export const zoneDayOf = (zone: string, ms: number): number => {
  if (zone === "UTC") return dayOf(ms)
  let f = fmts.get(zone)
  if (f === undefined) fmts.set(zone, (f = new Intl.DateTimeFormat("en-CA", { timeZone: zone, year: "numeric", month: "2-digit", day: "2-digit" })))
  return Date.parse(f.format(ms) + "T00:00:00Z") / DAY_MS // en-CA formats as YYYY-MM-DD
}

/** "YYYY-MM" of a day number: the month streak freezes are counted in. */
export const monthOfDay = (day: number): string => dayString(day).slice(0, 7)
