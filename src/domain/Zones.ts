// IANA time zones as the engine uses them: a zone id per name (0 = UTC), an instant's local civil
// day number in a zone, and the instant a local day starts. Offsets come from Intl (the tz database
// of the running Node) and are cached per zone for 8 UTC days (direct-mapped): Intl is asked at most a few times per
// zone and day (once at each end of the day, plus a bisection when the offset differs, i.e. a
// transition falls inside), so the per-event cost is a compare and an add. UTC (id 0) never
// reaches Intl. Pure apart from these caches: the answers depend only on the arguments (and the
// tz database, which a replay on another Node version could see differently — see README).
import { MS_PER_DAY, daysFromCivil } from "./Calendar.js"

export const UTC_ZONE = 0
export const UTC_NAME = "UTC"

const names: Array<string> = [UTC_NAME]
const byName = new Map<string, number>([[UTC_NAME, UTC_ZONE]])
const formatters: Array<Intl.DateTimeFormat | null> = [null]

const formatterFor = (name: string): Intl.DateTimeFormat =>
  new Intl.DateTimeFormat("en-US", {
    timeZone: name, hourCycle: "h23", year: "numeric", month: "numeric", day: "numeric",
    hour: "numeric", minute: "numeric", second: "numeric", era: "short"
  })

/**
 * The canonical name of an IANA zone Intl knows (`europe/berlin` → `Europe/Berlin`,
 * `Etc/UTC` → `UTC`), or null when unknown. Offsets like `+02:00` are not zones and are refused.
 */
export const canonicalZone = (name: string): string | null => {
  if (name.length === 0 || name.length > 64 || !/^[A-Za-z][A-Za-z0-9_+\-/]*$/u.test(name)) return null
  try {
    const tz = new Intl.DateTimeFormat("en-US", { timeZone: name }).resolvedOptions().timeZone
    return tz === "Etc/UTC" || tz === "Etc/GMT" || tz === "GMT" || tz === "Etc/Universal" || tz === "UCT" || tz === "Universal" || tz === "Zulu" ? UTC_NAME : tz
  } catch {
    return null
  }
}

/** The id of a zone name (interned on first use); throws RangeError on an unknown zone. */
export const zoneId = (name: string): number => {
  const known = byName.get(name)
  if (known !== undefined) return known
  const canonical = canonicalZone(name)
  if (canonical === null) throw new RangeError(`unknown time zone ${JSON.stringify(name)}`)
  let id = byName.get(canonical)
  if (id === undefined) {
    id = names.length
    names.push(canonical)
    formatters.push(formatterFor(canonical))
    byName.set(canonical, id)
    for (let k = 0; k < SLOTS; k++) { cacheDay.push(Number.NaN); cacheStart.push(0); cacheSwitch.push(0); cacheEnd.push(0) }
  }
  byName.set(name, id)
  return id
}

export const zoneName = (id: number): string => names[id]!

/** UTC offset in ms (local − UTC) of `zone` at instant `ms`, from Intl (uncached). */
const intlOffset = (zone: number, ms: number): number => {
  const parts = formatters[zone]!.formatToParts(ms)
  let y = 0, mo = 0, d = 0, h = 0, mi = 0, s = 0, bc = false
  for (const p of parts) {
    switch (p.type) {
      case "year": y = Number(p.value); break
      case "month": mo = Number(p.value); break
      case "day": d = Number(p.value); break
      case "hour": h = Number(p.value); break
      case "minute": mi = Number(p.value); break
      case "second": s = Number(p.value); break
      case "era": bc = p.value === "BC" || p.value === "B"; break
    }
  }
  if (bc) y = 1 - y
  const whole = Math.floor(ms / 1000) * 1000
  const local = (daysFromCivil(y, mo, d) * 86_400 + h * 3600 + mi * 60 + s) * 1000
  return local - whole
}

// Per zone, SLOTS UTC days (direct-mapped by day number, so the days around "now" and late events a
// few days back stay cached together): the day, the offset at its start, the instant (within the
// day) from which `cacheEnd` applies, and the offset from then on (= start offset when nothing
// changes). Slot i of zone z is at z * SLOTS + i; zone 0 (UTC) never uses its slots.
const SLOTS = 8
const cacheDay: Array<number> = new Array<number>(SLOTS).fill(Number.NaN)
const cacheStart: Array<number> = new Array<number>(SLOTS).fill(0)
const cacheSwitch: Array<number> = new Array<number>(SLOTS).fill(0)
const cacheEnd: Array<number> = new Array<number>(SLOTS).fill(0)

const fillDay = (zone: number, day: number, at: number): void => {
  const t0 = day * MS_PER_DAY
  const t1 = t0 + MS_PER_DAY - 1000
  const a = intlOffset(zone, t0)
  const b = intlOffset(zone, t1)
  let sw = t1 + 1000
  if (a !== b) {
    // Bisect to the second the offset changes (transitions fall on whole seconds).
    let lo = t0, hi = t1 // offset(lo) = a, offset(hi) = b
    while (hi - lo > 1000) {
      const mid = lo + Math.floor((hi - lo) / 2000) * 1000
      if (intlOffset(zone, mid) === a) lo = mid
      else hi = mid
    }
    sw = hi
  }
  cacheDay[at] = day
  cacheStart[at] = a
  cacheSwitch[at] = sw
  cacheEnd[at] = b
}

/** UTC offset in ms (local − UTC) of `zone` at instant `ms` (cached per zone and UTC day). */
export const offsetAt = (zone: number, ms: number): number => {
  if (zone === UTC_ZONE) return 0
  const day = Math.floor(ms / MS_PER_DAY)
  const at = zone * SLOTS + (day & (SLOTS - 1))
  if (cacheDay[at] !== day) fillDay(zone, day, at)
  return ms < cacheSwitch[at]! ? cacheStart[at]! : cacheEnd[at]!
}

/** The local civil day number (days since 1970-01-01 as a calendar date) of instant `ms` in `zone`. */
export const localDay = (zone: number, ms: number): number =>
  zone === UTC_ZONE ? Math.floor(ms / MS_PER_DAY) : Math.floor((ms + offsetAt(zone, ms)) / MS_PER_DAY)

/**
 * The first instant (epoch ms) whose local day in `zone` is `day`: local midnight, or the end of a
 * transition gap when midnight does not exist that day.
 */
export const dayStartMs = (zone: number, day: number): number => {
  if (zone === UTC_ZONE) return day * MS_PER_DAY
  const wall = day * MS_PER_DAY
  let t = wall - offsetAt(zone, wall)
  t = wall - offsetAt(zone, t)
  // Walk to the exact first instant of the day (gaps and overlaps near midnight): at most a few steps.
  if (localDay(zone, t) < day) {
    let lo = t, hi = t + 2 * 3_600_000 // a transition gap is at most hours long
    while (localDay(zone, hi) < day) hi += 3_600_000
    while (hi - lo > 1000) {
      const mid = lo + Math.floor((hi - lo) / 2000) * 1000
      if (localDay(zone, mid) < day) lo = mid
      else hi = mid
    }
    return hi
  }
  while (localDay(zone, t - 1000) === day) {
    // An overlap (clocks set back over midnight): the earlier midnight is the start.
    const earlier = t - 3_600_000
    if (localDay(zone, earlier) === day) t = earlier
    else {
      let lo = earlier, hi = t
      while (hi - lo > 1000) {
        const mid = lo + Math.floor((hi - lo) / 2000) * 1000
        if (localDay(zone, mid) < day) lo = mid
        else hi = mid
      }
      return hi
    }
  }
  return t
}
