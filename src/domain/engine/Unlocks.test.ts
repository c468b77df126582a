// Proves each default achievement unlocks exactly at its threshold (not one event before),
// once, with its bonus added unmultiplied to the same award — including scale_engineer
// reached only through another achievement's bonus.
import { describe, expect, it } from "vitest"
import type { LedgerEntry, XpEvent } from "../Model.js"
import { DEFAULT_RULES, DEFAULT_RULES_DOCUMENT } from "../DefaultRules.js"
import { loadRulesOrThrow } from "../Rules.js"
import type { CompiledRules } from "../Rules.js"
import { applyEvent } from "./Engine.js"
import type { ApplyOutcome, EngineState } from "./Engine.js"
import { newEngineState } from "./TestState.js"
import { dumpUser } from "./UserViews.js"
import type { UserDump } from "./UserViews.js"

const DAY = 86_400_000
const T0 = Date.UTC(2026, 10, 26, 12)
let nextSeq = 1

/** The default rules without streak freezes (the plain gap rule of §3). */
const NO_FREEZES = loadRulesOrThrow({ ...DEFAULT_RULES_DOCUMENT, streak: { freezes_per_month: 0 } })
const apply = (s: EngineState, over: Partial<XpEvent> & { readonly at?: number; readonly stream?: number; readonly rules?: CompiledRules } = {}): ApplyOutcome => {
  const { at = T0, stream, rules = DEFAULT_RULES, ...fields } = over
  const ev: XpEvent = { event_id: `a-${nextSeq}`, user_id: "u1", agent_name: "agent-a", action_type: "task_completed", timestamp: new Date(at).toISOString(), ...fields }
  const seq = nextSeq++
  return applyEvent(s, ev, at, { seq, streamTimeMs: stream ?? at }, rules)
}

/** u1's whole state (it exists from its first accepted event). */
const user = (s: EngineState): UserDump => dumpUser(s, s.users.uidOf("u1"))

const entry = (o: ApplyOutcome): LedgerEntry & { readonly unlocked: ReadonlyArray<string> } => {
  if (o._tag !== "Applied") throw new Error(JSON.stringify(o))
  return { ...o.entry, unlocked: o.unlocked }
}

describe("achievements", () => {
  it("first_steps unlocks on the first accepted event only (bonus 0), never on a rejected one", () => {
    const s = newEngineState()
    expect(apply(s, { action_type: "nope" })._tag).toBe("Rejected")
    const first = entry(apply(s))
    expect(first.unlocked).toEqual(["first_steps"])
    expect(first.bonuses).toEqual([{ achievement: "first_steps", xp: 0 }])
    expect(user(s).unlocked).toEqual({ first_steps: first.seq })
    expect(entry(apply(s)).unlocked).toEqual([])
  })

  const counted: ReadonlyArray<readonly [string, string, number, number, number]> = [
    ["api_master", "complex_api_design", 10, 25, 100],
    ["speed_daemon", "speed_bonus", 25, 5, 100],
    ["security_guardian", "security_implementation", 10, 35, 150]
  ]
  it.each(counted)("%s unlocks at exactly %i × %s with its bonus unmultiplied, once", (id, action, n, points, bonus) => {
    const s = newEngineState()
    entry(apply(s, { action_type: action }))
    for (let i = 2; i < n; i++) expect(entry(apply(s, { action_type: action })).unlocked).toEqual([])
    expect(user(s).unlocked[id]).toBeUndefined()
    // The n-th event carries ×2 (hackathon): the XP doubles, the bonus does not.
    const e = entry(apply(s, { action_type: action, multipliers: ["hackathon"] }))
    expect(e.unlocked).toEqual([id])
    expect(e.xp).toBe(points * 2)
    expect(e.bonuses).toEqual([{ achievement: id, xp: bonus }])
    expect(e.total_awarded).toBe(points * 2 + bonus)
    expect(user(s).totalXp).toBe(points * (n - 1) + points * 2 + bonus)
    expect(entry(apply(s, { action_type: action })).unlocked).toEqual([])
  })

  it.each([["on_fire", 7, 75], ["unstoppable", 30, 300]] as const)("%s unlocks when the streak reaches %i days", (id, days, bonus) => {
    const s = newEngineState()
    for (let d = 0; d < days - 1; d++) expect(entry(apply(s, { at: T0 + d * DAY })).unlocked).not.toContain(id)
    const e = entry(apply(s, { at: T0 + (days - 1) * DAY }))
    expect(e.streak_days).toBe(days)
    expect(e.unlocked).toContain(id)
    expect(e.bonuses).toContainEqual({ achievement: id, xp: bonus })
    expect(entry(apply(s, { at: T0 + days * DAY })).unlocked).not.toContain(id)
  })

  it("on_fire: a late event filling the gap between a 3-day and a 4-day run counts only up to its day; the next event on the run's end unlocks it", () => {
    const s = newEngineState()
    for (const d of [0, 1, 2, 4, 5, 6, 7]) expect(entry(apply(s, { rules: NO_FREEZES, at: T0 + d * DAY })).unlocked).not.toContain("on_fire")
    const late = entry(apply(s, { rules: NO_FREEZES, at: T0 + 3 * DAY, stream: T0 + 7 * DAY }))
    expect(late.streak_days).toBe(4) // days 0..3; 4..7 come after it
    expect(late.unlocked).toEqual([])
    expect(user(s).longestStreak).toBe(8) // the run held now: days 0..7
    const next = entry(apply(s, { rules: NO_FREEZES, at: T0 + 7 * DAY }))
    expect(next.streak_days).toBe(8)
    expect(next.unlocked).toEqual(["on_fire"])
  })

  it("mission_complete needs one of each of the four mission types; repeats do not count", () => {
    const s = newEngineState()
    for (const m of ["mission_architecture", "mission_performance", "mission_security", "mission_security", "mission_architecture"]) {
      expect(entry(apply(s, { action_type: m })).unlocked).not.toContain("mission_complete")
    }
    const e = entry(apply(s, { action_type: "mission_analytics" }))
    expect(e.unlocked).toEqual(["mission_complete"])
    expect(e.total_awarded).toBe(150 + 200)
  })

  it("scale_engineer unlocks at exactly 10000 total XP, not at 9999", () => {
    const s = newEngineState()
    for (let i = 0; i < 19; i++) entry(apply(s, { action_type: "custom", base_points: 500 }))
    entry(apply(s, { action_type: "custom", base_points: 499 }))
    expect(user(s).totalXp).toBe(9999)
    expect(user(s).unlocked["scale_engineer"]).toBeUndefined()
    const e = entry(apply(s, { action_type: "custom", base_points: 1 }))
    expect(e.unlocked).toEqual(["scale_engineer"])
    expect(e.total_xp_after).toBe(10000 + 250)
    expect([e.level_before, e.level_after]).toEqual([7, 8])
  })

  it("scale_engineer counts the bonuses unlocked before it in the same award", () => {
    const s = newEngineState()
    for (let i = 0; i < 19; i++) entry(apply(s, { action_type: "custom", base_points: 500 }))
    for (let i = 0; i < 9; i++) entry(apply(s, { action_type: "complex_api_design" }))
    entry(apply(s, { action_type: "custom", base_points: 175 }))
    expect(user(s).totalXp).toBe(9900)
    // 25 XP alone reaches 9925; the api_master bonus (+100) takes it past 10000.
    const e = entry(apply(s, { action_type: "complex_api_design" }))
    expect(e.unlocked).toEqual(["api_master", "scale_engineer"])
    expect(e.bonuses).toEqual([{ achievement: "api_master", xp: 100 }, { achievement: "scale_engineer", xp: 250 }])
    expect(e.total_awarded).toBe(25 + 100 + 250)
    expect(e.total_xp_after).toBe(10275)
  })
})
