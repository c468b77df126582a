// The oracle itself, on the worked examples and edge cases of ARCHITECTURE §3/§4, so that a
// disagreement in the soak points at the service, not at the reference.
import { describe, expect, it } from "vitest"
import { periodsOf, dayOf, parseTimestamp } from "./calendar.js"
import { Oracle } from "./Oracle.js"

const T0 = Date.UTC(2026, 10, 26, 12) // Thursday 2026-11-26 (2026-W48)
const DAY = 86_400_000
let seq = 0
const msg = (e: Record<string, unknown>, streamMs = T0, msgId: string | undefined = String(e["event_id"])) =>
  ({ seq: ++seq, streamMs, msgId, data: new TextEncoder().encode(JSON.stringify(e)) })
const ev = (user: string, action: string, at: number, extra: Record<string, unknown> = {}) =>
  ({ event_id: `e${seq + 1}`, user_id: user, agent_name: "coder", action_type: action, timestamp: new Date(at).toISOString(), ...extra })

describe("oracle", () => {
  it("computes §3's example exactly: base 25, first_try, streak 3 → 41", () => {
    const o = new Oracle()
    o.apply(msg(ev("a", "task_completed", T0 - 2 * DAY), T0))
    o.apply(msg(ev("a", "task_completed", T0 - DAY), T0))
    o.apply(msg(ev("a", "complex_api_design", T0, { multipliers: ["first_try"] }), T0))
    const last = o.ledger[o.ledger.length - 1]!
    expect([last.streak_days, last.xp, last.total_multiplier]).toEqual([3, 41, { num: 33n, den: 20n }])
  })

  it("caps the product at ×3 and floors: custom 333 × hackathon × first_try → 999", () => {
    const o = new Oracle()
    o.apply(msg(ev("b", "custom", T0, { base_points: 333, multipliers: ["hackathon", "first_try"] })))
    expect(o.ledger[0]!.xp).toBe(999)
    expect(o.ledger[0]!.applied_multiplier).toEqual({ num: 3n, den: 1n })
  })

  it("rejects what §3/§5 reject, with the documented reasons", () => {
    const o = new Oracle()
    o.apply(msg(ev("c", "task_completed", T0, { base_points: 11 })))
    o.apply(msg(ev("c", "custom", T0)))
    o.apply(msg(ev("c", "nap", T0)))
    o.apply(msg(ev("c", "task_completed", T0, { multipliers: ["first_try", "first_try"] })))
    o.apply(msg(ev("c", "task_completed", T0 + 5 * 60_000 + 1)))
    o.apply(msg(ev("c", "task_completed", T0), T0, "other"))
    o.apply(msg(ev("c", "task_completed", T0, { extra: 1 })))
    o.apply(msg(ev("c", "task_completed", T0 + 5 * 60_000)))
    expect([...o.rejections.values()]).toEqual([
      "invalid_base_points", "invalid_base_points", "unknown_action", "invalid_multiplier", "future_timestamp", "msg_id_mismatch", "invalid_event"
    ])
    expect(o.users.get("c")!.totalXp).toBe(10)
  })

  it("unlocks achievements once, adds bonuses unmultiplied, and lets scale_engineer see earlier bonuses", () => {
    const o = new Oracle()
    for (let i = 0; i < 10; i++) o.apply(msg(ev("d", "complex_api_design", T0)))
    const tenth = o.ledger[9]!
    expect(tenth.bonuses).toEqual([{ achievement: "api_master", xp: 100 }])
    expect(tenth.total_awarded).toBe(125)
    expect(o.profile("d")!.achievements.find((a) => a.id === "first_steps")).toMatchObject({ unlocked: true, unlocked_seq: o.ledger[0]!.seq })
    for (const m of ["mission_architecture", "mission_performance", "mission_security"]) o.apply(msg(ev("d", m, T0)))
    o.apply(msg(ev("d", "mission_analytics", T0)))
    expect(o.ledger[o.ledger.length - 1]!.bonuses).toEqual([{ achievement: "mission_complete", xp: 200 }])
    // 9,950 XP, then the 10th complex_api_design: 25 XP + api_master's 100 cross 10,000, so
    // scale_engineer unlocks in the same award (it sees the bonus before it).
    const e = new Oracle()
    for (let i = 0; i < 6; i++) e.apply(msg(ev("e", "custom", T0, { base_points: 500, multipliers: ["hackathon", "first_try"] })))
    for (let i = 0; i < 9; i++) e.apply(msg(ev("e", "complex_api_design", T0)))
    e.apply(msg(ev("e", "custom", T0, { base_points: 500 })))
    e.apply(msg(ev("e", "custom", T0, { base_points: 225 })))
    expect(e.users.get("e")!.totalXp).toBe(9950)
    e.apply(msg(ev("e", "complex_api_design", T0)))
    const last = e.ledger[e.ledger.length - 1]!
    expect(last.bonuses).toEqual([{ achievement: "api_master", xp: 100 }, { achievement: "scale_engineer", xp: 250 }])
    expect([last.xp, last.total_awarded, last.level_before, last.level_after]).toEqual([25, 375, 7, 8])
    expect(e.profile("e")!.level).toEqual({ number: 8, title: "Legend", xp_into_level: 325, xp_for_next: null })
  })

  it("counts streaks over UTC days through the event's day: a late gap-filler gets the run up to its day, later events the filled gap", () => {
    const o = new Oracle(null, { freezesPerMonth: 0 })
    for (const d of [0, 1, 3, 4, 5, 6]) o.apply(msg(ev("f", "task_completed", T0 - 10 * DAY + d * DAY), T0))
    o.apply(msg(ev("f", "task_completed", T0 - 10 * DAY + 2 * DAY), T0))
    const late = o.ledger[o.ledger.length - 1]!
    expect(late.streak_days).toBe(3) // days 0..2
    expect(late.bonuses).toEqual([])
    expect(late.total_multiplier).toEqual({ num: 11n, den: 10n })
    const held = o.profile("f")!
    expect(held.streak).toEqual({ current: 0, longest: 7, freezes_left: 0 })
    expect(held.achievements.find((a) => a.id === "on_fire")).toMatchObject({ progress: 4, unlocked: false })
    o.apply(msg(ev("f", "task_completed", T0 - 10 * DAY + 6 * DAY), T0))
    const next = o.ledger[o.ledger.length - 1]!
    expect(next.streak_days).toBe(7)
    expect(next.bonuses.map((b) => b.achievement)).toEqual(["on_fire"])
    expect(next.total_multiplier).toEqual({ num: 5n, den: 4n })
    expect(o.profile("f")!.achievements.find((a) => a.id === "on_fire")).toMatchObject({ progress: 7, unlocked: true })
  })

  it("ranks by xp desc then the lower seq, and keeps late events out of closed periods", () => {
    const o = new Oracle()
    o.apply(msg(ev("late", "task_completed", T0 - 2 * DAY), T0))
    o.apply(msg(ev("early", "task_completed", T0), T0))
    o.apply(msg(ev("next", "task_completed", T0), T0))
    expect(o.ranked("global", "all", "all").map((r) => r.user_id)).toEqual(["late", "early", "next"])
    const p = periodsOf(dayOf(T0))
    expect(o.ranked("global", "day", p.day).map((r) => r.user_id)).toEqual(["early", "next"])
    expect(o.ranked("global", "week", p.week).map((r) => r.user_id)).toEqual(["late", "early", "next"])
    const end = p.dayEndMs
    const g = new Oracle()
    g.apply(msg(ev("g", "task_completed", end - 1), end + 10 * 60_000 - 1))
    g.apply(msg(ev("h", "task_completed", end - 1), end + 10 * 60_000))
    expect(g.ranked("agent:coder", "day", p.day).map((r) => r.user_id)).toEqual(["g"])
  })

  it("names periods like §4 (ISO weeks by their Thursday) and parses RFC 3339 strictly", () => {
    expect(periodsOf(dayOf(T0))).toMatchObject({ day: "2026-11-26", week: "2026-W48", month: "2026-11" })
    expect(periodsOf(dayOf(Date.UTC(2027, 0, 1))).week).toBe("2026-W53")
    expect(periodsOf(dayOf(Date.UTC(2021, 0, 3))).week).toBe("2020-W53")
    expect(periodsOf(dayOf(Date.UTC(2024, 11, 30))).week).toBe("2025-W01")
    expect(parseTimestamp("2026-11-26T09:30:00+01:00")).toBe(Date.UTC(2026, 10, 26, 8, 30))
    expect(parseTimestamp("2026-11-26T09:30:00.1239Z")).toBe(Date.UTC(2026, 10, 26, 9, 30, 0, 123))
    for (const bad of ["2026-02-29T00:00:00Z", "2026-11-26 09:30:00Z", "2026-11-26T09:30:00", "2026-11-26T24:00:00Z"]) expect(parseTimestamp(bad)).toBeNaN()
  })
})
