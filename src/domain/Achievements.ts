// Achievements (ARCHITECTURE §3): which ones an accepted event unlocks (each once, bonus XP
// unmultiplied, in rules.evaluationOrder) and progress toward each for profiles.
import type { BonusApplied, UserState } from "./Model.js"
import type { AchievementDef, CompiledRules } from "./Rules.js"

/** A count from a state record; own keys only (names like `constructor` are valid actions). */
export const countOf = (rec: Readonly<Record<string, number>>, key: string): number =>
  Object.hasOwn(rec, key) ? rec[key]! : 0

export interface Unlocks {
  readonly ids: ReadonlyArray<string>
  readonly bonuses: ReadonlyArray<BonusApplied>
  readonly bonusXp: number
}

const NONE: Unlocks = { ids: [], bonuses: [], bonusXp: 0 }

/** Whether a non-XP condition holds after the event (counts already include it). */
const holds = (a: AchievementDef, state: UserState, streakDays: number): boolean => {
  const c = a.condition
  switch (c.kind) {
    case "first_event": return true // any accepted event; unlock-once makes it the first
    case "action_count": return countOf(state.counts, c.action) >= c.count
    case "streak": return streakDays >= c.days
    case "all_actions": return c.actions.every((x) => countOf(state.counts, x) > 0)
    case "total_xp": return false // decided in order against the running total
  }
}

/**
 * Unlocks what this event earns and records it in `state.unlocked` (seq). `streakDays` is the
 * streak through the event's day; `totalBeforeBonuses` is the user's total XP with this
 * event's xp but without its bonuses. Returns the shared NONE object when nothing unlocks.
 */
export const unlockAchievements = (
  state: UserState,
  rules: CompiledRules,
  streakDays: number,
  totalBeforeBonuses: number,
  seq: number
): Unlocks => {
  let ids: Array<string> | null = null
  let bonuses: Array<BonusApplied> | null = null
  let bonusXp = 0
  const order = rules.evaluationOrder
  for (let i = 0; i < order.length; i++) {
    const a = order[i]!
    if (Object.hasOwn(state.unlocked, a.id)) continue
    const c = a.condition
    const ok = c.kind === "total_xp" ? totalBeforeBonuses + bonusXp >= c.xp : holds(a, state, streakDays)
    if (!ok) continue
    state.unlocked[a.id] = seq
    ;(ids ??= []).push(a.id)
    ;(bonuses ??= []).push({ achievement: a.id, xp: a.bonus })
    bonusXp += a.bonus
  }
  return ids === null || bonuses === null ? NONE : { ids, bonuses, bonusXp }
}

/** Progress toward an achievement (capped at its target; the target once unlocked). */
export const progressOf = (a: AchievementDef, state: UserState): number => {
  if (Object.hasOwn(state.unlocked, a.id)) return a.target
  const c = a.condition
  let p: number
  switch (c.kind) {
    case "first_event": p = state.events; break
    case "action_count": p = countOf(state.counts, c.action); break
    case "streak": p = state.streakReached; break // what unlocks it: an event's streak, not a run filled in later
    case "all_actions": p = c.actions.filter((x) => countOf(state.counts, x) > 0).length; break
    case "total_xp": p = state.totalXp; break
  }
  return Math.min(p, a.target)
}
