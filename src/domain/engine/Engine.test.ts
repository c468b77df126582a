// Proves the XP engine's award arithmetic, validation-before-write, streak multipliers, period
// scoring and username rules against the default rules of ARCHITECTURE §3, on the user table.
import { describe, expect, it } from "vitest"
import type { LedgerEntry, XpEvent } from "../Model.js"
import { DEFAULT_RULES, DEFAULT_RULES_DOCUMENT } from "../DefaultRules.js"
import { loadRulesOrThrow } from "../Rules.js"
import type { CompiledRules } from "../Rules.js"
import { GLOBAL_ALL } from "../ranking/BoardRegistry.js"
import { KIND_BOARD, kindOf } from "../state/UserTable.js"
import { ChunkEncoder, loadChunk, rebuildBoards } from "../state/SnapshotCodec.js"
import { applyEvent } from "./Engine.js"
import type { ApplyOutcome, EngineState } from "./Engine.js"
import { newEngineState } from "./TestState.js"
import { agentStatsOf, boardScoreOf, dumpUser } from "./UserViews.js"
import type { UserDump } from "./UserViews.js"

const DAY = 86_400_000
const MIN = 60_000
/** 2026-11-26 (a Thursday) 12:00 UTC. */
const T0 = Date.UTC(2026, 10, 26, 12)

let nextSeq = 1
type Over = Partial<XpEvent> & { readonly at?: number; readonly stream?: number; readonly rules?: CompiledRules }
/** The default rules without streak freezes (the plain gap rule of §3). */
const NO_FREEZES = loadRulesOrThrow({ ...DEFAULT_RULES_DOCUMENT, streak: { freezes_per_month: 0 } })

/** Applies a task_completed by u1 through agent-a at T0, with `over` changing any of it. */
const apply = (s: EngineState, over: Over = {}): ApplyOutcome => {
  const { at = T0, stream, rules = DEFAULT_RULES, ...fields } = over
  const ev: XpEvent = {
    event_id: `e-${nextSeq}`,
    user_id: "u1",
    agent_name: "agent-a",
    action_type: "task_completed",
    timestamp: new Date(at).toISOString(),
    ...fields
  }
  const seq = nextSeq++
  return applyEvent(s, ev, at, { seq, streamTimeMs: stream ?? at }, rules)
}

const entry = (o: ApplyOutcome): LedgerEntry => {
  if (o._tag !== "Applied") throw new Error(`expected Applied, got ${JSON.stringify(o)}`)
  return o.entry
}

const dump = (s: EngineState, userId = "u1"): UserDump => dumpUser(s, s.users.uidOf(userId))

/** One task_completed event on each of `n` consecutive days ending the day before `endAt`. */
const activeDaysBefore = (s: EngineState, n: number, endAt = T0): void => {
  for (let i = n; i >= 1; i--) entry(apply(s, { at: endAt - i * DAY }))
}

const keyOf = (s: EngineState, id: number): string => {
  const r = s.boards.refs[id]!
  return `${r.board}/${r.window}/${r.period}`
}

/** A user's entry in a board's ranking: [xp, seq], or undefined when not ranked there. */
const ranked = (s: EngineState, id: number, uid: number): [number, number] | undefined => {
  let out: [number, number] | undefined
  s.boards.tree(id)?.forEach((u, xp, seq) => { if (u === uid) out = [xp, seq] })
  return out
}

/**
 * The board scores the engine wrote since the last call, in the order it first wrote each board:
 * the user's score there (xp, tie-break seq) as the table holds it, checked against the ranking.
 */
const reported = (s: EngineState, userId = "u1"): Array<{ key: string; userId: string; xp: number; seq: number }> => {
  const uid = s.users.uidOf(userId)
  return s.boards.takeChanged().map((id) => {
    const sc = boardScoreOf(s, uid, id)!
    expect(ranked(s, id, uid)).toEqual([sc.xp, sc.seq])
    return { key: keyOf(s, id), userId: s.users.userId(uid), xp: sc.xp, seq: sc.seq }
  })
}

describe("award arithmetic", () => {
  it("matches §3: base 25, first_try, streak 3 → 25 × 1.65 = 41.25 → 41", () => {
    const s = newEngineState()
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
    const s = newEngineState()
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
    const s = newEngineState()
    const atCap = entry(apply(s, { action_type: "speed_bonus", multipliers: ["hackathon", "first_try"] }))
    expect([atCap.total_multiplier, atCap.applied_multiplier, atCap.xp]).toEqual(["3", "3", 15])
    const under = entry(apply(s, { action_type: "error_resolved", multipliers: ["hackathon", "pair_session"] }))
    expect([under.total_multiplier, under.applied_multiplier, under.xp]).toEqual(["2.4", "2.4", 48])
  })

  it("floors fractional XP", () => {
    const s = newEngineState()
    expect(entry(apply(s, { action_type: "speed_bonus", multipliers: ["first_try"] })).xp).toBe(7) // 7.5
    expect(entry(apply(s, { action_type: "custom", base_points: 1, multipliers: ["pair_session"] })).xp).toBe(1) // 1.2
    expect(entry(apply(s, { action_type: "custom", base_points: 499, multipliers: ["first_try"] })).xp).toBe(748) // 748.5
  })

  it("uses the event's base_points for custom, 1..500 inclusive", () => {
    const s = newEngineState()
    expect(entry(apply(s, { action_type: "custom", base_points: 1 })).xp).toBe(1)
    expect(entry(apply(s, { action_type: "custom", base_points: 500 })).xp).toBe(500)
  })
})

describe("validation before any write", () => {
  /** Everything a rejected event could touch: the user's dump, the users and the boards. */
  const whole = (s: EngineState) => ({ user: dump(s), users: s.users.size, boards: s.boards.count })

  const rejected = (over: Over, reason: string, path: string) => {
    const s = newEngineState()
    entry(apply(s))
    s.boards.takeChanged()
    const before = whole(s)
    const o = apply(s, over)
    expect(o._tag).toBe("Rejected")
    if (o._tag !== "Rejected") return
    expect(o.rejection.reason).toBe(reason)
    expect(o.rejection.issues.map((i) => i.path)).toContain(path)
    expect(whole(s)).toEqual(before)
    expect(s.boards.takeChanged()).toEqual([])
  }

  it("rejects custom base_points 0, 501 and a missing one", () => {
    rejected({ action_type: "custom", base_points: 0 }, "invalid_base_points", "base_points")
    rejected({ action_type: "custom", base_points: 501 }, "invalid_base_points", "base_points")
    rejected({ action_type: "custom" }, "invalid_base_points", "base_points")
  })
  it("rejects base_points that differ from the table for other types, accepts equal ones", () => {
    rejected({ action_type: "task_completed", base_points: 11 }, "invalid_base_points", "base_points")
    rejected({ action_type: "speed_bonus", base_points: 500 }, "invalid_base_points", "base_points")
    expect(entry(apply(newEngineState(), { user_id: "u2", action_type: "task_completed", base_points: 10 })).xp).toBe(10)
  })
  it("rejects unknown action types", () => {
    rejected({ action_type: "nap" }, "unknown_action", "action_type")
  })
  it("rejects unknown and repeated multipliers with the offending index", () => {
    rejected({ multipliers: ["first_try", "lucky"] }, "invalid_multiplier", "multipliers[1]")
    rejected({ multipliers: ["first_try", "pair_session", "first_try"] }, "invalid_multiplier", "multipliers[2]")
  })
  it("accepts an event exactly 5 minutes ahead of stream time and rejects one 1 ms later", () => {
    expect(apply(newEngineState(), { at: T0 + 5 * MIN, stream: T0 })._tag).toBe("Applied")
    rejected({ at: T0 + 5 * MIN + 1, stream: T0 }, "future_timestamp", "timestamp")
  })
})

describe("streak multiplier", () => {
  const cases: ReadonlyArray<readonly [number, string]> = [[1, "1"], [2, "1"], [3, "1.1"], [6, "1.1"], [7, "1.25"], [29, "1.25"], [30, "1.5"], [31, "1.5"]]
  it.each(cases)("a %i-day streak multiplies by %s", (days, mult) => {
    const s = newEngineState()
    activeDaysBefore(s, days - 1)
    const e = entry(apply(s))
    expect(e.streak_days).toBe(days)
    expect(e.streak_multiplier).toBe(mult)
  })

  it("counts UTC days: 23:59:59.999 and the next 00:00 are two days, 00:00 and 23:59 one", () => {
    const midnight = Date.UTC(2026, 10, 27)
    const s = newEngineState()
    expect(entry(apply(s, { at: midnight - 1 })).streak_days).toBe(1)
    expect(entry(apply(s, { at: midnight })).streak_days).toBe(2)
    expect(entry(apply(s, { at: midnight + DAY - 1 })).streak_days).toBe(2)
  })

  it("counts a late gap-filler only up to its own day; the events after it see the filled gap", () => {
    const s = newEngineState()
    for (const d of [0, 1, 3, 4]) entry(apply(s, { rules: NO_FREEZES, at: T0 + d * DAY }))
    const late = entry(apply(s, { rules: NO_FREEZES, at: T0 + 2 * DAY, stream: T0 + 4 * DAY }))
    expect(late.streak_days).toBe(3) // days 0..2: days 3 and 4 come after it and never count for it
    expect(late.streak_multiplier).toBe("1.1")
    expect(dump(s).streakRuns).toEqual([Math.floor(T0 / DAY), Math.floor(T0 / DAY) + 4])
    expect(dump(s).longestStreak).toBe(5) // the run held: days 0..4
    expect(dump(s).streakReached).toBe(3)
    const after = entry(apply(s, { rules: NO_FREEZES, at: T0 + 4 * DAY }))
    expect(after.streak_days).toBe(5)
    expect(after.streak_multiplier).toBe("1.1")
    expect(entry(apply(s, { rules: NO_FREEZES, at: T0 + 3 * DAY, stream: T0 + 4 * DAY })).streak_days).toBe(4)
    expect(dump(s).streakReached).toBe(5)
    // A day after a gap starts over.
    expect(entry(apply(s, { rules: NO_FREEZES, at: T0 + 6 * DAY })).streak_days).toBe(1)
  })

  it("a late gap-filler that completes 7 days does not earn the ×1.25 tier for itself", () => {
    const s = newEngineState()
    for (const d of [0, 1, 2, 4, 5, 6]) entry(apply(s, { at: T0 + d * DAY }))
    const late = entry(apply(s, { at: T0 + 3 * DAY, stream: T0 + 6 * DAY }))
    expect([late.streak_days, late.streak_multiplier]).toEqual([4, "1.1"])
    const next = entry(apply(s, { at: T0 + 6 * DAY }))
    expect([next.streak_days, next.streak_multiplier]).toEqual([7, "1.25"])
  })
  // Restoring a snapshot written before streakReached existed: state/LegacySnapshot.test.ts.
})

describe("scores and periods", () => {
  it("writes global and agent scores for all, day, week and month with totals, seq and level", () => {
    const s = newEngineState()
    const o = apply(s, { action_type: "mission_analytics", agent_name: "bot-1", username: "Ada" })
    if (o._tag !== "Applied") throw new Error("rejected")
    const scores = reported(s)
    expect(scores.map((c) => c.key)).toEqual([
      "global/all/all", "agent:bot-1/all/all",
      "global/day/2026-11-26", "agent:bot-1/day/2026-11-26",
      "global/week/2026-W48", "agent:bot-1/week/2026-W48",
      "global/month/2026-11", "agent:bot-1/month/2026-11"
    ])
    for (const c of scores) expect(c).toMatchObject({ xp: 150, seq: o.entry.seq, userId: "u1" })
    // Boards show the user's level and name from the user's row.
    expect([dump(s).level, dump(s).username]).toEqual([2, "Ada"])
    const d = dump(s)
    expect(Object.keys(d.boards).filter((k) => !k.endsWith("|all|all"))).toEqual([
      "agent:bot-1|day|2026-11-26", "agent:bot-1|month|2026-11", "agent:bot-1|week|2026-W48",
      "global|day|2026-11-26", "global|month|2026-11", "global|week|2026-W48"
    ])
    // Every board score the user holds: the global all-time one (columns) and the entries.
    expect(Object.keys(d.boards).length + (boardScoreOf(s, s.users.uidOf("u1"), GLOBAL_ALL) === undefined ? 0 : 1)).toBe(8)
  })

  it("scores a late event in its day until end + 10 min of stream time, and all-time always", () => {
    const dayEnd = Date.UTC(2026, 10, 27)
    const open = newEngineState()
    const closed = newEngineState()
    expect(apply(open, { at: T0, stream: dayEnd + 10 * MIN - 1 })._tag).toBe("Applied")
    expect(apply(closed, { user_id: "u2", at: T0, stream: dayEnd + 10 * MIN })._tag).toBe("Applied")
    const window = (c: { key: string }) => c.key.split("/")[1]
    expect(reported(open).some((c) => window(c) === "day")).toBe(true)
    expect(reported(closed, "u2").map(window)).toEqual(["all", "all", "week", "week", "month", "month"])
  })

  it("drops period scores exactly when their period closes", () => {
    const s = newEngineState()
    entry(apply(s))
    const uid = s.users.uidOf("u1")
    /** What the pipeline does at stream time t: retire the closed boards and their user entries. */
    const closeAt = (t: number): Array<string> => {
      const ids = s.boards.expired(t)
      for (const id of ids) { s.boards.retire(id); s.users.markDead(id) }
      return ids.map((id) => keyOf(s, id)).sort()
    }
    const dayClose = Date.UTC(2026, 10, 27) + 10 * MIN
    expect(closeAt(dayClose - 1)).toEqual([])
    expect(closeAt(dayClose)).toEqual(["agent:agent-a/day/2026-11-26", "global/day/2026-11-26"])
    expect(Object.keys(dump(s).boards).some((k) => k.includes("|day|"))).toBe(false)
    const monthClose = Date.UTC(2026, 11, 1) + 10 * MIN
    expect(closeAt(monthClose)).toEqual([
      "agent:agent-a/month/2026-11", "agent:agent-a/week/2026-W48", "global/month/2026-11", "global/week/2026-W48"
    ])
    expect(dump(s).boards).toEqual({ "agent:agent-a|all|all": [10, dump(s).totalSeq] })
    // The user's block sheds the dead entries when it is next rewritten.
    s.users.dropDead(uid)
    let boardEntries = 0
    for (let e = s.users.blockStart(uid); e < s.users.blockEnd(uid); e++) if (kindOf(s.users.eKey[e]!) === KIND_BOARD) boardEntries++
    expect(boardEntries).toBe(1)
  })

  it("moves a score's tie-break seq when XP grows and keeps it when an award adds nothing", () => {
    const rules = loadRulesOrThrow({ ...DEFAULT_RULES_DOCUMENT, actions: { ...DEFAULT_RULES_DOCUMENT.actions, ping: { points: 0 } } })
    const s = newEngineState(rules.periodGraceMs)
    const run = (action_type: string, seq: number) =>
      applyEvent(s, { event_id: `p${seq}`, user_id: "u1", agent_name: "agent-a", action_type, timestamp: "2026-11-26T12:00:00Z" }, T0, { seq, streamTimeMs: T0 }, rules)
    run("task_completed", 1)
    const grown = run("task_completed", 2)
    const seqs = (d: UserDump) => [d.totalSeq, d.boards["agent:agent-a|all|all"]![1], d.boards["global|day|2026-11-26"]![1]]
    expect(seqs(dump(s))).toEqual([2, 2, 2])
    s.boards.takeChanged()
    const flat = run("ping", 3)
    expect([...seqs(dump(s)), dump(s).totalXp]).toEqual([2, 2, 2, 20])
    if (grown._tag !== "Applied" || flat._tag !== "Applied") throw new Error("rejected")
    // An award that adds nothing moves no board: every score stays (20, 2), in the rankings too.
    expect(s.boards.takeChanged()).toEqual([])
    const uid = s.users.uidOf("u1")
    for (const id of s.boards.open()) expect(ranked(s, id, uid)).toEqual([20, 2])
  })
})

describe("user fields", () => {
  it("a new name or level shows on every board the user is on, not only the ones this event scored", () => {
    const s = newEngineState()
    entry(apply(s, { agent_name: "agent-a" }))
    const a = s.boards.idOf("agent:agent-a", "all", "all")
    s.boards.setWatchLimit(a, 10)
    s.boards.viewTaken(a)
    s.boards.takeChanged()
    // agent-b's event renames u1: agent-a's board did not move, but its row shows the new name.
    entry(apply(s, { agent_name: "agent-b", username: "Renamed" }))
    expect(s.boards.takeChanged()).toContain(a)
    expect(s.boards.viewDirty(a)).toBe(true)
    s.boards.viewTaken(a)
    // The same name again changes nothing there.
    entry(apply(s, { agent_name: "agent-b", username: "Renamed" }))
    expect(s.boards.takeChanged()).not.toContain(a)
    expect(s.boards.viewDirty(a)).toBe(false)
    // A level reached through agent-b shows on agent-a's row too.
    let levelled = false
    for (let i = 0; i < 200 && !levelled; i++) {
      const e = entry(apply(s, { agent_name: "agent-b" }))
      levelled = e.level_after !== e.level_before
    }
    expect(levelled).toBe(true)
    expect(s.boards.takeChanged()).toContain(a)
    expect(s.boards.viewDirty(a)).toBe(true)
  })

  it("keeps the last non-empty username; defaults to the user id", () => {
    const s = newEngineState()
    entry(apply(s))
    expect(dump(s).username).toBe("u1")
    entry(apply(s, { username: "Ada" }))
    entry(apply(s, { username: "" }))
    entry(apply(s))
    expect(dump(s).username).toBe("Ada")
    entry(apply(s, { username: "Ada L." }))
    expect(dump(s).username).toBe("Ada L.")
  })

  it("tracks counts, events, agent stats and level across agents", () => {
    const s = newEngineState()
    entry(apply(s, { action_type: "mission_analytics", agent_name: "a" }))
    entry(apply(s, { action_type: "task_completed", agent_name: "b" }))
    const d = dump(s)
    expect(d.counts).toEqual({ mission_analytics: 1, task_completed: 1 })
    const agents = Object.fromEntries(agentStatsOf(s, s.users.uidOf("u1")).map((a) => [a.agent_name, { xp: a.xp, events: a.events }]))
    expect(agents).toEqual({ a: { xp: 150, events: 1 }, b: { xp: 10, events: 1 } })
    expect([d.events, d.totalXp, d.level]).toEqual([2, 160, 2])
  })

  it("renders event and stream times as ISO strings in the ledger", () => {
    const e = entry(apply(newEngineState(), { at: T0, stream: T0 + 1234 }))
    expect(e.event_time).toBe("2026-11-26T12:00:00.000Z")
    expect(e.stream_time).toBe("2026-11-26T12:00:01.234Z")
  })
})

// Boards are derived state: a snapshot holds the users' scores, and loading it rebuilds every
// ranking from them (rebuildBoards), minus the periods closed at the checkpoint's stream time.
describe("boards rebuilt at load", () => {
  const applied = (): EngineState => {
    const s = newEngineState()
    const ev = { event_id: "e1", user_id: "u1", username: "Ada", agent_name: "bot-1", action_type: "task_completed", timestamp: new Date(T0).toISOString() }
    entry(applyEvent(s, ev, T0, { seq: 7, streamTimeMs: T0 }, DEFAULT_RULES))
    return s
  }
  /** Loads a snapshot of `s` at checkpoint stream time `t` into a fresh state and rebuilds its boards. */
  const reload = (s: EngineState, t: number): EngineState => {
    const enc = new ChunkEncoder(s)
    enc.add(s.users.uidOf("u1"))
    const r = newEngineState()
    loadChunk(r, enc.finish(), { streamTimeMs: t })
    rebuildBoards(r)
    return r
  }
  /** Every ranking entry of every open board: "board/window/period" → "user:xp:seq". */
  const rankings = (s: EngineState): Array<[string, string]> => {
    const out: Array<[string, string]> = []
    for (const id of s.boards.open()) s.boards.tree(id)!.forEach((uid, xp, seq) => { out.push([keyOf(s, id), `${s.users.userId(uid)}:${xp}:${seq}`]) })
    return out
  }

  it("gives back exactly the scores the engine wrote when it applied the event", () => {
    const s = applied()
    const wrote = reported(s).map((c): [string, string] => [c.key, `${c.userId}:${c.xp}:${c.seq}`])
    const sort = (a: Array<[string, string]>) => [...a].sort((x, y) => x[0].localeCompare(y[0]))
    expect(sort(rankings(reload(s, T0)))).toEqual(sort(wrote))
  })

  it("skips periods closed at the checkpoint's stream time (end + grace), keeps the all-time boards", () => {
    const dayClose = Date.UTC(2026, 10, 27) + 10 * MIN
    const at = (t: number) => rankings(reload(applied(), t)).map(([k]) => k)
    expect(at(dayClose - 1)).toHaveLength(8)
    expect(at(dayClose).filter((k) => k.includes("/day/"))).toEqual([])
    expect(at(dayClose).filter((k) => k.includes("/all/"))).toEqual(["global/all/all", "agent:bot-1/all/all"])
  })
  // A pre-table JSON state without per-agent seqs: state/LegacySnapshot.test.ts.
})
