// Corrections on the user table (ARCHITECTURE §10): a void takes a voided award (its XP and
// bonuses) back from every board it counted in whose period is still open, an adjust moves a user
// by ±n XP on the global boards (and an agent's, when named) — all-time and the periods current at
// the correction's stream time. No score goes below 0; a score's tie-break seq becomes the
// correction's (the user reached the new score then). Levels follow the total; achievements,
// event counts and streaks stay. Pure apart from the state handed in: replay gives the same result.
// Voids across a re-projection (§10): a void takes back what the event is worth in the projection
// that applies it — in a shadow build, the award the build itself gave the event (state.voids.worth:
// every void in the build's range is re-scored); elsewhere, what the void carries, which the door
// read from the ledger of the projection the void names — refused (`projection_changed`) when that
// is not the projection in force here (a void asked before a switch, applied after it).
import type { BoardChange, CorrectionEntry, RejectReason, StreamPosition } from "../Model.js"
import type { CorrectionMessage } from "../Correction.js"
import { parseRfc3339, utcDay } from "../Calendar.js"
import { GLOBAL_BOARD, agentBoard } from "../BoardKeys.js"
import { levelFor } from "../Levels.js"
import { isoOfMs } from "../Periods.js"
import type { CompiledRules } from "../Rules.js"
import { GLOBAL_ALL } from "../ranking/BoardRegistry.js"
import { KIND_AGENT, KIND_BOARD, KIND_VOID, entryKey } from "../state/UserTable.js"
import type { EngineState } from "./EngineState.js"
import type { BeforeWrite } from "./Engine.js"
import { rowsChanged } from "./Engine.js"

export type CorrectionOutcome =
  | { readonly ok: true; readonly uid: number; readonly entry: CorrectionEntry }
  | { readonly ok: false; readonly reason: RejectReason; readonly message: string }

const VOID_KEY = entryKey(KIND_VOID, 0)

/** The seq of the void that took the award of event seq `eventSeq` from the user, or 0. */
export const voidedBy = (s: EngineState, uid: number, eventSeq: number): number => {
  const u = s.users
  for (let e = u.blockStart(uid), end = u.blockEnd(uid); e < end; e++) if (u.eKey[e] === VOID_KEY && u.eA[e] === eventSeq) return u.eB[e]!
  return 0
}

/** Moves one board entry of the user by `delta` (clamped at 0); returns the change made. */
const moveBoard = (s: EngineState, uid: number, boardId: number, delta: number, seq: number): number => {
  const u = s.users
  const key = entryKey(KIND_BOARD, boardId)
  const e = u.find(uid, key)
  if (e < 0) {
    if (delta <= 0) return 0 // nothing there to take away
    u.add(uid, key, delta, seq)
    s.boards.score(boardId, uid, -1, 0, delta, seq)
    return delta
  }
  const oldXp = u.eA[e]!
  const oldSeq = u.eB[e]!
  const xp = Math.max(0, oldXp + delta)
  if (xp === oldXp) return 0
  u.eA[e] = xp
  u.eB[e] = seq
  s.boards.score(boardId, uid, oldXp, oldSeq, xp, seq)
  return xp - oldXp
}

const WINDOW = ["day", "week", "month"] as const

/**
 * The boards of `agent` (null: global only) for the periods of UTC `day` that are still open at
 * stream time `now`, all-time first: [board name, window, period, board id].
 */
const boardsOf = (s: EngineState, rules: CompiledRules, agentId: number, day: number, now: number): Array<readonly [string, BoardChange["window"], string, number]> => {
  const out: Array<readonly [string, BoardChange["window"], string, number]> = []
  const agent = agentId < 0 ? null : agentBoard(s.agents.nameOf(agentId))
  out.push([GLOBAL_BOARD, "all", "all", GLOBAL_ALL])
  if (agent !== null) out.push([agent, "all", "all", s.boards.agentAllTime(agentId)])
  const d = s.boards.dayBoards(day)
  const p = d.periods
  const ends = [p.dayEndMs, p.weekEndMs, p.monthEndMs]
  const texts = [p.day, p.week, p.month]
  for (let w = 0; w < 3; w++) {
    if (now >= ends[w]! + rules.periodGraceMs) continue // closed: stays as archived
    out.push([GLOBAL_BOARD, WINDOW[w]!, texts[w]!, s.boards.globalPeriod(d, w)])
    if (agent !== null) out.push([agent, WINDOW[w]!, texts[w]!, s.boards.agentPeriod(d, agentId, w)])
  }
  return out
}

/** Applies a decoded correction message at stream position `pos`. A refused one writes nothing. */
export const applyCorrection = (
  s: EngineState,
  c: CorrectionMessage,
  pos: StreamPosition,
  rules: CompiledRules,
  beforeWrite?: BeforeWrite
): CorrectionOutcome => {
  const u = s.users
  const userId = c.kind === "void" ? c.event.user_id : c.user_id
  const uid = u.uidOf(userId)
  if (uid < 0 || u.events[uid]! === 0) return { ok: false, reason: "unknown_user", message: `no user ${userId} with an applied event` }
  const seq = pos.seq
  let requested: number
  let agentId: number
  let day: number
  if (c.kind === "void") {
    if (c.event.seq >= seq) return { ok: false, reason: "invalid_correction", message: `the voided event's seq ${c.event.seq} is not before the void's ${seq}` }
    const by = voidedBy(s, uid, c.event.seq)
    if (by > 0) return { ok: false, reason: "already_voided", message: `event ${c.event_id} (seq ${c.event.seq}) was voided at seq ${by}` }
    const worth = s.voids.worth
    if (worth !== null && worth.has(c.event.seq)) {
      // Re-scored in this run (a shadow build): what the event is worth here, 0 if not applied here.
      requested = 0 - worth.get(c.event.seq)! // never -0
    } else {
      const p = c.event.projection
      if (p !== undefined && p !== s.voids.projection) {
        return {
          ok: false, reason: "projection_changed",
          message: `the void of event ${c.event_id} (seq ${c.event.seq}) carries its award as projection ${p} scored it, but projection ${s.voids.projection} is in force here (a retroactive re-projection switched in between): ask for the void again`
        }
      }
      requested = 0 - c.event.xp
    }
    agentId = s.agents.intern(c.event.agent_name)
    day = utcDay(parseRfc3339(c.event.event_time))
  } else {
    requested = c.xp
    agentId = c.agent_name === undefined ? -1 : s.agents.intern(c.agent_name)
    day = utcDay(pos.streamTimeMs)
  }
  beforeWrite?.(uid)
  if (c.kind === "void") u.add(uid, VOID_KEY, c.event.seq, seq)
  else if (agentId >= 0 && u.find(uid, entryKey(KIND_AGENT, agentId)) < 0) u.add(uid, entryKey(KIND_AGENT, agentId), 0, 0) // listed in agent_stats

  const boards: Array<BoardChange> = []
  const levelBefore = u.level[uid]!
  const before = u.totalXp[uid]!
  let total = before
  for (const [board, window, period, id] of boardsOf(s, rules, agentId, day, pos.streamTimeMs)) {
    let moved: number
    if (id === GLOBAL_ALL) {
      total = Math.max(0, before + requested)
      moved = total - before
      if (moved !== 0) {
        s.boards.score(GLOBAL_ALL, uid, before, u.totalSeq[uid]!, total, seq)
        u.totalXp[uid] = total
        u.totalSeq[uid] = seq
      }
    } else {
      moved = moveBoard(s, uid, id, requested, seq)
    }
    if (moved !== 0) boards.push({ board, window, period, xp: moved })
  }
  const level = levelFor(rules.levels, total)
  u.level[uid] = level
  u.lastSeq[uid] = seq
  if (level !== levelBefore) rowsChanged(s, uid) // rows show the level on every board

  return {
    ok: true,
    uid,
    entry: {
      kind: "correction",
      correction_id: c.correction_id,
      correction: c.kind,
      seq,
      user_id: userId,
      agent_name: agentId < 0 ? null : s.agents.nameOf(agentId),
      event_id: c.kind === "void" ? c.event_id : null,
      event_seq: c.kind === "void" ? c.event.seq : null,
      reason: c.reason,
      by: c.by ?? null,
      requested_xp: requested,
      xp: total - before,
      boards,
      total_xp_after: total,
      level_before: levelBefore,
      level_after: level,
      rules_version: rules.version,
      stream_time: isoOfMs(pos.streamTimeMs)
    }
  }
}
