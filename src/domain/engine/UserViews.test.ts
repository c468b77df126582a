// Proves the profile read model: level info, streak as of a stream day, achievement progress
// (capped at target, target once unlocked) and agent stats order.
import { describe, expect, it } from "vitest"
import type { XpEvent } from "../Model.js"
import { DEFAULT_RULES, DEFAULT_RULES_DOCUMENT } from "../DefaultRules.js"
import { loadRulesOrThrow } from "../Rules.js"
import { applyEvent } from "./Engine.js"
import type { EngineState } from "./Engine.js"
import { newEngineState } from "./TestState.js"
import { dumpUser, profileOf as profileAt } from "./UserViews.js"
import type { ProfileCore } from "../Profile.js"
import type { CompiledRules } from "../Rules.js"

const DAY = 86_400_000
const T0 = Date.UTC(2026, 10, 26, 12)
const day0 = Math.floor(T0 / DAY)

/** u1's profile as of a stream day. */
const profileOf = (s: EngineState, rules: CompiledRules, asOfDay: number): ProfileCore => profileAt(s, s.users.uidOf("u1"), rules, asOfDay * DAY + DAY / 2)
/** The default rules without streak freezes (the plain gap rule of §3). */
const NO_FREEZES = loadRulesOrThrow({ ...DEFAULT_RULES_DOCUMENT, streak: { freezes_per_month: 0 } })

describe("profileOf (the user table)", () => {
  it("summarizes a user's level, streak, achievements and agents", () => {
    const s = newEngineState()
    let seq = 0
    const add = (d: number, over: Partial<XpEvent>) => {
      const at = T0 + d * DAY
      const o = applyEvent(s, { event_id: `e${seq}`, user_id: "u1", agent_name: "a", action_type: "task_completed", timestamp: new Date(at).toISOString(), ...over }, at, { seq: ++seq, streamTimeMs: at }, DEFAULT_RULES)
      expect(o._tag).toBe("Applied")
    }
    add(0, { action_type: "complex_api_design", agent_name: "b", username: "Ada" })
    add(1, { action_type: "complex_api_design", agent_name: "b" })
    add(2, { action_type: "mission_architecture" })
    add(3, { action_type: "mission_security", agent_name: "c" })
    const p = profileOf(s, DEFAULT_RULES, day0 + 3)
    const totalXp = dumpUser(s, s.users.uidOf("u1")).totalXp
    expect([p.user_id, p.username]).toEqual(["u1", "Ada"])
    expect(p.total_xp).toBe(totalXp)
    expect(p.level).toEqual({ number: 2, title: "Apprentice", xp_into_level: totalXp - 100, xp_for_next: 300 - totalXp })
    expect(p.streak).toEqual({ current: 4, longest: 4, freezes_left: 2 })
    expect([p.time_zone, p.visibility]).toEqual(["UTC", "public"])
    expect(profileOf(s, DEFAULT_RULES, day0 + 4).streak.current).toBe(4)
    expect(profileOf(s, NO_FREEZES, day0 + 5).streak).toEqual({ current: 0, longest: 4, freezes_left: 0 })
    // With 2 freezes a month, days 4 and 5 missed can still be bridged: the run is alive through yesterday.
    expect(profileOf(s, DEFAULT_RULES, day0 + 5).streak).toEqual({ current: 5, longest: 4, freezes_left: 2 })
    expect(profileOf(s, DEFAULT_RULES, day0 + 6).streak).toEqual({ current: 6, longest: 4, freezes_left: 2 })
    expect(profileOf(s, DEFAULT_RULES, day0 + 7).streak).toEqual({ current: 0, longest: 4, freezes_left: 2 })
    const byId = Object.fromEntries(p.achievements.map((a) => [a.id, a]))
    expect(byId["first_steps"]).toMatchObject({ progress: 1, target: 1, unlocked: true, unlocked_seq: 1 })
    expect(byId["api_master"]).toMatchObject({ progress: 2, target: 10, unlocked: false, unlocked_seq: null })
    expect(byId["on_fire"]).toMatchObject({ progress: 4, target: 7 })
    expect(byId["mission_complete"]).toMatchObject({ progress: 2, target: 4 })
    expect(byId["scale_engineer"]).toMatchObject({ progress: totalXp, target: 10000 })
    expect(p.achievements.map((a) => a.id)).toEqual(DEFAULT_RULES.achievements.map((a) => a.id))
    expect(p.agent_stats).toEqual([
      { agent_name: "c", xp: 137, events: 1 }, // 125 × 1.1 (streak 4) = 137.5,
      { agent_name: "a", xp: 82, events: 1 },
      { agent_name: "b", xp: 50, events: 2 }
    ])
  })

  it("shows the longest run held (≥ current) and streak progress as the highest streak an event counted", () => {
    const s = newEngineState()
    let seq = 0
    const add = (d: number, streamDay = d) => {
      const at = T0 + d * DAY
      const o = applyEvent(s, { event_id: `e${seq}`, user_id: "u1", agent_name: "a", action_type: "task_completed", timestamp: new Date(at).toISOString() }, at, { seq: ++seq, streamTimeMs: T0 + streamDay * DAY }, NO_FREEZES)
      expect(o._tag).toBe("Applied")
    }
    for (const d of [0, 1, 2, 4, 5, 6, 7]) add(d)
    add(3, 7) // late: counts days 0..3 only
    const p = profileOf(s, NO_FREEZES, day0 + 7)
    expect(p.streak).toEqual({ current: 8, longest: 8, freezes_left: 0 })
    // No event has counted a 7-day streak yet, so on_fire is neither unlocked nor shown complete.
    expect(p.achievements.find((a) => a.id === "on_fire")).toMatchObject({ progress: 4, target: 7, unlocked: false })
    add(7)
    expect(profileOf(s, NO_FREEZES, day0 + 7).achievements.find((a) => a.id === "on_fire")).toMatchObject({ progress: 7, unlocked: true })
  })
})
