// Proves the XP engine's award arithmetic, validation-before-write, streak multipliers, period
// scoring and username rules against the default rules of ARCHITECTURE §3.
import { describe, expect, it } from "vitest"
import type { ApplyOutcome, LedgerEntry, UserState, XpEvent } from "./Model.js"
import { applyEvent, forEachScore, newUserState, pruneClosedPeriods, restoreUserState, scoresOf } from "./Engine.js"
import { DEFAULT_RULES, DEFAULT_RULES_DOCUMENT } from "./DefaultRules.js"
import { loadRulesOrThrow } from "./Rules.js"

const DAY = 86_400_000
const MIN = 60_000
/** 2026-11-26 (a Thursday) 12:00 UTC. */
const T0 = Date.UTC(2026, 10, 26, 12)

let nextSeq = 1
type Over = Partial<XpEvent> & { readonly at?: number; readonly stream?: number }

const apply = (state: UserState, over: Over = {}): ApplyOutcome => {
  const { at = T0, stream, ...fields } = over
  const ev: XpEvent = {
    event_id: `e-${nextSeq}`,
    user_id: state.userId,
    agent_name: "agent-a",
    action_type: "task_completed",
    timestamp: new Date(at).toISOString(),
    ...fields
  }
  const seq = nextSeq++
  return applyEvent(state, ev, at, { seq, streamTimeMs: stream ?? at }, DEFAULT_RULES)
}

const entry = (o: ApplyOutcome): LedgerEntry => {
  if (o._tag !== "Applied") throw new Error(`expected Applied, got ${JSON.stringify(o)}`)
  return o.entry
}

/** One task_completed event on each of `n` consecutive days ending the day before `endAt`. */
const activeDaysBefore = (state: UserState, n: number, endAt = T0): void => {
  for (let i = n; i >= 1; i--) entry(apply(state, { at: endAt - i * DAY }))
}

describe("award arithmetic", () => {
  it("matches §3: base 25, first_try, streak 3 → 25 × 1.65 = 41.25 → 41", () => {
    const s = newUserState("u1")
    activeDaysBefore(s, 2)
    const e = entry(apply(s, { action_type: "complex_api_design", multipliers: ["first_try"] }))
    expect(e).toMatchObject({
      base_points: 25,
      multipliers: [{ name: "first_try", factor: "1.5" }],
      streak_days: 3,
      streak_multiplier: "1.1",
      total_multiplier: "1.65",
      applied_multiplier: "1.65",
      xp: 41,
      bonuses: [],
      total_awarded: 41,
      rules_version: DEFAULT_RULES.version
    })
  })

  it("caps the product at ×3.0: hackathon × first_try × pair_session × streak 30 = 5.4 → 3", () => {
    const s = newUserState("u1")
    activeDaysBefore(s, 29)
    const e = entry(apply(s, { action_type: "mission_analytics", multipliers: ["hackathon", "first_try", "pair_session"] }))
    expect(e.streak_days).toBe(30)
    expect(e.streak_multiplier).toBe("1.5")
    expect(e.total_multiplier).toBe("5.4")
    expect(e.applied_multiplier).toBe("3")
    expect(e.xp).toBe(450)
    expect(e.multipliers.map((m) => m.factor)).toEqual(["2", "1.5", "1.2"])
  })

  it("applies a product exactly equal to the cap, and one just under it, unchanged", () => {
    const s = newUserState("u1")
    const atCap = entry(apply(s, { action_type: "speed_bonus", multipliers: ["hackathon", "first_try"] }))
    expect([atCap.total_multiplier, atCap.applied_multiplier, atCap.xp]).toEqual(["3", "3", 15])
    const under = entry(apply(s, { action_type: "error_resolved", multipliers: ["hackathon", "pair_session"] }))
    expect([under.total_multiplier, under.applied_multiplier, under.xp]).toEqual(["2.4", "2.4", 48])
  })

  it("floors fractional XP", () => {
    const s = newUserState("u1")
    expect(entry(apply(s, { action_type: "speed_bonus", multipliers: ["first_try"] })).xp).toBe(7) // 7.5
    expect(entry(apply(s, { action_type: "custom", base_points: 1, multipliers: ["pair_session"] })).xp).toBe(1) // 1.2
    expect(entry(apply(s, { action_type: "custom", base_points: 499, multipliers: ["first_try"] })).xp).toBe(748) // 748.5
  })

  it("uses the event's base_points for custom, 1..500 inclusive", () => {
    const s = newUserState("u1")
    expect(entry(apply(s, { action_type: "custom", base_points: 1 })).xp).toBe(1)
    expect(entry(apply(s, { action_type: "custom", base_points: 500 })).xp).toBe(500)
  })
})

describe("validation before any write", () => {
  const rejected = (over: Over, reason: string, path: string) => {
    const s = newUserState("u1")
    entry(apply(s))
    const before = structuredClone(s)
    const o = apply(s, over)
    expect(o._tag).toBe("Rejected")
    if (o._tag !== "Rejected") return
    expect(o.rejection.reason).toBe(reason)
    expect(o.rejection.issues.map((i) => i.path)).toContain(path)
    expect(s).toEqual(before)
  }

  it("rejects custom base_points 0, 501 and a missing one", () => {
    rejected({ action_type: "custom", base_points: 0 }, "invalid_base_points", "base_points")
    rejected({ action_type: "custom", base_points: 501 }, "invalid_base_points", "base_points")
    rejected({ action_type: "custom" }, "invalid_base_points", "base_points")
  })
  it("rejects base_points that differ from the table for other types, accepts equal ones", () => {
    rejected({ action_type: "task_completed", base_points: 11 }, "invalid_base_points", "base_points")
    rejected({ action_type: "speed_bonus", base_points: 500 }, "invalid_base_points", "base_points")
    expect(entry(apply(newUserState("u2"), { action_type: "task_completed", base_points: 10 })).xp).toBe(10)
  })
  it("rejects unknown action types", () => {
    rejected({ action_type: "nap" }, "unknown_action", "action_type")
  })
  it("rejects unknown and repeated multipliers with the offending index", () => {
    rejected({ multipliers: ["first_try", "lucky"] }, "invalid_multiplier", "multipliers[1]")
    rejected({ multipliers: ["first_try", "pair_session", "first_try"] }, "invalid_multiplier", "multipliers[2]")
  })
  it("accepts an event exactly 5 minutes ahead of stream time and rejects one 1 ms later", () => {
    expect(apply(newUserState("u1"), { at: T0 + 5 * MIN, stream: T0 })._tag).toBe("Applied")
    rejected({ at: T0 + 5 * MIN + 1, stream: T0 }, "future_timestamp", "timestamp")
  })
})

describe("streak multiplier", () => {
  const cases: ReadonlyArray<readonly [number, string]> = [[1, "1"], [2, "1"], [3, "1.1"], [6, "1.1"], [7, "1.25"], [29, "1.25"], [30, "1.5"], [31, "1.5"]]
  it.each(cases)("a %i-day streak multiplies by %s", (days, mult) => {
    const s = newUserState("u1")
    activeDaysBefore(s, days - 1)
    const e = entry(apply(s))
    expect(e.streak_days).toBe(days)
    expect(e.streak_multiplier).toBe(mult)
  })

  it("counts UTC days: 23:59:59.999 and the next 00:00 are two days, 00:00 and 23:59 one", () => {
    const midnight = Date.UTC(2026, 10, 27)
    const s = newUserState("u1")
    expect(entry(apply(s, { at: midnight - 1 })).streak_days).toBe(1)
    expect(entry(apply(s, { at: midnight })).streak_days).toBe(2)
    expect(entry(apply(s, { at: midnight + DAY - 1 })).streak_days).toBe(2)
  })

  it("counts a late gap-filler only up to its own day; the events after it see the filled gap", () => {
    const s = newUserState("u1")
    for (const d of [0, 1, 3, 4]) entry(apply(s, { at: T0 + d * DAY }))
    const late = entry(apply(s, { at: T0 + 2 * DAY, stream: T0 + 4 * DAY }))
    expect(late.streak_days).toBe(3) // days 0..2: days 3 and 4 come after it and never count for it
    expect(late.streak_multiplier).toBe("1.1")
    expect(s.streakRuns).toEqual([Math.floor(T0 / DAY), Math.floor(T0 / DAY) + 4])
    expect(s.longestStreak).toBe(5) // the run held: days 0..4
    expect(s.streakReached).toBe(3)
    const after = entry(apply(s, { at: T0 + 4 * DAY }))
    expect(after.streak_days).toBe(5)
    expect(after.streak_multiplier).toBe("1.1")
    expect(entry(apply(s, { at: T0 + 3 * DAY, stream: T0 + 4 * DAY })).streak_days).toBe(4)
    expect(s.streakReached).toBe(5)
    // A day after a gap starts over.
    expect(entry(apply(s, { at: T0 + 6 * DAY })).streak_days).toBe(1)
  })

  it("a late gap-filler that completes 7 days does not earn the ×1.25 tier for itself", () => {
    const s = newUserState("u1")
    for (const d of [0, 1, 2, 4, 5, 6]) entry(apply(s, { at: T0 + d * DAY }))
    const late = entry(apply(s, { at: T0 + 3 * DAY, stream: T0 + 6 * DAY }))
    expect([late.streak_days, late.streak_multiplier]).toEqual([4, "1.1"])
    const next = entry(apply(s, { at: T0 + 6 * DAY }))
    expect([next.streak_days, next.streak_multiplier]).toEqual([7, "1.25"])
  })

  it("restores a snapshot written before streakReached with the streak its events counted (the whole run then)", () => {
    const s = newUserState("u1")
    for (const d of [0, 1, 2]) entry(apply(s, { at: T0 + d * DAY }))
    const old: Record<string, unknown> = JSON.parse(JSON.stringify(s))
    delete old["streakReached"]
    const back = restoreUserState(old as unknown as UserState)
    expect(back).toEqual(s)
  })
})

describe("scores and periods", () => {
  it("emits global and agent scores for all, day, week and month with totals, seq and level", () => {
    const s = newUserState("u1", "Ada")
    const o = apply(s, { action_type: "mission_analytics", agent_name: "bot-1" })
    if (o._tag !== "Applied") throw new Error("rejected")
    const keys = o.scores.map((c) => `${c.board}/${c.window}/${c.period}`)
    expect(keys).toEqual([
      "global/all/all", "agent:bot-1/all/all",
      "global/day/2026-11-26", "agent:bot-1/day/2026-11-26",
      "global/week/2026-W48", "agent:bot-1/week/2026-W48",
      "global/month/2026-11", "agent:bot-1/month/2026-11"
    ])
    for (const c of o.scores) expect(c).toMatchObject({ xp: 150, seq: o.entry.seq, level: 2, username: "Ada", userId: "u1" })
    expect(Object.keys(s.periods).sort()).toEqual([
      "day:2026-11-26", "day:2026-11-26:bot-1", "month:2026-11", "month:2026-11:bot-1", "week:2026-W48", "week:2026-W48:bot-1"
    ])
    expect(scoresOf(s).length).toBe(8)
  })

  it("scores a late event in its day until end + 10 min of stream time, and all-time always", () => {
    const dayEnd = Date.UTC(2026, 10, 27)
    const open = apply(newUserState("u1"), { at: T0, stream: dayEnd + 10 * MIN - 1 })
    const closed = apply(newUserState("u2"), { at: T0, stream: dayEnd + 10 * MIN })
    if (open._tag !== "Applied" || closed._tag !== "Applied") throw new Error("rejected")
    expect(open.scores.some((c) => c.window === "day")).toBe(true)
    expect(closed.scores.some((c) => c.window === "day")).toBe(false)
    expect(closed.scores.map((c) => c.window)).toEqual(["all", "all", "week", "week", "month", "month"])
  })

  it("prunes period scores exactly when their period closes", () => {
    const s = newUserState("u1")
    entry(apply(s))
    const dayClose = Date.UTC(2026, 10, 27) + 10 * MIN
    expect(pruneClosedPeriods(s, dayClose - 1, DEFAULT_RULES)).toEqual([])
    expect([...pruneClosedPeriods(s, dayClose, DEFAULT_RULES)].sort()).toEqual(["day:2026-11-26", "day:2026-11-26:agent-a"])
    const monthClose = Date.UTC(2026, 11, 1) + 10 * MIN
    expect([...pruneClosedPeriods(s, monthClose, DEFAULT_RULES)].sort()).toEqual([
      "month:2026-11", "month:2026-11:agent-a", "week:2026-W48", "week:2026-W48:agent-a"
    ])
    expect(s.periods).toEqual({})
  })

  it("moves a score's tie-break seq when XP grows and keeps it when an award adds nothing", () => {
    const rules = loadRulesOrThrow({ ...DEFAULT_RULES_DOCUMENT, actions: { ...DEFAULT_RULES_DOCUMENT.actions, ping: { points: 0 } } })
    const s = newUserState("u1")
    const run = (action_type: string, seq: number) =>
      applyEvent(s, { event_id: `p${seq}`, user_id: "u1", agent_name: "agent-a", action_type, timestamp: "2026-11-26T12:00:00Z" }, T0, { seq, streamTimeMs: T0 }, rules)
    run("task_completed", 1)
    const grown = run("task_completed", 2)
    expect([s.totalSeq, s.agentSeq["agent-a"], s.periods["day:2026-11-26"]?.seq]).toEqual([2, 2, 2])
    const flat = run("ping", 3)
    expect([s.totalSeq, s.agentSeq["agent-a"], s.periods["day:2026-11-26"]?.seq, s.totalXp]).toEqual([2, 2, 2, 20])
    if (grown._tag !== "Applied" || flat._tag !== "Applied") throw new Error("rejected")
    expect(flat.scores.every((c) => c.seq === 2 && c.xp === 20)).toBe(true)
  })
})

describe("user fields", () => {
  it("keeps the last non-empty username; defaults to the user id", () => {
    const s = newUserState("u1")
    expect(s.username).toBe("u1")
    entry(apply(s, { username: "Ada" }))
    entry(apply(s, { username: "" }))
    entry(apply(s))
    expect(s.username).toBe("Ada")
    entry(apply(s, { username: "Ada L." }))
    expect(s.username).toBe("Ada L.")
  })

  it("tracks counts, events, agent stats and level across agents", () => {
    const s = newUserState("u1")
    entry(apply(s, { action_type: "mission_analytics", agent_name: "a" }))
    entry(apply(s, { action_type: "task_completed", agent_name: "b" }))
    expect(s.counts).toEqual({ mission_analytics: 1, task_completed: 1 })
    expect(s.agents).toEqual({ a: { xp: 150, events: 1 }, b: { xp: 10, events: 1 } })
    expect([s.events, s.totalXp, s.level]).toEqual([2, 160, 2])
  })

  it("renders event and stream times as ISO strings in the ledger", () => {
    const e = entry(apply(newUserState("u1"), { at: T0, stream: T0 + 1234 }))
    expect(e.event_time).toBe("2026-11-26T12:00:00.000Z")
    expect(e.stream_time).toBe("2026-11-26T12:00:01.234Z")
  })
})

// Boards are rebuilt at load from the engine's own rule (forEachScore / scoresOf): the scores the
// engine reported while applying, minus the periods closed at the checkpoint's stream time.
const scoreKey = (c: { board: string; window: string; period: string }) => `${c.board}/${c.window}/${c.period}`

const loadedUser = (): UserState => {
  const s = newUserState("u1", "Ada")
  const ev = { event_id: "e1", user_id: "u1", agent_name: "bot-1", action_type: "task_completed", timestamp: new Date(T0).toISOString() }
  const o = applyEvent(s, ev, T0, { seq: 7, streamTimeMs: T0 }, DEFAULT_RULES)
  if (o._tag !== "Applied") throw new Error("rejected")
  return s
}

describe("forEachScore", () => {
  it("gives back exactly the scores the engine reported when it applied the event", () => {
    const s = newUserState("u1", "Ada")
    const ev = { event_id: "e1", user_id: "u1", agent_name: "bot-1", action_type: "task_completed", timestamp: new Date(T0).toISOString() }
    const o = applyEvent(s, ev, T0, { seq: 7, streamTimeMs: T0 }, DEFAULT_RULES)
    if (o._tag !== "Applied") throw new Error("rejected")
    expect(scoresOf(s).sort((a, b) => scoreKey(a).localeCompare(scoreKey(b)))).toEqual([...o.scores].sort((a, b) => scoreKey(a).localeCompare(scoreKey(b))))
  })

  it("skips periods closed at the given stream time (end + grace), keeps the all-time boards", () => {
    const dayClose = Date.UTC(2026, 10, 27) + 10 * MIN
    const at = (t: number) => {
      const out: string[] = []
      forEachScore(loadedUser(), { streamTimeMs: t, periodGraceMs: DEFAULT_RULES.periodGraceMs }, (board, window, period) => { out.push(`${board}/${window}/${period}`) })
      return out
    }
    expect(at(dayClose - 1)).toHaveLength(8)
    expect(at(dayClose).filter((k) => k.includes("/day/"))).toEqual([])
    expect(at(dayClose).filter((k) => k.includes("/all/"))).toEqual(["global/all/all", "agent:bot-1/all/all"])
  })

  it("puts a loaded user on the global board and falls back to the total's seq for an agent without one", () => {
    const s = loadedUser()
    delete s.agentSeq["bot-1"]
    const all = scoresOf(s).filter((c) => c.window === "all")
    expect(all.map((c) => [c.board, c.seq])).toEqual([["global", 7], ["agent:bot-1", 7]])
  })
})
