// Rules versions for the proofs of ARCHITECTURE §10 (replay and soak across rules changes): each
// change is written twice, by hand — once as the rules file the service is given (its JSON
// document, the shape of an ARENA_RULES file) and once as the oracle's own plain tables — so the
// oracle never reads what the service parses. None changes what an event may carry (actions,
// points, multiplier names, custom range, skew): the stream's verdicts stay those of §3.
import { DEFAULT_RULES_DOCUMENT } from "../../src/domain/DefaultRules.js"
import type { RulesDocument } from "../../src/domain/RulesSchema.js"
import { DEFAULT_TABLES, fracOf } from "./rules.js"
import type { OracleRules } from "./rules.js"

export interface VersionPair {
  /** The rules file's content, for the service. */
  readonly document: RulesDocument
  /** The same rules, for the oracle. */
  readonly tables: OracleRules
}

const base = DEFAULT_RULES_DOCUMENT
const baseAchievements = base.achievements

/**
 * v2 (applied from head, mid-stream): pair_session ×1.3, the 3-day streak tier ×1.15, on_fire's
 * bonus 90, a new achievement: 12 task_completed for 40, and lower thresholds: Adept from 280,
 * Elite (as "Champion") from 1100 — a level is part of the scoring, so each user's level moves to
 * v2's table at their next award or correction (README "Changing rules").
 */
export const versionTwo = (version: string): VersionPair => ({
  document: {
    ...base,
    version,
    multipliers: { ...base.multipliers, pair_session: "1.3" },
    streak_tiers: base.streak_tiers.map((t) => (t.days === 3 ? { days: 3, multiplier: "1.15" } : t)),
    levels: base.levels.map((l) => (l.level === 3 ? { ...l, xp: 280 } : l.level === 5 ? { ...l, title: "Champion", xp: 1100 } : l)),
    achievements: [
      ...baseAchievements.map((a) => (a.id === "on_fire" ? { ...a, bonus: 90 } : a)),
      { id: "task_master", title: "Task Master", description: "Complete 12 tasks", bonus: 40, condition: { kind: "action_count", action: "task_completed", count: 12 } }
    ]
  },
  tables: {
    ...DEFAULT_TABLES,
    version,
    multipliers: { ...DEFAULT_TABLES.multipliers, pair_session: fracOf("1.3") },
    streakTiers: [{ days: 30, m: fracOf("1.5") }, { days: 7, m: fracOf("1.25") }, { days: 3, m: fracOf("1.15") }],
    levels: DEFAULT_TABLES.levels.map((l) => (l.level === 3 ? { ...l, xp: 280 } : l.level === 5 ? { ...l, title: "Champion", xp: 1100 } : l)),
    achievements: [
      ...DEFAULT_TABLES.achievements.map((a) => (a.id === "on_fire" ? { ...a, bonus: 90 } : a)),
      { id: "task_master", bonus: 40, condition: { kind: "action_count", action: "task_completed", count: 12 } }
    ]
  }
})

/**
 * v3 (applied retroactively): first_try ×1.6, the cap ×2.5, Adept from 250 XP and Expert from
 * 650, api_master after 8 designs for 120, speed_daemon gone, and a new total-XP achievement
 * (1,000 XP for 50) listed before scale_engineer.
 */
export const versionThree = (version: string): VersionPair => ({
  document: {
    ...base,
    version,
    multipliers: { ...base.multipliers, first_try: "1.6" },
    multiplier_cap: "2.5",
    levels: base.levels.map((l) => (l.level === 3 ? { ...l, xp: 250 } : l.level === 4 ? { ...l, xp: 650 } : l)),
    achievements: baseAchievements.filter((a) => a.id !== "speed_daemon").flatMap((a) =>
      a.id === "api_master" ? [{ ...a, bonus: 120, condition: { kind: "action_count" as const, action: "complex_api_design", count: 8 } }]
      : a.id === "scale_engineer" ? [{ id: "kilo_xp", title: "Kilo XP", description: "Reach 1,000 total XP", bonus: 50, condition: { kind: "total_xp" as const, xp: 1000 } }, a]
      : [a])
  },
  tables: {
    ...DEFAULT_TABLES,
    version,
    multipliers: { ...DEFAULT_TABLES.multipliers, first_try: fracOf("1.6") },
    cap: fracOf("2.5"),
    levels: DEFAULT_TABLES.levels.map((l) => (l.level === 3 ? { ...l, xp: 250 } : l.level === 4 ? { ...l, xp: 650 } : l)),
    achievements: DEFAULT_TABLES.achievements.filter((a) => a.id !== "speed_daemon").flatMap((a) =>
      a.id === "api_master" ? [{ ...a, bonus: 120, condition: { kind: "action_count" as const, action: "complex_api_design", count: 8 } }]
      : a.id === "scale_engineer" ? [{ id: "kilo_xp", bonus: 50, condition: { kind: "total_xp" as const, xp: 1000 } }, a]
      : [a])
  }
})
