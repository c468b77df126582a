// Proves streak days follow the user's zone from the seq of a settings change on (DST days of 23
// and 25 hours, a user moving east and west), that streak freezes bridge missed days as README
// defines them (month = the event day's month in the user's zone), and that visibility marks the
// user's rows changed on their boards.
import { describe, expect, it } from "vitest"
import type { XpEvent } from "../Model.js"
import { DEFAULT_RULES, DEFAULT_RULES_DOCUMENT } from "../DefaultRules.js"
import { loadRulesOrThrow } from "../Rules.js"
import type { CompiledRules } from "../Rules.js"
import { MS_PER_DAY } from "../Calendar.js"
import { GLOBAL_ALL } from "../ranking/BoardRegistry.js"
import { PRIVATE } from "../state/UserTable.js"
import { applyEvent } from "./Engine.js"
import type { EngineState } from "./Engine.js"
import { applySettings } from "./SettingsChange.js"
import { newEngineState } from "./TestState.js"
import { dumpUser, profileOf } from "./UserViews.js"

const NO_FREEZES = loadRulesOrThrow({ ...DEFAULT_RULES_DOCUMENT, streak: { freezes_per_month: 0 } })
const dayOf = (iso: string): number => Date.parse(iso + "T00:00:00Z") / MS_PER_DAY

const run = (rules: CompiledRules = NO_FREEZES) => {
  const s: EngineState = newEngineState()
  let seq = 0
  return {
    s,
    /** u1's streak for an event at the UTC instant `iso` (stream time = event time). */
    at: (iso: string): number => {
      const t = Date.parse(iso)
      const ev: XpEvent = { event_id: `e${seq}`, user_id: "u1", agent_name: "a", action_type: "task_completed", timestamp: new Date(t).toISOString() }
      const o = applyEvent(s, ev, t, { seq: ++seq, streamTimeMs: t }, rules)
      if (o._tag !== "Applied") throw new Error(JSON.stringify(o))
      return o.entry.streak_days
    },
    zone: (time_zone: string) => applySettings(s, { settings_id: `s${++seq}`, user_id: "u1", time_zone }),
    profile: (iso: string) => profileOf(s, s.users.uidOf("u1"), rules, Date.parse(iso)).streak
  }
}

describe("streak days in the user's zone", () => {
  it("counts Berlin calendar days, not UTC days, from the change on", () => {
    const r = run()
    // Two UTC days apart by 1 hour: 23:30 UTC on the 1st and 22:30 UTC on the 2nd.
    expect(r.at("2026-06-01T23:30:00Z")).toBe(1) // UTC day 1 (the zone is set after it)
    r.zone("Europe/Berlin")
    expect(r.at("2026-06-02T22:30:00Z")).toBe(1) // Berlin: 3 June 00:30 — 2 June was missed
    expect(r.at("2026-06-03T21:59:00Z")).toBe(1) // still 3 June in Berlin (23:59)
    expect(r.at("2026-06-03T22:00:00Z")).toBe(2) // 4 June 00:00 in Berlin
    expect(dumpUser(r.s, r.s.users.uidOf("u1")).timeZone).toBe("Europe/Berlin")
  })

  it("a day of 23 hours (spring forward) and one of 25 (fall back) are each one day", () => {
    const r = run()
    r.zone("Europe/Berlin")
    expect(r.at("2026-03-27T23:30:00Z")).toBe(1) // 28 Mar 00:30 CET
    expect(r.at("2026-03-28T23:00:00Z")).toBe(2) // 29 Mar 00:00 CET: the 23-hour day starts
    expect(r.at("2026-03-29T21:59:59Z")).toBe(2) // 29 Mar 23:59:59 CEST: same day, 23 h later
    expect(r.at("2026-03-29T22:00:00Z")).toBe(3) // 30 Mar 00:00 CEST
    const f = run()
    f.zone("Europe/Berlin")
    expect(f.at("2026-10-24T21:59:00Z")).toBe(1) // 24 Oct 23:59 CEST
    expect(f.at("2026-10-24T22:00:00Z")).toBe(2) // 25 Oct 00:00 CEST: the 25-hour day starts
    expect(f.at("2026-10-25T22:59:59Z")).toBe(2) // 25 Oct 23:59:59 CET: same day, 25 h later
    expect(f.at("2026-10-25T23:00:00Z")).toBe(3) // 26 Oct 00:00 CET
  })

  it("a user moving east skips ahead a day; moving west counts the repeated day as an earlier one", () => {
    const east = run()
    east.zone("America/Los_Angeles")
    expect(east.at("2026-06-02T03:00:00Z")).toBe(1) // 1 June 20:00 in Los Angeles
    east.zone("Asia/Tokyo")
    expect(east.at("2026-06-02T04:00:00Z")).toBe(2) // 2 June 13:00 in Tokyo: the next day, one hour later
    expect(dumpUser(east.s, east.s.users.uidOf("u1")).streakRuns).toEqual([dayOf("2026-06-01"), dayOf("2026-06-02")])

    const west = run()
    west.zone("Asia/Tokyo")
    expect(west.at("2026-06-01T23:00:00Z")).toBe(1) // 2 June 08:00 in Tokyo
    west.zone("America/Los_Angeles")
    // 1 June 19:00 in Los Angeles: a day before the latest active one, so it fills it in like a
    // late event (its streak ends at its own day) and 1..2 June become one run.
    expect(west.at("2026-06-02T02:00:00Z")).toBe(1)
    expect(dumpUser(west.s, west.s.users.uidOf("u1")).streakRuns).toEqual([dayOf("2026-06-01"), dayOf("2026-06-02")])
    expect(west.at("2026-06-03T02:00:00Z")).toBe(2) // 2 June 19:00 in Los Angeles: the run's last day
    expect(west.at("2026-06-04T02:00:00Z")).toBe(3) // 3 June
  })

  it("the profile's current streak is measured on the user's own calendar", () => {
    const r = run()
    r.zone("Asia/Tokyo")
    r.at("2026-06-01T01:00:00Z") // 1 June in Tokyo
    r.at("2026-06-02T01:00:00Z") // 2 June
    // 3 June 16:00 UTC is 4 June 01:00 in Tokyo: nothing on 3 June → 0; in UTC it would still be 2.
    expect(r.profile("2026-06-03T14:59:00Z").current).toBe(2)
    expect(r.profile("2026-06-03T15:00:00Z").current).toBe(0)
  })
})

describe("streak freezes (2 a month by default)", () => {
  it("bridge missed days: the bridged days count in the run; freezes_left shows what remains", () => {
    const r = run(DEFAULT_RULES)
    expect(r.at("2026-06-01T12:00:00Z")).toBe(1)
    expect(r.at("2026-06-02T12:00:00Z")).toBe(2)
    expect(r.at("2026-06-04T12:00:00Z")).toBe(4) // 3 June missed: bridged by a freeze
    expect(r.profile("2026-06-04T13:00:00Z")).toMatchObject({ current: 4, freezes_left: 1 })
    expect(r.at("2026-06-06T12:00:00Z")).toBe(6) // 5 June bridged by the second
    expect(r.profile("2026-06-06T13:00:00Z")).toMatchObject({ current: 6, freezes_left: 0 })
    expect(r.at("2026-06-08T12:00:00Z")).toBe(1) // 7 June: none left this month → a new run
    expect(r.at("2026-07-01T12:00:00Z")).toBe(1) // a gap of 22 days is more than any month's freezes
    expect(r.profile("2026-07-01T13:00:00Z")).toMatchObject({ freezes_left: 2 })
    expect(r.at("2026-07-04T12:00:00Z")).toBe(4) // 2 and 3 July bridged: July's two freezes
    expect(r.profile("2026-07-04T13:00:00Z")).toMatchObject({ freezes_left: 0 })
  })

  it("a gap larger than the freezes left is not bridged at all (no partial bridge)", () => {
    const r = run(DEFAULT_RULES)
    r.at("2026-06-01T12:00:00Z")
    expect(r.at("2026-06-05T12:00:00Z")).toBe(1) // 3 missed days > 2
    expect(r.profile("2026-06-05T13:00:00Z")).toMatchObject({ freezes_left: 2 })
  })

  it("charges the month of the event's day in the user's zone (a gap across months uses the new month's)", () => {
    const r = run(DEFAULT_RULES)
    r.zone("Asia/Tokyo")
    r.at("2026-06-29T01:00:00Z") // 29 June
    r.at("2026-06-29T16:00:00Z") // 30 June 01:00 in Tokyo (still 29 June in UTC)
    r.at("2026-07-01T16:00:00Z") // 2 July in Tokyo: 1 July bridged, charged to July
    expect(r.profile("2026-07-01T17:00:00Z")).toMatchObject({ current: 4, freezes_left: 1 })
    expect(dumpUser(r.s, r.s.users.uidOf("u1")).freezes).toEqual([2026 * 12 + 6, 1])
  })

  it("shows the run alive while the days missed so far can still be bridged", () => {
    const r = run(DEFAULT_RULES)
    r.at("2026-06-01T12:00:00Z")
    r.at("2026-06-02T12:00:00Z")
    expect(r.profile("2026-06-04T12:00:00Z").current).toBe(3) // 3 June missed, bridgeable: 1..3 June
    expect(r.profile("2026-06-05T12:00:00Z").current).toBe(4)
    expect(r.profile("2026-06-06T12:00:00Z").current).toBe(0) // 3 missed
  })
})

describe("visibility", () => {
  it("sets the private bit and marks the user's board rows changed for watchers", () => {
    const r = run()
    r.at("2026-06-01T12:00:00Z")
    r.s.boards.takeChanged()
    const o = applySettings(r.s, { settings_id: "v1", user_id: "u1", visibility: "private" })
    expect(o.visibilityChanged).toBe(true)
    expect(r.s.users.privacy[o.uid]! & PRIVATE).toBe(PRIVATE)
    expect(r.s.boards.takeChanged()).toContain(GLOBAL_ALL)
    expect(applySettings(r.s, { settings_id: "v2", user_id: "u1", visibility: "private" }).visibilityChanged).toBe(false)
    expect(dumpUser(r.s, o.uid).private).toBe(true)
    applySettings(r.s, { settings_id: "v3", user_id: "u1", visibility: "public" })
    expect(dumpUser(r.s, o.uid).private).toBeUndefined()
  })
})
