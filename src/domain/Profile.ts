// Pure read model for GET /v1/users/{id}: level info, streak as of a stream day, achievement
// progress and agent stats. Structurally UserProfile (ports/ReadModel.ts) minus `ranks`, which
// the caller adds from the boards; defined here so the domain does not import the gateway.
import type { UserState } from "./Model.js"
import type { CompiledRules } from "./Rules.js"
import type { LevelInfo } from "./Levels.js"
import { levelInfo } from "./Levels.js"
import { currentStreak } from "./Streak.js"
import { progressOf } from "./Achievements.js"

export interface AchievementProgress {
  readonly id: string
  readonly title: string
  readonly description: string
  readonly bonus: number
  readonly progress: number
  readonly target: number
  readonly unlocked: boolean
  readonly unlocked_seq: number | null
}

export interface ProfileCore {
  readonly user_id: string
  readonly username: string
  readonly total_xp: number
  readonly level: LevelInfo
  readonly streak: { readonly current: number; readonly longest: number }
  readonly achievements: ReadonlyArray<AchievementProgress>
  /** Highest XP first; ties by agent name. */
  readonly agent_stats: ReadonlyArray<{ readonly agent_name: string; readonly xp: number; readonly events: number }>
}

/** `asOfDay` is the UTC day number of the current stream time (Periods.utcDay). */
export const profileOf = (state: UserState, rules: CompiledRules, asOfDay: number): ProfileCore => ({
  user_id: state.userId,
  username: state.username,
  total_xp: state.totalXp,
  level: levelInfo(rules.levels, state.totalXp),
  streak: { current: currentStreak(state, asOfDay), longest: state.longestStreak },
  achievements: rules.achievements.map((a) => {
    const unlocked = Object.hasOwn(state.unlocked, a.id)
    return {
      id: a.id,
      title: a.title,
      description: a.description,
      bonus: a.bonus,
      progress: progressOf(a, state),
      target: a.target,
      unlocked,
      unlocked_seq: unlocked ? state.unlocked[a.id]! : null
    }
  }),
  agent_stats: Object.entries(state.agents)
    .map(([agent_name, s]) => ({ agent_name, xp: s.xp, events: s.events }))
    .sort((a, b) => b.xp - a.xp || (a.agent_name < b.agent_name ? -1 : a.agent_name > b.agent_name ? 1 : 0))
})
