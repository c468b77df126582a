// The XP engine over the user table: applies one decoded event to its user's columns, moves the
// user's board entries through the score sink, and explains the award as a ledger entry. Pure
// apart from the state it is handed: time enters as data (event time, stream time), so replaying
// the same stream gives the same ledger byte for byte. A rejected event writes nothing.
import type { LedgerEntry, MultiplierApplied, Rejection, StreamPosition, XpEvent } from "../Model.js"
import type { Dec } from "../Decimal.js"
import { multiply, ONE } from "../Decimal.js"
import type { CompiledRules, CompiledStreakTier } from "../Rules.js"
import { checkSemantics } from "../Rules.js"
import { levelFor } from "../Levels.js"
import { isoOfMs } from "../Periods.js"
import { utcDay } from "../Calendar.js"
import { GLOBAL_ALL } from "../ranking/BoardRegistry.js"
import type { DayBoards } from "../ranking/BoardRegistry.js"
import { KIND_ACTION, KIND_AGENT, KIND_BOARD, entryKey, idOfKey, kindOf } from "../state/UserTable.js"
import type { UserTable } from "../state/UserTable.js"
import type { EngineState } from "./EngineState.js"
import { markDay } from "./Streaks.js"
import { unlockAchievements } from "./Unlocks.js"

export type { EngineState } from "./EngineState.js"

/** The result of applying one event: its ledger entry (and the achievements it unlocked), or why not. */
export type ApplyOutcome =
  | { readonly _tag: "Applied"; readonly uid: number; readonly entry: LedgerEntry; readonly unlocked: ReadonlyArray<string> }
  | { readonly _tag: "Rejected"; readonly rejection: Rejection }

/** Called once per applied event before the user's state changes (dirty tracking, snapshot pre-images). */
export type BeforeWrite = (uid: number) => void

/** The highest streak tier reached by `days`, or null. */
export const streakTierFor = (rules: CompiledRules, days: number): CompiledStreakTier | null => {
  const tiers = rules.streakTiers
  for (let i = tiers.length - 1; i >= 0; i--) if (days >= tiers[i]!.days) return tiers[i]!
  return null
}

/** Marks the user's row changed on every board they hold a score on. */
export const rowsChanged = (s: EngineState, uid: number): void => {
  const u = s.users
  s.boards.rowChanged(GLOBAL_ALL, uid, u.totalXp[uid]!, u.totalSeq[uid]!)
  for (let e = u.blockStart(uid); e < u.blockEnd(uid); e++) {
    const key = u.eKey[e]!
    if (kindOf(key) === KIND_BOARD) s.boards.rowChanged(idOfKey(key), uid, u.eA[e]!, u.eB[e]!)
  }
}

const NO_MULTIPLIERS: ReadonlyArray<MultiplierApplied> = Object.freeze([])
const factors: Array<Dec> = []

/** Adds `awarded` to one board score of the user (made on first use) and moves its ranking. */
const scoreBoard = (s: EngineState, uid: number, boardId: number, awarded: number, seq: number): void => {
  const u = s.users
  const key = entryKey(KIND_BOARD, boardId)
  const e = u.find(uid, key)
  if (e < 0) {
    u.add(uid, key, awarded, seq)
    s.boards.score(boardId, uid, -1, 0, awarded, seq)
    return
  }
  const oldXp = u.eA[e]!
  const oldSeq = u.eB[e]!
  if (awarded <= 0) return // score and tie-break seq unchanged
  u.eA[e] = oldXp + awarded
  u.eB[e] = seq
  s.boards.score(boardId, uid, oldXp, oldSeq, oldXp + awarded, seq)
}

/** Adds 1 to a counter entry (agent events, action counts). */
const bump = (u: UserTable, uid: number, key: number): void => {
  const e = u.find(uid, key)
  if (e < 0) u.add(uid, key, 1, 0)
  else u.eA[e] = u.eA[e]! + 1
}

/**
 * Applies `ev` (structurally valid; `timeMs` its timestamp in epoch ms) at stream position `pos`.
 * Order: semantic check → streak → multipliers and xp → counts → achievements (in
 * rules.evaluationOrder) → totals, level, agent stats → period scores → username.
 * Score seqs (ranking tie-breaks) move only when the score grows or first appears.
 */
export const applyEvent = (
  s: EngineState,
  ev: XpEvent,
  timeMs: number,
  pos: StreamPosition,
  rules: CompiledRules,
  beforeWrite?: BeforeWrite
): ApplyOutcome => {
  const rejection = checkSemantics(ev, timeMs, rules, pos.streamTimeMs)
  if (rejection !== null) return { _tag: "Rejected", rejection }
  const u = s.users
  const uid = u.intern(ev.user_id)
  beforeWrite?.(uid)
  const seq = pos.seq
  const type = ev.action_type
  const action = rules.actions.get(type)!
  const base = action.kind === "fixed" ? action.points : ev.base_points!

  const day = utcDay(timeMs)
  const streakDays = markDay(u, uid, day)
  const tier = streakTierFor(rules, streakDays)

  const names = ev.multipliers
  let applied: ReadonlyArray<MultiplierApplied> = NO_MULTIPLIERS
  factors.length = 0
  factors.push(tier === null ? ONE : tier.dec)
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

  u.events[uid] = u.events[uid]! + 1
  bump(u, uid, entryKey(KIND_ACTION, s.actions.intern(type)))
  const xpBefore = u.totalXp[uid]!
  const seqBefore = u.totalSeq[uid]!
  const levelBefore = u.level[uid]!
  const unlocks = unlockAchievements(u, s, uid, rules, streakDays, xpBefore + m.xp, seq)
  const awarded = m.xp + unlocks.bonusXp
  const total = xpBefore + awarded
  u.totalXp[uid] = total
  if (seqBefore === 0) {
    u.totalSeq[uid] = seq
    s.boards.score(GLOBAL_ALL, uid, -1, 0, total, seq)
  } else if (awarded > 0) {
    u.totalSeq[uid] = seq
    s.boards.score(GLOBAL_ALL, uid, xpBefore, seqBefore, total, seq)
  }
  const level = levelFor(rules.levels, total)
  u.level[uid] = level

  const agent = ev.agent_name
  const agentId = s.agents.intern(agent)
  bump(u, uid, entryKey(KIND_AGENT, agentId))
  scoreBoard(s, uid, s.boards.agentAllTime(agentId), awarded, seq)
  const renamed = ev.username !== undefined && ev.username.length > 0 && u.setUsername(uid, ev.username)
  u.lastSeq[uid] = seq

  // A period still takes late events until it closes (end + grace, in stream time).
  const now = pos.streamTimeMs
  const grace = rules.periodGraceMs
  const d: DayBoards = s.boards.dayBoards(day)
  const p = d.periods
  if (now < p.dayEndMs + grace) {
    scoreBoard(s, uid, s.boards.globalPeriod(d, 0), awarded, seq)
    scoreBoard(s, uid, s.boards.agentPeriod(d, agentId, 0), awarded, seq)
  }
  if (now < p.weekEndMs + grace) {
    scoreBoard(s, uid, s.boards.globalPeriod(d, 1), awarded, seq)
    scoreBoard(s, uid, s.boards.agentPeriod(d, agentId, 1), awarded, seq)
  }
  if (now < p.monthEndMs + grace) {
    scoreBoard(s, uid, s.boards.globalPeriod(d, 2), awarded, seq)
    scoreBoard(s, uid, s.boards.agentPeriod(d, agentId, 2), awarded, seq)
  }
  // Board rows show the name and level: every board the user is on shows them changed, not only
  // the boards this event scored (REST reads them from the user's current state).
  if (renamed || level !== levelBefore) rowsChanged(s, uid)

  return {
    _tag: "Applied",
    entry: {
      event_id: ev.event_id,
      seq,
      user_id: ev.user_id,
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
      total_xp_after: total,
      level_before: levelBefore,
      level_after: level,
      rules_version: rules.version,
      event_time: isoOfMs(timeMs),
      stream_time: isoOfMs(now)
    },
    uid,
    unlocked: unlocks.ids
  }
}
