// Proves period naming (UTC day, ISO-8601 week-year, month), period bounds, validity and the
// close instant (end + grace), including the Dec 29 – Jan 3 ISO week edges across years.
import { describe, expect, it } from "vitest"
import fc from "fast-check"
import { closesAtMs, isoOfMs, isoWeeksInYear, isValidPeriod, periodBounds, periodDay, periodOf, periodResetsAt, periodZoneName, periodsOfDay, resetsAt, setPeriodZone, utcDay } from "./Periods.js"
import { DEFAULT_RULES } from "./DefaultRules.js"

const at = (iso: string): number => Date.parse(iso)

describe("periodOf", () => {
  it("names day, week, month and all in UTC", () => {
    const t = at("2026-11-26T23:59:59.999Z")
    expect([periodOf("all", t), periodOf("day", t), periodOf("week", t), periodOf("month", t)]).toEqual(["all", "2026-11-26", "2026-W48", "2026-11"])
    expect(periodOf("day", at("2026-11-27T00:00:00Z"))).toBe("2026-11-27")
  })

  it.each([
    ["2026-12-28", "2026-W53"], ["2026-12-31", "2026-W53"], ["2027-01-01", "2026-W53"], ["2027-01-03", "2026-W53"], ["2027-01-04", "2027-W01"],
    ["2024-12-29", "2024-W52"], ["2024-12-30", "2025-W01"], ["2025-01-01", "2025-W01"],
    ["2020-12-31", "2020-W53"], ["2021-01-03", "2020-W53"], ["2021-01-04", "2021-W01"],
    ["2015-12-29", "2015-W53"], ["2016-01-03", "2015-W53"], ["2008-12-29", "2009-W01"], ["2010-01-03", "2009-W53"]
  ])("%s is in ISO week %s", (day, week) => {
    expect(periodOf("week", at(`${day}T12:00:00Z`))).toBe(week)
  })

  it("agrees with the Date-based day and month for any instant in years 1970..2400", () => {
    fc.assert(fc.property(fc.integer({ min: 0, max: Date.UTC(2400, 0, 1) }), (ms) => {
      const iso = new Date(ms).toISOString()
      expect(periodOf("day", ms)).toBe(iso.slice(0, 10))
      expect(periodOf("month", ms)).toBe(iso.slice(0, 7))
      const b = periodBounds("week", periodOf("week", ms))
      expect(b.startMs <= ms && ms < b.endMs).toBe(true)
      expect(new Date(b.startMs).getUTCDay()).toBe(1) // weeks start on Monday
    }))
  })
})

describe("periodBounds and validity", () => {
  it("bounds each window's period", () => {
    expect(periodBounds("day", "2026-11-26")).toEqual({ startMs: at("2026-11-26T00:00:00Z"), endMs: at("2026-11-27T00:00:00Z") })
    expect(periodBounds("week", "2026-W53")).toEqual({ startMs: at("2026-12-28T00:00:00Z"), endMs: at("2027-01-04T00:00:00Z") })
    expect(periodBounds("month", "2024-02")).toEqual({ startMs: at("2024-02-01T00:00:00Z"), endMs: at("2024-03-01T00:00:00Z") })
    expect(periodBounds("all", "all").endMs).toBe(Number.POSITIVE_INFINITY)
  })
  it("rejects periods that do not exist or do not fit the window", () => {
    expect(isoWeeksInYear(2026)).toBe(53)
    expect(isoWeeksInYear(2027)).toBe(52)
    expect(isValidPeriod("week", "2026-W53")).toBe(true)
    for (const [w, p] of [["week", "2027-W53"], ["week", "2026-W00"], ["week", "2026-W5"], ["day", "2026-02-29"], ["day", "2026-13-01"],
      ["day", "2026-11"], ["month", "2026-00"], ["month", "2026-11-01"], ["all", "2026"], ["day", "all"]] as const) {
      expect(isValidPeriod(w, p)).toBe(false)
    }
    expect(isValidPeriod("day", "2024-02-29")).toBe(true)
    expect(() => periodBounds("day", "nope")).toThrow(RangeError)
  })
  it("gives every period periodOf can produce valid bounds containing the instant, even outside years 0..9999", () => {
    fc.assert(fc.property(fc.integer({ min: Date.UTC(-3, 0, 1), max: Date.UTC(10_003, 0, 1) }), (ms) => {
      for (const w of ["day", "week", "month"] as const) {
        const b = periodBounds(w, periodOf(w, ms))
        expect(b.startMs <= ms && ms < b.endMs).toBe(true)
      }
    }), { numRuns: 3000 })
    expect(periodOf("day", Date.UTC(-1, 11, 31))).toBe("-000001-12-31")
    expect(isValidPeriod("day", "+010000-01-01")).toBe(true)
    expect(isValidPeriod("day", "+002026-01-01")).toBe(false) // non-canonical
  })
  it("closes a period 10 minutes after its end", () => {
    expect(closesAtMs("day", "2026-11-26", DEFAULT_RULES)).toBe(at("2026-11-27T00:10:00Z"))
    expect(closesAtMs("month", "2026-12", DEFAULT_RULES)).toBe(at("2027-01-01T00:10:00Z"))
    expect(closesAtMs("all", "all", DEFAULT_RULES)).toBe(Number.POSITIVE_INFINITY)
  })
  it("formats instants exactly like Date#toISOString, including outside years 0..9999", () => {
    fc.assert(fc.property(fc.integer({ min: Date.UTC(-2, 0, 1), max: Date.UTC(10_001, 0, 1) }), (ms) => {
      expect(isoOfMs(ms)).toBe(new Date(ms).toISOString())
    }), { numRuns: 5000 })
    for (const ms of [0, -1, Date.UTC(9999, 11, 31, 23, 59, 59, 999), new Date("0000-01-01T00:00:00Z").getTime() - 1]) {
      expect(isoOfMs(ms)).toBe(new Date(ms).toISOString())
    }
  })
  it("formats clustered and repeated instants exactly (the caches by ms and by second never mix them up)", () => {
    const base = Date.UTC(2026, 11, 6, 18, 0, 0)
    // Offsets within a few seconds and multiples of the cache size (64 ms, 64 s) collide in slots.
    const near = fc.oneof(fc.integer({ min: -3000, max: 3000 }), fc.integer({ min: -50, max: 50 }).map((k) => k * 64), fc.integer({ min: -50, max: 50 }).map((k) => k * 64_000))
    fc.assert(fc.property(fc.array(near, { minLength: 1, maxLength: 40 }), (offsets) => {
      for (const o of [...offsets, ...offsets]) expect(isoOfMs(base + o)).toBe(new Date(base + o).toISOString())
    }), { numRuns: 2000 })
    expect(isoOfMs(base + 0.5)).toBe(isoOfMs(base + 0.5)) // fractional: the uncached path, as before
  })
  it("numbers UTC days from the epoch", () => {
    expect([utcDay(0), utcDay(86_399_999), utcDay(86_400_000), utcDay(-1)]).toEqual([0, 0, 1, -1])
  })
})

describe("periods in ARENA_PERIOD_TZ", () => {
  it("resets_at is the period's end in UTC by default, null for all", () => {
    expect(periodZoneName()).toBe("UTC")
    const t = at("2026-11-26T12:00:00Z")
    expect(resetsAt("day", t)).toBe("2026-11-27T00:00:00.000Z")
    expect(resetsAt("week", t)).toBe("2026-11-30T00:00:00.000Z")
    expect(resetsAt("month", t)).toBe("2026-12-01T00:00:00.000Z")
    expect(resetsAt("all", t)).toBeNull()
    expect(periodResetsAt("day", "2026-11-26")).toBe("2026-11-27T00:00:00.000Z")
    expect(periodResetsAt("all", "all")).toBeNull()
  })

  it("names and bounds periods by the zone's calendar (Europe/Berlin, across the October change)", () => {
    setPeriodZone("Europe/Berlin")
    try {
      // 23:30 UTC on 24 Oct is 25 Oct 01:30 in Berlin.
      expect(periodOf("day", at("2026-10-24T23:30:00Z"))).toBe("2026-10-25")
      expect(periodBounds("day", "2026-10-25")).toEqual({ startMs: at("2026-10-24T22:00:00Z"), endMs: at("2026-10-25T23:00:00Z") }) // 25 hours
      expect(periodBounds("month", "2026-10")).toEqual({ startMs: at("2026-09-30T22:00:00Z"), endMs: at("2026-10-31T23:00:00Z") })
      expect(periodBounds("week", "2026-W13")).toEqual({ startMs: at("2026-03-22T23:00:00Z"), endMs: at("2026-03-29T22:00:00Z") })
      expect(resetsAt("day", at("2026-10-25T12:00:00Z"))).toBe("2026-10-25T23:00:00.000Z")
      expect(closesAtMs("day", "2026-10-25", DEFAULT_RULES)).toBe(at("2026-10-25T23:10:00Z"))
      const d = periodsOfDay(periodDay(at("2026-10-24T23:30:00Z")))
      expect([d.day, d.week, d.month]).toEqual(["2026-10-25", "2026-W43", "2026-10"])
      expect(d.dayEndMs).toBe(at("2026-10-25T23:00:00Z"))
      expect(isoOfMs(at("2026-10-24T23:30:00Z"))).toBe("2026-10-24T23:30:00.000Z") // ISO text stays UTC
    } finally {
      setPeriodZone("UTC")
    }
    expect(periodOf("day", at("2026-10-24T23:30:00Z"))).toBe("2026-10-24")
  })
})
