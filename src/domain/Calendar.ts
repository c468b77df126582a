// Pure UTC calendar arithmetic and the strict RFC 3339 timestamp parser used by the event
// decoder. Own civil-date math (Hinnant's algorithms) instead of Date.UTC, which maps
// years 0..99 to 1900..1999 and allocates; everything here is integer math on numbers.

export const MS_PER_DAY = 86_400_000

/** Days since 1970-01-01 of a proleptic-Gregorian civil date (month 1..12). */
export const daysFromCivil = (year: number, month: number, day: number): number => {
  const y = month <= 2 ? year - 1 : year
  const era = Math.floor(y / 400)
  const yoe = y - era * 400
  const mp = month > 2 ? month - 3 : month + 9
  const doy = Math.floor((153 * mp + 2) / 5) + day - 1
  const doe = yoe * 365 + Math.floor(yoe / 4) - Math.floor(yoe / 100) + doy
  return era * 146_097 + doe - 719_468
}

export interface CivilDate {
  readonly year: number
  readonly month: number
  readonly day: number
}

/** Inverse of daysFromCivil. */
export const civilFromDays = (days: number): CivilDate => {
  const z = days + 719_468
  const era = Math.floor(z / 146_097)
  const doe = z - era * 146_097
  const yoe = Math.floor((doe - Math.floor(doe / 1460) + Math.floor(doe / 36_524) - Math.floor(doe / 146_096)) / 365)
  const doy = doe - (365 * yoe + Math.floor(yoe / 4) - Math.floor(yoe / 100))
  const mp = Math.floor((5 * doy + 2) / 153)
  const day = doy - Math.floor((153 * mp + 2) / 5) + 1
  const month = mp < 10 ? mp + 3 : mp - 9
  return { year: yoe + era * 400 + (month <= 2 ? 1 : 0), month, day }
}

export const isLeapYear = (y: number): boolean => (y % 4 === 0 && y % 100 !== 0) || y % 400 === 0

export const daysInMonth = (y: number, m: number): number =>
  m === 2 ? (isLeapYear(y) ? 29 : 28) : m === 4 || m === 6 || m === 9 || m === 11 ? 30 : 31

/** UTC day number (days since the epoch) of an instant. */
export const utcDay = (ms: number): number => Math.floor(ms / MS_PER_DAY)

/** ISO weekday with Monday = 0 .. Sunday = 6 (1970-01-01 was a Thursday). */
export const isoWeekday = (day: number): number => (((day + 3) % 7) + 7) % 7

export const pad2 = (n: number): string => (n < 10 ? "0" + n : String(n))
/** Four-digit year; outside 0..9999 the ISO expanded form (±YYYYYY), as Date#toISOString does. */
export const pad4 = (n: number): string =>
  n >= 0 && n <= 9999 ? String(n).padStart(4, "0") : (n < 0 ? "-" : "+") + String(Math.abs(n)).padStart(6, "0")

/** Digit value of the char code at i, or -1. */
const dig = (s: string, i: number): number => {
  const c = s.charCodeAt(i) - 48
  return c >= 0 && c <= 9 ? c : -1
}

const num2 = (s: string, i: number): number => {
  const a = dig(s, i)
  const b = dig(s, i + 1)
  return a < 0 || b < 0 ? -1 : a * 10 + b
}

/**
 * Parses a strict RFC 3339 date-time (`YYYY-MM-DDTHH:MM:SS[.frac](Z|±HH:MM)`; `T`/`Z` may be
 * lower case per RFC 3339 §5.6) into epoch milliseconds, or NaN. The date must exist.
 * Leap seconds (`:60`) are rejected: epoch milliseconds cannot represent them, and accepting
 * them would make two different instants collide. Fraction digits past milliseconds are
 * truncated (toward the earlier instant).
 */
export const parseRfc3339 = (s: string): number => {
  const len = s.length
  if (len < 20) return NaN
  const y1 = num2(s, 0)
  const y2 = num2(s, 2)
  if (y1 < 0 || y2 < 0 || s.charCodeAt(4) !== 45 || s.charCodeAt(7) !== 45) return NaN
  const year = y1 * 100 + y2
  const month = num2(s, 5)
  const day = num2(s, 8)
  if (month < 1 || month > 12 || day < 1 || day > daysInMonth(year, month)) return NaN
  const t = s.charCodeAt(10)
  if (t !== 84 && t !== 116) return NaN // 'T' | 't'
  const hh = num2(s, 11)
  const mi = num2(s, 14)
  const ss = num2(s, 17)
  if (s.charCodeAt(13) !== 58 || s.charCodeAt(16) !== 58) return NaN
  if (hh < 0 || hh > 23 || mi < 0 || mi > 59 || ss < 0 || ss > 59) return NaN
  let i = 19
  let frac = 0
  if (s.charCodeAt(i) === 46) { // '.'
    i++
    const start = i
    while (i < len && dig(s, i) >= 0) {
      if (i - start < 3) frac = frac * 10 + dig(s, i)
      i++
    }
    const n = i - start
    if (n === 0) return NaN
    if (n === 1) frac *= 100
    else if (n === 2) frac *= 10
  }
  let offsetMin = 0
  const z = s.charCodeAt(i)
  if (z === 90 || z === 122) { // 'Z' | 'z'
    if (i + 1 !== len) return NaN
  } else if (z === 43 || z === 45) { // '+' | '-'
    if (i + 6 !== len || s.charCodeAt(i + 3) !== 58) return NaN
    const oh = num2(s, i + 1)
    const om = num2(s, i + 4)
    if (oh < 0 || oh > 23 || om < 0 || om > 59) return NaN
    offsetMin = (z === 43 ? 1 : -1) * (oh * 60 + om)
  } else {
    return NaN
  }
  return daysFromCivil(year, month, day) * MS_PER_DAY + ((hh * 60 + mi - offsetMin) * 60 + ss) * 1000 + frac
}
