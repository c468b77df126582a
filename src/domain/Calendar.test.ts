// Proves the strict RFC 3339 parser (real dates only, offsets applied, fraction truncated to ms)
// and the civil-date arithmetic it rests on.
import { describe, expect, it } from "vitest"
import fc from "fast-check"
import { civilFromDays, daysFromCivil, parseRfc3339 } from "./Calendar.js"

describe("parseRfc3339", () => {
  it("parses UTC, offsets, lower-case t/z and fractions", () => {
    expect(parseRfc3339("2026-11-26T09:30:00Z")).toBe(Date.UTC(2026, 10, 26, 9, 30))
    expect(parseRfc3339("2026-11-26T09:30:00+01:00")).toBe(Date.UTC(2026, 10, 26, 8, 30))
    expect(parseRfc3339("2026-11-26T09:30:00-05:30")).toBe(Date.UTC(2026, 10, 26, 15, 0))
    expect(parseRfc3339("2026-11-26t09:30:00z")).toBe(Date.UTC(2026, 10, 26, 9, 30))
    expect(parseRfc3339("2026-11-26T09:30:00.5Z")).toBe(Date.UTC(2026, 10, 26, 9, 30, 0, 500))
    expect(parseRfc3339("2026-11-26T09:30:00.123999999Z")).toBe(Date.UTC(2026, 10, 26, 9, 30, 0, 123))
    expect(parseRfc3339("2024-02-29T00:00:00Z")).toBe(Date.UTC(2024, 1, 29))
    expect(parseRfc3339("0001-01-01T00:00:00Z")).toBe(new Date("0001-01-01T00:00:00Z").getTime())
  })
  it.each([
    "2026-02-29T00:00:00Z", "2026-04-31T00:00:00Z", "2026-13-01T00:00:00Z", "2026-00-10T00:00:00Z", "2026-11-00T00:00:00Z",
    "2026-11-26T24:00:00Z", "2026-11-26T23:60:00Z", "2026-11-26T23:59:60Z", "2026-11-26 09:30:00Z", "2026-11-26T09:30:00",
    "2026-11-26T09:30Z", "2026-11-26T09:30:00.Z", "2026-11-26T09:30:00+0100", "2026-11-26T09:30:00+24:00", "2026-11-26T09:30:00+01:60",
    "2026-11-26", "26-11-26T09:30:00Z", "2026-11-26T09:30:00ZZ", "+2026-11-26T09:30:00Z", "2026-11-26T09:30:00Z ", "２026-11-26T09:30:00Z"
  ])("rejects %j", (s) => {
    expect(parseRfc3339(s)).toBeNaN()
  })
  it("agrees with Date.parse on every valid ISO instant", () => {
    fc.assert(fc.property(fc.integer({ min: Date.UTC(1000, 0, 1), max: Date.UTC(9999, 11, 31) }), (ms) => {
      expect(parseRfc3339(new Date(ms).toISOString())).toBe(ms)
    }))
  })
})

describe("civil dates", () => {
  it("round-trips day numbers and matches known dates", () => {
    expect(daysFromCivil(1970, 1, 1)).toBe(0)
    expect(daysFromCivil(2000, 3, 1)).toBe(11_017)
    fc.assert(fc.property(fc.integer({ min: -800_000, max: 3_000_000 }), (d) => {
      const c = civilFromDays(d)
      expect(daysFromCivil(c.year, c.month, c.day)).toBe(d)
    }))
  })
})
