// The XP engine: applies one decoded event to one user's state and explains the award.
// applyEvent MUTATES `state` in place — the owning user-shard actor holds the only reference,
// and copying per event would dominate the hot path. A rejected event is checked before any
// write, so it leaves the state untouched. Pure otherwise: time enters as data (event time,
// stream time), so replaying the same stream gives the same ledger byte for byte.
import type { ApplyOutcome, MultiplierApplied, ScoreChange, StreamPosition, UserState, Window, XpEvent } from "./Model.js"
import type { Dec } from "./Decimal.js"
import type { CompiledRules, CompiledStreakTier } from "./Rules.js"
import { checkSemantics } from "./Rules.js"
import { multiply, ONE } from "./Decimal.js"
import { recordDay } from "./Streak.js"
import { countOf, unlockAchievements } from "./Achievements.js"
import { levelFor } from "./Levels.js"
import { agentPeriodKeys, isoOfMs, periodBoundsOrNull, periodsOfDay } from "./Periods.js"
import { utcDay } from "./Calendar.js"
import { GLOBAL_BOARD, agentBoard, parsePeriodKey } from "./BoardKeys.js"

export const newUserState = (userId: string, username?: string): UserState => ({
  userId,
  username: username !== undefined && username.length > 0 ? username : userId,
  totalXp: 0,
  totalSeq: 0,
  level: 1,
  events: 0,
  streakRuns: [],
  longestStreak: 0,
  streakReached: 0,
  counts: {},
  unlocked: {},
  agents: {},
  periods: {},
  agentSeq: {},
  lastSeq: 0
})

/**
 * A user state read back from a snapshot (JSON), brought up to this version's shape in place.
 * Snapshots written before `streakReached` existed counted every event's whole run, so the
 * highest streak an event counted there is `longestStreak`.
 */
export const restoreUserState = (state: UserState): UserState => {
  if (typeof state.streakReached !== "number") state.streakReached = state.longestStreak
  return state
}

/** The highest streak tier reached by `days`, or null. */
export const streakTierFor = (rules: CompiledRules, days: number): CompiledStreakTier | null => {
  const tiers = rules.streakTiers
  for (let i = tiers.length - 1; i >= 0; i--) if (days >= tiers[i]!.days) return tiers[i]!
  return null
}

const NO_MULTIPLIERS: ReadonlyArray<MultiplierApplied> = Object.freeze([])

/** Adds `awarded` to one period score (created on first use) and reports the new score. */
const scorePeriod = (
  state: UserState, scores: Array<ScoreChange>, key: string, board: string, window: Window, period: string,
  awarded: number, seq: number, level: number
): void => {
  // Keys contain ':', so no Object.prototype member can answer for a missing one.
  let ps = state.periods[key]
  if (ps === undefined) {
    ps = { xp: 0, seq }
    state.periods[key] = ps
  }
  ps.xp += awarded
  if (awarded > 0) ps.seq = seq
  scores.push({ board, window, period, userId: state.userId, username: state.username, xp: ps.xp, seq: ps.seq, level })
}

/**
 * Applies `ev` (structurally valid; `timeMs` its timestamp in epoch ms) at stream position
 * `pos`. Order: semantic check → streak → multipliers and xp → counts → achievements (in
 * rules.evaluationOrder) → totals, level, agent stats → period scores → username.
 * Score seqs (ranking tie-breaks) move only when the score grows or first appears.
 */
export const applyEvent = (
  state: UserState,
  ev: XpEvent,
  timeMs: number,
  pos: StreamPosition,
  rules: CompiledRules
): ApplyOutcome => {
  const rejection = checkSemantics(ev, timeMs, rules, pos.streamTimeMs)
  if (rejection !== null) return { _tag: "Rejected", rejection }
  const seq = pos.seq
  const type = ev.action_type
  const action = rules.actions.get(type)!
  const base = action.kind === "fixed" ? action.points : ev.base_points!

  const day = utcDay(timeMs)
  const streakDays = recordDay(state, day)
  const tier = streakTierFor(rules, streakDays)

  const names = ev.multipliers
  let applied: ReadonlyArray<MultiplierApplied> = NO_MULTIPLIERS
  const factors: Array<Dec> = [tier === null ? ONE : tier.dec]
  if (names !== undefined && names.length > 0) {
    const lines: Array<MultiplierApplied> = []
    for (let i = 0; i < names.length; i++) {
      const f = rules.multipliers.get(names[i]!)!
      lines.push(f.applied)
      factors.push(f.dec)
    }
    applied = lines
  }
  const m = multiply(base, factors, rules.cap.dec)

  state.events++
  state.counts[type] = countOf(state.counts, type) + 1
  const xpBefore = state.totalXp
  const levelBefore = state.level
  const unlocks = unlockAchievements(state, rules, streakDays, xpBefore + m.xp, seq)
  const awarded = m.xp + unlocks.bonusXp
  state.totalXp = xpBefore + awarded
  if (awarded > 0 || state.totalSeq === 0) state.totalSeq = seq
  state.level = levelFor(rules.levels, state.totalXp)

  const agent = ev.agent_name
  let stat = Object.hasOwn(state.agents, agent) ? state.agents[agent] : undefined
  if (stat === undefined) {
    stat = { xp: 0, events: 0 }
    state.agents[agent] = stat
  }
  stat.xp += awarded
  stat.events++
  if (awarded > 0 || !Object.hasOwn(state.agentSeq, agent)) state.agentSeq[agent] = seq
  if (ev.username !== undefined && ev.username.length > 0) state.username = ev.username
  state.lastSeq = seq

  const username = state.username
  const level = state.level
  const aBoard = agentBoard(agent)
  const scores: Array<ScoreChange> = [
    { board: GLOBAL_BOARD, window: "all", period: "all", userId: state.userId, username, xp: state.totalXp, seq: state.totalSeq, level },
    { board: aBoard, window: "all", period: "all", userId: state.userId, username, xp: stat.xp, seq: state.agentSeq[agent]!, level }
  ]
  // A period still takes late events until it closes (end + grace, in stream time).
  const p = periodsOfDay(day)
  const now = pos.streamTimeMs
  const grace = rules.periodGraceMs
  const keys = agentPeriodKeys(p, agent)
  if (now < p.dayEndMs + grace) {
    scorePeriod(state, scores, p.dayKey, GLOBAL_BOARD, "day", p.day, awarded, seq, level)
    scorePeriod(state, scores, keys.day, aBoard, "day", p.day, awarded, seq, level)
  }
  if (now < p.weekEndMs + grace) {
    scorePeriod(state, scores, p.weekKey, GLOBAL_BOARD, "week", p.week, awarded, seq, level)
    scorePeriod(state, scores, keys.week, aBoard, "week", p.week, awarded, seq, level)
  }
  if (now < p.monthEndMs + grace) {
    scorePeriod(state, scores, p.monthKey, GLOBAL_BOARD, "month", p.month, awarded, seq, level)
    scorePeriod(state, scores, keys.month, aBoard, "month", p.month, awarded, seq, level)
  }

  return {
    _tag: "Applied",
    entry: {
      event_id: ev.event_id,
      seq,
      user_id: state.userId,
      agent_name: agent,
      action_type: type,
      base_points: base,
      multipliers: applied,
      streak_days: streakDays,
      streak_multiplier: tier === null ? "1" : tier.text,
      total_multiplier: m.total,
      applied_multiplier: m.applied,
      xp: m.xp,
      bonuses: unlocks.bonuses,
      total_awarded: awarded,
      total_xp_after: state.totalXp,
      level_before: levelBefore,
      level_after: level,
      rules_version: rules.version,
      event_time: isoOfMs(timeMs),
      stream_time: isoOfMs(now)
    },
    scores,
    unlocked: unlocks.ids
  }
}

const closeCache = new Map<string, number>()

/** When the period of a `state.periods` key closes (end + grace); NaN for a malformed key. */
const closesAtOfKey = (key: string, graceMs: number): number => {
  const c1 = key.indexOf(":")
  const c2 = key.indexOf(":", c1 + 1)
  const wp = c2 < 0 ? key : key.slice(0, c2)
  let end = closeCache.get(wp)
  if (end === undefined) {
    const window = key.slice(0, c1)
    const b = window === "day" || window === "week" || window === "month" ? periodBoundsOrNull(window, wp.slice(c1 + 1)) : null
    end = b === null ? Number.NaN : b.endMs
    if (closeCache.size >= 4096) closeCache.clear()
    closeCache.set(wp, end)
  }
  return end + graceMs
}

/**
 * Drops period scores whose period has closed at `streamTimeMs` (closed boards are archived
 * elsewhere; the user state keeps only open ones). Malformed keys are dropped too.
 * Returns the removed keys.
 */
export const pruneClosedPeriods = (state: UserState, streamTimeMs: number, rules: CompiledRules): ReadonlyArray<string> => {
  const removed: Array<string> = []
  for (const key of Object.keys(state.periods)) {
    const closesAt = closesAtOfKey(key, rules.periodGraceMs)
    if (!(streamTimeMs < closesAt)) {
      delete state.periods[key]
      removed.push(key)
    }
  }
  return removed
}

/** Where a board score is: its board instance, the score and the seq that set it (ranking tie-break). */
export type ScoreVisitor = (board: string, window: Window, period: string, xp: number, seq: number) => void

/**
 * Visits every board score this state holds: all-time global and per agent, and each period
 * score whose period is still open at `openAt` (every one when `openAt` is null). This is what
 * boards are rebuilt from after a snapshot load, without an object per score. An agent's
 * all-time seq falls back to the total's when the state predates per-agent seqs.
 */
export const forEachScore = (state: UserState, openAt: { readonly streamTimeMs: number; readonly periodGraceMs: number } | null, visit: ScoreVisitor): void => {
  visit(GLOBAL_BOARD, "all", "all", state.totalXp, state.totalSeq)
  for (const agent in state.agents) visit(agentBoard(agent), "all", "all", state.agents[agent]!.xp, state.agentSeq[agent] ?? state.totalSeq)
  for (const key in state.periods) {
    if (openAt !== null && !(openAt.streamTimeMs < closesAtOfKey(key, openAt.periodGraceMs))) continue
    const k = parsePeriodKey(key)
    if (k === null) continue
    const ps = state.periods[key]!
    visit(k.board, k.window, k.period, ps.xp, ps.seq)
  }
}

/** Every board score this state holds (see forEachScore), as score changes. */
export const scoresOf = (state: UserState, openAt: { readonly streamTimeMs: number; readonly periodGraceMs: number } | null = null): Array<ScoreChange> => {
  const { userId, username, level } = state
  const out: Array<ScoreChange> = []
  forEachScore(state, openAt, (board, window, period, xp, seq) => { out.push({ board, window, period, userId, username, xp, seq, level }) })
  return out
}
