// The dry run's comparison on small states: identical rules change nothing; users who appear only
// under one rule set (their events rejected by the other) count as changed and enter or leave
// boards; lost and gained achievements are named; the text report says it all readably.
import { describe, expect, it } from "vitest"
import { DEFAULT_RULES, DEFAULT_RULES_DOCUMENT } from "./DefaultRules.js"
import { loadRulesOrThrow } from "./Rules.js"
import type { CompiledRules } from "./Rules.js"
import { diffStates } from "./RulesDiff.js"
import { renderDiffText } from "./RulesDiffText.js"
import { applyEvent } from "./engine/Engine.js"
import type { EngineState } from "./engine/EngineState.js"
import { eventStream, newEngineState } from "./engine/TestState.js"
import type { XpEvent } from "./Model.js"

const T = Date.UTC(2026, 10, 26, 12)
const ev = (i: number, user: string, action: string): XpEvent =>
  ({ event_id: `e${i}`, user_id: user, agent_name: "coder", action_type: action, timestamp: new Date(T).toISOString() })

const run = (rules: CompiledRules, events: ReadonlyArray<XpEvent>): EngineState => {
  const s = newEngineState(rules.periodGraceMs)
  events.forEach((e, k) => applyEvent(s, e, T, { seq: k + 1, streamTimeMs: T }, rules))
  return s
}
const diff = (a: EngineState, b: EngineState) =>
  diffStates({ before: a, after: b, proposedVersion: "p", inForce: [{ version: "n", effective_from_seq: 1 }], stream: { last_seq: 0, messages: 0, applied_before: 0, applied_after: 0, rejected_before: 0, rejected_after: 0 } })

describe("diffStates", () => {
  it("finds nothing to report when the rules score the same", () => {
    const steps = eventStream(3000, { seed: 3, users: 200, days: 5 })
    const build = () => {
      const s = newEngineState()
      for (const x of steps) applyEvent(s, x.ev, x.timeMs, { seq: x.seq, streamTimeMs: x.streamTimeMs }, DEFAULT_RULES)
      return s
    }
    const r = diff(build(), build())
    expect(r.users.changed).toBe(0)
    expect(r.xp.moved).toBe(0)
    expect(r.movers).toEqual([])
    expect(r.boards.length).toBeGreaterThan(4)
    for (const b of r.boards) expect(b).toMatchObject({ ranks_changed: 0, top_changed: false, entered: 0, left: 0 })
    expect(renderDiffText(r)).toContain("No user's XP, level or achievements change.")
  })

  it("counts users present under one rule set only, and names lost and gained achievements", () => {
    // Proposed: a new action type "pairing" (rejected today) and no api_master achievement.
    const proposed = loadRulesOrThrow({
      ...DEFAULT_RULES_DOCUMENT,
      version: "p",
      actions: { ...DEFAULT_RULES_DOCUMENT.actions, pairing: { points: 40 } },
      achievements: DEFAULT_RULES_DOCUMENT.achievements.filter((a) => a.id !== "api_master")
    })
    const events = [
      ...Array.from({ length: 10 }, (_, k) => ev(k, "ann", "complex_api_design")),
      ev(20, "bob", "pairing"),
      ev(21, "cy", "task_completed")
    ]
    const r = diff(run(DEFAULT_RULES, events), run(proposed, events))
    expect(r.users).toMatchObject({ before: 2, after: 3, changed: 2, xp_changed: 2, achievements_changed: 2, up: 1, down: 1 })
    expect(r.movers.map((u) => [u.user_id, u.delta, u.achievements_gained, u.achievements_lost])).toEqual([
      ["ann", -100, [], ["api_master"]],
      ["bob", 40, ["first_steps"], []]
    ])
    const global = r.boards.find((b) => b.board === "global" && b.window === "all")!
    expect(global).toMatchObject({ users_before: 2, users_after: 3, entered: 1, left: 0, top_changed: true })
    expect(global.top_after.map((x) => [x.rank, x.user_id, x.xp])).toEqual([[1, "ann", 250], [2, "bob", 40], [3, "cy", 10]])
    expect(global.ranks_changed).toBe(2) // bob enters at 2, cy moves 2 → 3; ann stays first
    expect(global.biggest_rank_moves).toEqual([{ user_id: "cy", rank_before: 2, rank_after: 3 }])
    const text = renderDiffText(r)
    expect(text).toContain("ann")
    expect(text).toContain("-api_master")
    expect(text).toContain("+first_steps")
    expect(text).toContain("(1 enter, 0 leave)")
  })
})
