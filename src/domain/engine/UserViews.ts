// Read models of one user in the table: the profile core for GET /v1/users/{id} (level info,
// streak as of a stream day, achievement progress, agent stats) and a canonical dump of the whole
// state (tests compare states with it; it is what the old object-per-user state held).
import { boardKeyString } from "../BoardKeys.js"
import { levelInfoAt } from "../Levels.js"
import type { ProfileCore } from "../Profile.js"
import type { CompiledRules } from "../Rules.js"
import { GLOBAL_ALL } from "../ranking/BoardRegistry.js"
import { KIND_ACTION, KIND_AGENT, KIND_BOARD, KIND_UNLOCK, KIND_VOID, NO_MONTH, PRIVATE, entryKey, idOfKey, kindOf } from "../state/UserTable.js"
import type { EngineState } from "./Engine.js"
import { currentStreakOf, freezesLeft, runsOf } from "./Streaks.js"
import { localDay, zoneName } from "../Zones.js"
import { progressOf, unlockSeq } from "./Unlocks.js"

/** Per agent: XP earned through it (its all-time board score) and events. */
export const agentStatsOf = (s: EngineState, uid: number): Array<{ agent_name: string; xp: number; events: number }> => {
  const t = s.users
  const out: Array<{ agent_name: string; xp: number; events: number }> = []
  for (let e = t.blockStart(uid), end = t.blockEnd(uid); e < end; e++) {
    const key = t.eKey[e]!
    if (kindOf(key) !== KIND_AGENT) continue
    const agentId = idOfKey(key)
    const board = s.boards.agentAllTime(agentId)
    const be = t.find(uid, entryKey(KIND_BOARD, board))
    out.push({ agent_name: s.agents.nameOf(agentId), xp: be < 0 ? 0 : t.eA[be]!, events: t.eA[e]! })
  }
  return out.sort((a, b) => b.xp - a.xp || (a.agent_name < b.agent_name ? -1 : a.agent_name > b.agent_name ? 1 : 0))
}

/**
 * `nowMs` is the current stream time; the streak is measured on the user's zone's calendar.
 * `rules` (the version in force now) gives the achievements and the streak freezes. The level is
 * part of the scoring (ARCHITECTURE §10, README "Changing rules"): the one the user's last scored
 * message (award or correction, `lastSeq`) gave them, with the title and thresholds of the version
 * that scored it (`rulesAt`, the rules history) — a rules change from head shows on a user's level
 * at their next award or correction, as on the boards' rows and in the ledger.
 */
export const profileOf = (s: EngineState, uid: number, rules: CompiledRules, nowMs: number, rulesAt: (seq: number) => CompiledRules = () => rules): ProfileCore => {
  const t = s.users
  const asOfDay = localDay(t.zone[uid]!, nowMs)
  return {
    user_id: t.userId(uid),
    username: t.username(uid),
    total_xp: t.totalXp[uid]!,
    level: levelInfoAt(rulesAt(t.lastSeq[uid]!).levels, t.level[uid]!, t.totalXp[uid]!),
    streak: {
      current: currentStreakOf(t, uid, asOfDay, rules.freezesPerMonth),
      longest: t.longest[uid]!,
      freezes_left: freezesLeft(t, uid, asOfDay, rules.freezesPerMonth)
    },
    time_zone: zoneName(t.zone[uid]!),
    visibility: (t.privacy[uid]! & PRIVATE) !== 0 ? "private" : "public",
    achievements: rules.achievements.map((a) => {
      const at = unlockSeq(t, s, uid, a.id)
      return {
        id: a.id,
        title: a.title,
        description: a.description,
        bonus: a.bonus,
        progress: progressOf(t, s, uid, a),
        target: a.target,
        unlocked: at >= 0,
        unlocked_seq: at >= 0 ? at : null
      }
    }),
    agent_stats: agentStatsOf(s, uid)
  }
}

/** A user's score on a board: the global all-time one from the columns, others from entries. */
export const boardScoreOf = (s: EngineState, uid: number, boardId: number): { xp: number; seq: number } | undefined => {
  const t = s.users
  if (boardId === GLOBAL_ALL) return t.events[uid]! > 0 ? { xp: t.totalXp[uid]!, seq: t.totalSeq[uid]! } : undefined
  const e = t.find(uid, entryKey(KIND_BOARD, boardId))
  return e < 0 ? undefined : { xp: t.eA[e]!, seq: t.eB[e]! }
}

export interface UserDump {
  readonly userId: string
  readonly username: string
  readonly totalXp: number
  readonly totalSeq: number
  readonly lastSeq: number
  readonly events: number
  readonly level: number
  readonly longestStreak: number
  readonly streakReached: number
  readonly streakRuns: ReadonlyArray<number>
  // Settings and freezes appear only when not the default (UTC, public, none used), so dumps of
  // states from before they existed (test fixtures) stay equal.
  readonly timeZone?: string
  readonly private?: true
  /** [month, used] of the streak freezes. */
  readonly freezes?: readonly [number, number]
  readonly counts: Readonly<Record<string, number>>
  readonly unlocked: Readonly<Record<string, number>>
  readonly agents: Readonly<Record<string, number>>
  /** Open boards only: "board|window|period" → [xp, seq]. */
  readonly boards: Readonly<Record<string, readonly [number, number]>>
  /** Voided awards (corrections, §10): [the event's seq, the void's seq], by event seq. */
  readonly voided: ReadonlyArray<readonly [number, number]>
}

const sorted = <V>(entries: Array<[string, V]>): Record<string, V> =>
  Object.fromEntries(entries.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0)))

/** The whole state of a user, with names instead of ids and keys in a stable order. */
export const dumpUser = (s: EngineState, uid: number): UserDump => {
  const t = s.users
  const counts: Array<[string, number]> = []
  const unlocked: Array<[string, number]> = []
  const agents: Array<[string, number]> = []
  const boards: Array<[string, readonly [number, number]]> = []
  const voided: Array<readonly [number, number]> = []
  for (let e = t.blockStart(uid), end = t.blockEnd(uid); e < end; e++) {
    const key = t.eKey[e]!
    const id = idOfKey(key)
    switch (kindOf(key)) {
      case KIND_ACTION: counts.push([s.actions.nameOf(id), t.eA[e]!]); break
      case KIND_UNLOCK: unlocked.push([s.achievements.nameOf(id), t.eA[e]!]); break
      case KIND_AGENT: agents.push([s.agents.nameOf(id), t.eA[e]!]); break
      case KIND_VOID: voided.push([t.eA[e]!, t.eB[e]!]); break
      case KIND_BOARD: {
        if (!s.boards.isOpen(id)) break
        boards.push([boardKeyString(s.boards.refs[id]!), [t.eA[e]!, t.eB[e]!]])
        break
      }
    }
  }
  return {
    userId: t.userId(uid),
    username: t.username(uid),
    totalXp: t.totalXp[uid]!,
    totalSeq: t.totalSeq[uid]!,
    lastSeq: t.lastSeq[uid]!,
    events: t.events[uid]!,
    level: t.level[uid]!,
    longestStreak: t.longest[uid]!,
    streakReached: t.reached[uid]!,
    streakRuns: runsOf(t, uid),
    ...(t.zone[uid] !== 0 ? { timeZone: zoneName(t.zone[uid]!) } : {}),
    ...((t.privacy[uid]! & PRIVATE) !== 0 ? { private: true as const } : {}),
    ...(t.freezeMonth[uid] !== NO_MONTH ? { freezes: [t.freezeMonth[uid]!, t.freezeUsed[uid]!] as const } : {}),
    counts: sorted(counts),
    unlocked: sorted(unlocked),
    agents: sorted(agents),
    boards: sorted(boards),
    voided: voided.sort((a, b) => a[0] - b[0])
  }
}
