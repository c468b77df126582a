// Reads a user state written by Arena before the user table (one JSON document per user in
// arena_user_state) into the table, so an upgrade keeps every user: the next snapshot writes
// them as binary chunks. Period scores of periods closed by the checkpoint are not restored.
import type { UserState } from "../Model.js"
import { parsePeriodKey } from "../BoardKeys.js"
import type { EngineState } from "../engine/Engine.js"
import { KIND_ACTION, KIND_AGENT, KIND_BOARD, KIND_RUN, KIND_UNLOCK, entryKey } from "./UserTable.js"

const own = <V>(rec: Readonly<Record<string, V>> | undefined): Array<[string, V]> => (rec === undefined ? [] : Object.entries(rec))

export const loadLegacyUser = (s: EngineState, state: UserState, streamTimeMs: number): void => {
  const t = s.users
  let uid = t.uidOf(state.userId)
  if (uid >= 0) t.clear(uid)
  else uid = t.intern(state.userId)
  if (state.username !== state.userId) t.setUsername(uid, state.username)
  t.totalXp[uid] = state.totalXp
  t.totalSeq[uid] = state.totalSeq
  t.lastSeq[uid] = state.lastSeq
  t.events[uid] = state.events
  t.level[uid] = state.level
  t.longest[uid] = state.longestStreak
  // Written before the streak rule counted through the event's day: what events counted was the run.
  t.reached[uid] = typeof state.streakReached === "number" ? state.streakReached : state.longestStreak
  const runs = state.streakRuns
  for (let i = 0; i + 2 < runs.length; i += 2) t.add(uid, entryKey(KIND_RUN, 0), runs[i]!, runs[i + 1]!)
  if (runs.length >= 2) { t.runStart[uid] = runs[runs.length - 2]!; t.runEnd[uid] = runs[runs.length - 1]! }
  for (const [action, n] of own(state.counts)) t.add(uid, entryKey(KIND_ACTION, s.actions.intern(action)), n, 0)
  for (const [ach, seq] of own(state.unlocked)) {
    const id = s.achievements.intern(ach)
    t.add(uid, entryKey(KIND_UNLOCK, id), seq, 0)
    if (id < 32) t.unlocked[uid] = t.unlocked[uid]! | (1 << id)
  }
  for (const [agent, stat] of own(state.agents)) {
    const agentId = s.agents.intern(agent)
    t.add(uid, entryKey(KIND_AGENT, agentId), stat.events, 0)
    const seq = state.agentSeq?.[agent] ?? state.totalSeq
    t.add(uid, entryKey(KIND_BOARD, s.boards.agentAllTime(agentId)), stat.xp, seq)
  }
  for (const [key, ps] of own(state.periods)) {
    const k = parsePeriodKey(key)
    if (k === null) continue
    const id = s.boards.openIdOf(k.board, k.window, k.period, streamTimeMs)
    if (id >= 0) t.add(uid, entryKey(KIND_BOARD, id), ps.xp, ps.seq)
  }
}
