// Proves the zone arithmetic the streak days and board periods stand on: local days of 23 and
// 25 hours at DST changes (Europe/Berlin, America/New_York), a zone whose midnight is skipped
// (America/Havana), offsets east and west, canonical names, and that UTC never consults Intl.
import { describe, expect, it } from "vitest"
import { MS_PER_DAY } from "./Calendar.js"
import { UTC_ZONE, canonicalZone, dayStartMs, localDay, offsetAt, zoneId, zoneName } from "./Zones.js"

const dayOf = (iso: string): number => Date.parse(iso + "T00:00:00Z") / MS_PER_DAY
const hoursOf = (zone: number, iso: string): number => (dayStartMs(zone, dayOf(iso) + 1) - dayStartMs(zone, dayOf(iso))) / 3_600_000

describe("time zones", () => {
  it("has days of 23 and 25 hours where clocks change (Berlin, New York)", () => {
    const berlin = zoneId("Europe/Berlin")
    expect(hoursOf(berlin, "2026-03-29")).toBe(23)
    expect(hoursOf(berlin, "2026-10-25")).toBe(25)
    expect(hoursOf(berlin, "2026-06-01")).toBe(24)
    expect(new Date(dayStartMs(berlin, dayOf("2026-03-29"))).toISOString()).toBe("2026-03-28T23:00:00.000Z")
    expect(new Date(dayStartMs(berlin, dayOf("2026-10-26"))).toISOString()).toBe("2026-10-25T23:00:00.000Z")
    const ny = zoneId("America/New_York")
    expect(hoursOf(ny, "2026-03-08")).toBe(23)
    expect(hoursOf(ny, "2026-11-01")).toBe(25)
  })

  it("maps instants to the zone's calendar day on both sides of a transition", () => {
    const berlin = zoneId("Europe/Berlin")
    expect(offsetAt(berlin, Date.parse("2026-03-29T00:59:59Z"))).toBe(3_600_000)
    expect(offsetAt(berlin, Date.parse("2026-03-29T01:00:00Z"))).toBe(7_200_000)
    expect(localDay(berlin, Date.parse("2026-03-28T22:59:59Z"))).toBe(dayOf("2026-03-28"))
    expect(localDay(berlin, Date.parse("2026-03-28T23:00:00Z"))).toBe(dayOf("2026-03-29"))
    // The repeated hour of October: 00:30 UTC and 01:30 UTC are both 25 October in Berlin.
    expect(localDay(berlin, Date.parse("2026-10-25T00:30:00Z"))).toBe(dayOf("2026-10-25"))
    expect(localDay(berlin, Date.parse("2026-10-25T22:59:59Z"))).toBe(dayOf("2026-10-25"))
    expect(localDay(berlin, Date.parse("2026-10-25T23:00:00Z"))).toBe(dayOf("2026-10-26"))
  })

  it("starts a day at the end of the gap when its midnight does not exist (Havana)", () => {
    const havana = zoneId("America/Havana")
    expect(new Date(dayStartMs(havana, dayOf("2026-03-08"))).toISOString()).toBe("2026-03-08T05:00:00.000Z")
    expect(hoursOf(havana, "2026-03-08")).toBe(23)
  })

  it("is a day ahead in the far east and a day behind in the far west at the same instant", () => {
    const t = Date.parse("2026-01-01T11:00:00Z")
    expect(localDay(zoneId("Pacific/Kiritimati"), t)).toBe(dayOf("2026-01-02")) // UTC+14
    expect(localDay(zoneId("Pacific/Pago_Pago"), t)).toBe(dayOf("2026-01-01")) // UTC-11
    expect(localDay(zoneId("Pacific/Pago_Pago"), Date.parse("2026-01-01T10:59:59Z"))).toBe(dayOf("2025-12-31"))
  })

  it("canonicalizes names and refuses what is not an IANA zone", () => {
    expect(canonicalZone("europe/berlin")).toBe("Europe/Berlin")
    expect(canonicalZone("Etc/UTC")).toBe("UTC")
    expect(canonicalZone("UTC")).toBe("UTC")
    for (const bad of ["Mars/Olympus", "+02:00", "", "Europe/Berlin ", "x".repeat(65)]) expect(canonicalZone(bad)).toBeNull()
    expect(zoneId("Etc/UTC")).toBe(UTC_ZONE)
    expect(zoneName(zoneId("europe/berlin"))).toBe("Europe/Berlin")
    expect(() => zoneId("Mars/Olympus")).toThrow(RangeError)
  })

  it("costs UTC users nothing: day = floor(ms / day), offset 0", () => {
    const t = Date.parse("2026-05-05T23:59:59.999Z")
    expect(localDay(UTC_ZONE, t)).toBe(Math.floor(t / MS_PER_DAY))
    expect(offsetAt(UTC_ZONE, t)).toBe(0)
  })
})
