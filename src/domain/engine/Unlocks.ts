// Achievements over the user table (ARCHITECTURE §3): which ones an accepted event unlocks (each
// once, bonus XP unmultiplied, in rules.evaluationOrder) and each one's progress for profiles.
import type { BonusApplied } from "../Model.js"
import type { AchievementDef, CompiledRules } from "../Rules.js"
import { KIND_ACTION, KIND_UNLOCK, entryKey } from "../state/UserTable.js"
import type { UserTable } from "../state/UserTable.js"
import type { NameTable } from "../state/NameTable.js"

export interface Unlocks {
  readonly ids: ReadonlyArray<string>
  readonly bonuses: ReadonlyArray<BonusApplied>
  readonly bonusXp: number
}

const NONE: Unlocks = { ids: [], bonuses: [], bonusXp: 0 }

/** Name ids of rules.evaluationOrder, interned once per (name table, rules object). */
const orderIds = new WeakMap<NameTable, WeakMap<CompiledRules, Int32Array>>()
const evaluationIds = (names: UnlockNames, rules: CompiledRules): Int32Array => {
  let byRules = orderIds.get(names.achievements)
  if (byRules === undefined) { byRules = new WeakMap(); orderIds.set(names.achievements, byRules) }
  let ids = byRules.get(rules)
  if (ids === undefined) {
    ids = Int32Array.from(rules.evaluationOrder, (a) => names.achievements.intern(a.id))
    byRules.set(rules, ids)
  }
  return ids
}

export interface UnlockNames {
  readonly actions: NameTable
  readonly achievements: NameTable
}

/** Accepted events of an action (0 when the action was never seen). */
export const actionCount = (t: UserTable, names: UnlockNames, uid: number, action: string): number => {
  const id = names.actions.idOf(action)
  if (id < 0) return 0
  const e = t.find(uid, entryKey(KIND_ACTION, id))
  return e < 0 ? 0 : t.eA[e]!
}

/** The seq that unlocked an achievement, or -1. */
export const unlockSeq = (t: UserTable, names: UnlockNames, uid: number, achievement: string): number => {
  const id = names.achievements.idOf(achievement)
  if (id < 0) return -1
  if (id < 32 && (t.unlocked[uid]! & (1 << id)) === 0) return -1
  const e = t.find(uid, entryKey(KIND_UNLOCK, id))
  return e < 0 ? -1 : t.eA[e]!
}

const isUnlocked = (t: UserTable, uid: number, achId: number): boolean =>
  achId < 32 ? (t.unlocked[uid]! & (1 << achId)) !== 0 : t.find(uid, entryKey(KIND_UNLOCK, achId)) >= 0

/** Whether a non-XP condition holds after the event (counts already include it). */
const holds = (t: UserTable, names: UnlockNames, uid: number, a: AchievementDef, streakDays: number): boolean => {
  const c = a.condition
  switch (c.kind) {
    case "first_event": return true // any accepted event; unlock-once makes it the first
    case "action_count": return actionCount(t, names, uid, c.action) >= c.count
    case "streak": return streakDays >= c.days
    case "all_actions": {
      for (const x of c.actions) if (actionCount(t, names, uid, x) <= 0) return false
      return true
    }
    case "total_xp": return false // decided in order against the running total
  }
}

/**
 * Unlocks what this event earns and records each unlock (seq). `streakDays` is the streak
 * through the event's day; `totalBeforeBonuses` the user's total XP with this event's xp but
 * without its bonuses. Returns the shared NONE object when nothing unlocks.
 */
export const unlockAchievements = (
  t: UserTable, names: UnlockNames, uid: number, rules: CompiledRules, streakDays: number, totalBeforeBonuses: number, seq: number
): Unlocks => {
  let ids: Array<string> | null = null
  let bonuses: Array<BonusApplied> | null = null
  let bonusXp = 0
  const order = rules.evaluationOrder
  const achIds = evaluationIds(names, rules)
  for (let i = 0; i < order.length; i++) {
    const a = order[i]!
    const achId = achIds[i]!
    if (isUnlocked(t, uid, achId)) continue
    const c = a.condition
    const ok = c.kind === "total_xp" ? totalBeforeBonuses + bonusXp >= c.xp : holds(t, names, uid, a, streakDays)
    if (!ok) continue
    if (achId < 32) t.unlocked[uid] = t.unlocked[uid]! | (1 << achId)
    t.add(uid, entryKey(KIND_UNLOCK, achId), seq, 0)
    ;(ids ??= []).push(a.id)
    ;(bonuses ??= []).push({ achievement: a.id, xp: a.bonus })
    bonusXp += a.bonus
  }
  return ids === null || bonuses === null ? NONE : { ids, bonuses, bonusXp }
}

/** Progress toward an achievement (capped at its target; the target once unlocked). */
export const progressOf = (t: UserTable, names: UnlockNames, uid: number, a: AchievementDef): number => {
  if (unlockSeq(t, names, uid, a.id) >= 0) return a.target
  const c = a.condition
  let p: number
  switch (c.kind) {
    case "first_event": p = t.events[uid]!; break
    case "action_count": p = actionCount(t, names, uid, c.action); break
    case "streak": p = t.reached[uid]!; break // what unlocks it: an event's streak, not a run filled in later
    case "all_actions": p = c.actions.filter((x) => actionCount(t, names, uid, x) > 0).length; break
    case "total_xp": p = t.totalXp[uid]!; break
  }
  return Math.min(p, a.target)
}
