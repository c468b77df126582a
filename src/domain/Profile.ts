// The read model for GET /v1/users/{id}: level info, streak as of a stream day, achievement
// progress and agent stats. Structurally UserProfile (ports/ReadModel.ts) minus `ranks`, which
// the caller adds from the boards; defined here so the domain does not import the gateway.
// engine/UserViews.ts builds it from the user table (profileOf).
import type { LevelInfo } from "./Levels.js"

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
  /** freezes_left: streak freezes left in the current month of the user's zone (rules streak.freezes_per_month). */
  readonly streak: { readonly current: number; readonly longest: number; readonly freezes_left: number }
  /** The user's settings (ARCHITECTURE §11): IANA zone of their streak days, and visibility. */
  readonly time_zone: string
  readonly visibility: "public" | "private"
  readonly achievements: ReadonlyArray<AchievementProgress>
  /** Highest XP first; ties by agent name. */
  readonly agent_stats: ReadonlyArray<{ readonly agent_name: string; readonly xp: number; readonly events: number }>
}
