// Proves rules documents are validated with a path per bad field, compile to exact factors,
// and that checkSemantics classifies bad events by reason with field paths.
import { describe, expect, it } from "vitest"
import { Result } from "effect"
import type { XpEvent } from "./Model.js"
import type { CompiledRules } from "./Rules.js"
import { achievementCatalog, checkSemantics, loadRules, rulesDocument } from "./Rules.js"
import { DEFAULT_RULES, DEFAULT_RULES_DOCUMENT } from "./DefaultRules.js"

const doc = DEFAULT_RULES_DOCUMENT
const issuesOf = (json: unknown): Array<string> => {
  const r = loadRules(json)
  if (Result.isSuccess(r)) throw new Error("expected invalid rules")
  expect(r.failure._tag).toBe("RulesError")
  expect(r.failure.message).toMatch(/^invalid rules: /)
  return r.failure.issues.map((i) => `${i.path}: ${i.message}`)
}
const load = (json: unknown): CompiledRules => {
  const r = loadRules(json)
  if (Result.isFailure(r)) throw r.failure
  return r.success
}

describe("loadRules", () => {
  it("reads streak.freezes_per_month: 2 in the defaults, 0 when absent, 0..31 integers only", () => {
    expect(DEFAULT_RULES.freezesPerMonth).toBe(2)
    const { streak: _s, ...older } = doc
    expect(load({ ...older, version: "older" }).freezesPerMonth).toBe(0)
    expect(load({ ...doc, streak: { freezes_per_month: 5 } }).freezesPerMonth).toBe(5)
    for (const bad of [-1, 1.5, "2", 32]) {
      expect(issuesOf({ ...doc, streak: { freezes_per_month: bad } }).join("; ")).toMatch(/^streak\.freezes_per_month: /)
    }
    expect(issuesOf({ ...doc, streak: { freezes: 2 } }).join("; ")).toContain("streak.freezes")
  })

  it("compiles the defaults of §3 into exact factors", () => {
    expect(DEFAULT_RULES.actions.get("custom")).toEqual({ name: "custom", kind: "from_event", min: 1, max: 500 })
    expect(DEFAULT_RULES.actions.get("mission_security")).toEqual({ name: "mission_security", kind: "fixed", points: 125 })
    expect(DEFAULT_RULES.actions.size).toBe(12)
    expect([...DEFAULT_RULES.multipliers].map(([k, f]) => [k, f.text, f.bp])).toEqual([["first_try", "1.5", 15000], ["pair_session", "1.2", 12000], ["hackathon", "2", 20000]])
    expect(DEFAULT_RULES.streakTiers.map((t) => [t.days, t.bp])).toEqual([[3, 11000], [7, 12500], [30, 15000]])
    expect(DEFAULT_RULES.cap.bp).toBe(30000)
    expect([DEFAULT_RULES.futureSkewMs, DEFAULT_RULES.periodGraceMs]).toEqual([300_000, 600_000])
    expect(DEFAULT_RULES.evaluationOrder.at(-1)?.id).toBe("scale_engineer")
  })

  it("accepts a round trip through JSON text (an ARENA_RULES file)", () => {
    const r = load(JSON.parse(JSON.stringify({ ...doc, version: "2027-01" })))
    expect(r.version).toBe("2027-01")
    expect(rulesDocument(r)).toEqual({ ...doc, version: "2027-01" })
  })

  it("names every bad field of the document", () => {
    expect(issuesOf({ ...doc, multiplier_cap: "3.x", version: "" })).toEqual([
      "version: must not be empty",
      "multiplier_cap: must be a positive decimal with at most 4 fraction digits, e.g. \"1.5\""
    ])
    expect(issuesOf({ ...doc, multipliers: { first_try: "1.23456", zero: "0" } })).toEqual([
      "multipliers.first_try: must be a positive decimal with at most 4 fraction digits, e.g. \"1.5\"",
      "multipliers.zero: must be a positive decimal with at most 4 fraction digits, e.g. \"1.5\""
    ])
    expect(issuesOf({ ...doc, levels: [] })).toEqual(["levels: must not be empty"])
    expect(issuesOf({ ...doc, surprise: 1 })).toEqual(["surprise: is not a known field"])
    expect(issuesOf({ ...doc, future_skew_seconds: -1 })).toEqual(["future_skew_seconds: must be at least 0"])
    expect(issuesOf("rules")).toEqual([": must be a JSON object"])
  })

  it("checks what spans fields: ordering, numbering, references, duplicates, names", () => {
    expect(issuesOf({
      ...doc,
      actions: { ...doc.actions, Bad: { points: 1 }, ranged: { points_from_event: { min: 5, max: 4 } } },
      streak_tiers: [{ days: 7, multiplier: "1.2" }, { days: 7, multiplier: "1.3" }],
      levels: [{ level: 1, title: "A", xp: 10 }, { level: 3, title: "B", xp: 5 }],
      achievements: [
        { id: "a", title: "A", description: "d", bonus: 0, condition: { kind: "action_count", action: "nope", count: 1 } },
        { id: "a", title: "A", description: "d", bonus: 0, condition: { kind: "all_actions", actions: ["custom", "custom"] } }
      ]
    })).toEqual([
      "actions.Bad: name must match ^[a-z][a-z0-9_]{0,63}$",
      "actions.ranged.points_from_event.max: must be at least min",
      "streak_tiers[1].days: must be greater than the previous tier's days",
      "levels[0].xp: must be 0 (everyone starts at level 1)",
      "levels[1].level: must be 2 (levels are numbered from 1 in order)",
      "levels[1].xp: must be greater than the previous level's xp",
      "achievements[0].condition.action: unknown action \"nope\"",
      "achievements[1].id: duplicate id \"a\"",
      "achievements[1].condition.actions[1]: is repeated"
    ])
  })

  it("evaluates total_xp achievements last, by ascending threshold", () => {
    const r = load({
      ...doc,
      achievements: [
        { id: "big", title: "B", description: "d", bonus: 0, condition: { kind: "total_xp", xp: 500 } },
        { id: "small", title: "S", description: "d", bonus: 0, condition: { kind: "total_xp", xp: 100 } },
        { id: "first", title: "F", description: "d", bonus: 0, condition: { kind: "first_event" } }
      ]
    })
    expect(r.evaluationOrder.map((a) => a.id)).toEqual(["first", "small", "big"])
    expect(r.achievements.map((a) => a.id)).toEqual(["big", "small", "first"])
  })
})

describe("checkSemantics", () => {
  const T = Date.UTC(2026, 10, 26, 12)
  const ev = (over: Partial<XpEvent>): XpEvent => ({ event_id: "e", user_id: "u", agent_name: "a", action_type: "task_completed", timestamp: "x", ...over })
  const check = (over: Partial<XpEvent>, timeMs = T) => checkSemantics(ev(over), timeMs, DEFAULT_RULES, T)

  it("accepts valid events", () => {
    expect(check({})).toBeNull()
    expect(check({ base_points: 10, multipliers: ["first_try", "pair_session", "hackathon"] })).toBeNull()
    expect(check({ action_type: "custom", base_points: 250 })).toBeNull()
    expect(check({}, T + 300_000)).toBeNull()
  })
  it("classifies by reason, in order, with paths and messages", () => {
    expect(check({ action_type: "sleep", base_points: 3 })).toMatchObject({
      reason: "unknown_action",
      issues: [{ path: "action_type", message: expect.stringContaining("unknown action type \"sleep\"") }]
    })
    expect(check({ base_points: 11 })).toMatchObject({ reason: "invalid_base_points", issues: [{ path: "base_points", message: "must be absent or 10 for task_completed" }] })
    expect(check({ action_type: "custom" })).toMatchObject({ reason: "invalid_base_points", issues: [{ message: "is required for custom (1..500)" }] })
    expect(check({ action_type: "custom", base_points: 501 })).toMatchObject({ issues: [{ message: "must be between 1 and 500 for custom" }] })
    expect(check({ multipliers: ["lucky", "first_try", "first_try", "x"] })).toMatchObject({
      reason: "invalid_multiplier",
      issues: [
        { path: "multipliers[0]", message: expect.stringContaining("unknown multiplier \"lucky\"") },
        { path: "multipliers[2]", message: "repeats multipliers[1] (each multiplier at most once)" },
        { path: "multipliers[3]", message: expect.stringContaining("unknown multiplier \"x\"") }
      ]
    })
    expect(check({}, T + 300_001)).toMatchObject({ reason: "future_timestamp", issues: [{ path: "timestamp" }] })
  })
})

describe("JSON views", () => {
  it("serves the rules document and the achievement catalog as plain JSON", () => {
    expect(JSON.parse(JSON.stringify(rulesDocument(DEFAULT_RULES)))).toEqual(doc)
    const cat = achievementCatalog(DEFAULT_RULES)
    expect(JSON.parse(JSON.stringify(cat))).toEqual(cat)
    expect(cat.version).toBe(DEFAULT_RULES.version)
    expect(cat.achievements.map((a) => [a.id, a.bonus, a.target])).toEqual([
      ["first_steps", 0, 1], ["api_master", 100, 10], ["speed_daemon", 100, 25], ["security_guardian", 150, 10],
      ["on_fire", 75, 7], ["unstoppable", 300, 30], ["mission_complete", 200, 4], ["scale_engineer", 250, 10000]
    ])
  })
})
