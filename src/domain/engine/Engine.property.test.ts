// Properties over random event streams: applyEvent is deterministic (same stream → same ledger
// bytes and same state), a rejected event never changes state, and the state's totals agree
// with the ledger it produced.
import { describe, expect, it } from "vitest"
import fc from "fast-check"
import type { XpEvent } from "../Model.js"
import { levelFor } from "../Levels.js"
import { DEFAULT_RULES } from "../DefaultRules.js"
import { applyEvent } from "./Engine.js"
import type { ApplyOutcome, EngineState } from "./Engine.js"
import { newEngineState } from "./TestState.js"
import { agentStatsOf, dumpUser } from "./UserViews.js"
import type { UserDump } from "./UserViews.js"

const DAY = 86_400_000
const T0 = Date.UTC(2026, 10, 1)

interface Step { readonly ev: XpEvent; readonly timeMs: number; readonly streamTimeMs: number }

const step: fc.Arbitrary<Step> = fc.record({
  action: fc.constantFrom("task_completed", "complex_api_design", "speed_bonus", "mission_architecture", "mission_performance",
    "mission_security", "mission_analytics", "security_implementation", "custom", "custom", "teleport"),
  base: fc.option(fc.integer({ min: -5, max: 600 }), { nil: undefined }),
  multipliers: fc.option(fc.subarray(["first_try", "pair_session", "hackathon", "first_try", "lucky"]), { nil: undefined }),
  day: fc.integer({ min: 0, max: 45 }),
  ms: fc.integer({ min: 0, max: DAY - 1 }),
  lagMs: fc.integer({ min: -400_000, max: 3 * DAY }),
  agent: fc.constantFrom("a", "b", "constructor"),
  username: fc.option(fc.constantFrom("", "Ada", "Grace"), { nil: undefined })
}).map((r) => {
  const timeMs = T0 + r.day * DAY + r.ms
  return {
    ev: {
      event_id: `e${r.day}-${r.ms}`, user_id: "u1", agent_name: r.agent, action_type: r.action,
      timestamp: new Date(timeMs).toISOString(), base_points: r.base, multipliers: r.multipliers, username: r.username
    },
    timeMs,
    streamTimeMs: timeMs + r.lagMs
  }
})

/** The whole state as plain data: u1's dump (null before its first event), users and boards. */
interface Whole { readonly user: UserDump | null; readonly users: number; readonly boards: number }
const whole = (s: EngineState): Whole => {
  const uid = s.users.uidOf("u1")
  return { user: uid < 0 ? null : dumpUser(s, uid), users: s.users.size, boards: s.boards.count }
}

const run = (steps: ReadonlyArray<Step>, onStep?: (before: Whole, after: Whole, o: ApplyOutcome) => void) => {
  const s = newEngineState()
  const outcomes = steps.map((st, i) => {
    const before = onStep === undefined ? null : whole(s)
    const o = applyEvent(s, st.ev, st.timeMs, { seq: i + 1, streamTimeMs: st.streamTimeMs }, DEFAULT_RULES)
    if (onStep !== undefined) onStep(before!, whole(s), o)
    return o
  })
  return { s, all: whole(s), outcomes }
}

describe("applyEvent over random streams", () => {
  it("is deterministic: replaying a stream gives the same ledger bytes and state", () => {
    fc.assert(fc.property(fc.array(step, { maxLength: 120 }), (steps) => {
      const a = run(steps)
      const b = run(steps)
      expect(JSON.stringify(a.outcomes)).toBe(JSON.stringify(b.outcomes))
      expect(b.all).toEqual(a.all)
    }), { numRuns: 300 })
  })

  it("never changes state on a rejected event", () => {
    let rejected = 0
    fc.assert(fc.property(fc.array(step, { maxLength: 80 }), (steps) => {
      run(steps, (before, after, o) => {
        if (o._tag === "Rejected") {
          rejected++
          expect(after).toEqual(before)
        }
      })
    }), { numRuns: 200 })
    expect(rejected).toBeGreaterThan(100)
  })

  it("keeps totals consistent with the ledger", () => {
    fc.assert(fc.property(fc.array(step, { maxLength: 120 }), (steps) => {
      const { s, all, outcomes } = run(steps)
      const applied = outcomes.flatMap((o) => (o._tag === "Applied" ? [o.entry] : []))
      if (all.user === null) { expect(applied).toEqual([]); return } // u1 exists from its first accepted event
      const state = all.user
      const sum = (xs: ReadonlyArray<number>) => xs.reduce((x, y) => x + y, 0)
      expect(state.totalXp).toBe(sum(applied.map((e) => e.total_awarded)))
      expect(state.totalXp).toBe(sum(agentStatsOf(s, s.users.uidOf("u1")).map((a) => a.xp)))
      expect(state.events).toBe(applied.length)
      expect(sum(Object.values(state.counts))).toBe(applied.length)
      expect(state.level).toBe(levelFor(DEFAULT_RULES.levels, state.totalXp))
      for (const e of applied) {
        expect(e.total_awarded).toBe(e.xp + sum(e.bonuses.map((b) => b.xp)))
        expect(e.xp).toBeLessThanOrEqual(e.base_points * 3)
      }
      const runs = state.streakRuns
      for (let i = 0; i < runs.length; i += 2) {
        expect(runs[i]!).toBeLessThanOrEqual(runs[i + 1]!)
        if (i > 0) expect(runs[i]!).toBeGreaterThan(runs[i - 1]! + 1)
      }
      expect(new Set(Object.keys(state.unlocked)).size).toBe(applied.flatMap((e) => e.bonuses).length)
    }), { numRuns: 200 })
  })
})
