// ARCHITECTURE §3 transcribed as plain tables for the oracle: points, multipliers, streak tiers,
// levels and achievements. Written from the document, not from src/domain (which it checks).

/** Base points per action type; `custom` takes the event's base_points (1..500). */
export const POINTS: Readonly<Record<string, number>> = {
  task_completed: 10,
  error_resolved: 20,
  speed_bonus: 5,
  complex_api_design: 25,
  performance_optimization: 30,
  security_implementation: 35,
  realtime_feature: 40,
  mission_architecture: 75,
  mission_performance: 100,
  mission_security: 125,
  mission_analytics: 150
}
export const CUSTOM = "custom"
export const CUSTOM_MIN = 1
export const CUSTOM_MAX = 500
export const ACTIONS: ReadonlyArray<string> = [...Object.keys(POINTS), CUSTOM]

/** A multiplier as an exact fraction num/den. */
export interface Frac { readonly num: bigint; readonly den: bigint }
const frac = (num: number, den: number): Frac => ({ num: BigInt(num), den: BigInt(den) })

export const MULTIPLIERS: Readonly<Record<string, Frac>> = {
  first_try: frac(3, 2),
  pair_session: frac(6, 5),
  hackathon: frac(2, 1)
}

/** Highest tier that applies wins: ≥30 ×1.5, ≥7 ×1.25, ≥3 ×1.1. */
export const STREAK_TIERS: ReadonlyArray<{ readonly days: number; readonly m: Frac }> = [
  { days: 30, m: frac(3, 2) },
  { days: 7, m: frac(5, 4) },
  { days: 3, m: frac(11, 10) }
]
export const CAP: Frac = frac(3, 1)

export const LEVELS: ReadonlyArray<{ readonly level: number; readonly title: string; readonly xp: number }> = [
  { level: 1, title: "Novice", xp: 0 },
  { level: 2, title: "Apprentice", xp: 100 },
  { level: 3, title: "Adept", xp: 300 },
  { level: 4, title: "Expert", xp: 700 },
  { level: 5, title: "Elite", xp: 1200 },
  { level: 6, title: "Master", xp: 2500 },
  { level: 7, title: "Grandmaster", xp: 5000 },
  { level: 8, title: "Legend", xp: 10000 }
]

export const MISSIONS: ReadonlyArray<string> = ["mission_architecture", "mission_performance", "mission_security", "mission_analytics"]

/** The achievement table of §3, in its order; `target` is what progress counts toward. */
export const ACHIEVEMENTS: ReadonlyArray<{ readonly id: string; readonly bonus: number; readonly target: number }> = [
  { id: "first_steps", bonus: 0, target: 1 },
  { id: "api_master", bonus: 100, target: 10 },
  { id: "speed_daemon", bonus: 100, target: 25 },
  { id: "security_guardian", bonus: 150, target: 10 },
  { id: "on_fire", bonus: 75, target: 7 },
  { id: "unstoppable", bonus: 300, target: 30 },
  { id: "mission_complete", bonus: 200, target: 4 },
  { id: "scale_engineer", bonus: 250, target: 10000 }
]

export const FUTURE_SKEW_MS = 5 * 60_000
export const PERIOD_GRACE_MS = 10 * 60_000
export const MAX_EVENT_BYTES = 16 * 1024
export const MAX_METADATA_BYTES = 4 * 1024

/** §11: missed streak days bridged automatically per calendar month (the default rules' streak.freezes_per_month). */
export const FREEZES_PER_MONTH = 2

// ARCHITECTURE §10: rules versions. A version is the oracle's own plain tables (below), written by
// a test beside the rules file it hands the service, never read from that file or from src/domain.
// The defaults are §3's tables above.

/** What an achievement's condition counts (§3's table, as kinds a version may combine). */
export type OracleCondition =
  | { readonly kind: "first_event" }
  | { readonly kind: "action_count"; readonly action: string; readonly count: number }
  | { readonly kind: "streak"; readonly days: number }
  | { readonly kind: "all_actions"; readonly actions: ReadonlyArray<string> }
  | { readonly kind: "total_xp"; readonly xp: number }

export interface OracleAchievement { readonly id: string; readonly bonus: number; readonly condition: OracleCondition }

/** One rules version as plain tables. */
export interface OracleRules {
  readonly version: string
  readonly points: Readonly<Record<string, number>>
  /** `custom`'s base_points range, or null when the version has no custom action. */
  readonly custom: { readonly min: number; readonly max: number } | null
  readonly multipliers: Readonly<Record<string, Frac>>
  /** Highest tier that applies wins (any order). */
  readonly streakTiers: ReadonlyArray<{ readonly days: number; readonly m: Frac }>
  readonly cap: Frac
  readonly levels: ReadonlyArray<{ readonly level: number; readonly title: string; readonly xp: number }>
  /** In the version's order (what profiles list). */
  readonly achievements: ReadonlyArray<OracleAchievement>
  readonly freezesPerMonth: number
  readonly futureSkewMs: number
  readonly periodGraceMs: number
}

/** An achievement's target: what its progress counts toward. */
export const targetOf = (c: OracleCondition): number =>
  c.kind === "first_event" ? 1 : c.kind === "action_count" ? c.count : c.kind === "streak" ? c.days : c.kind === "all_actions" ? c.actions.length : c.xp

/** A decimal string ("1.25") as an exact fraction, for tests that write a rules file and its tables. */
export const fracOf = (text: string): Frac => {
  const [i, f = ""] = text.split(".")
  return { num: BigInt(i! + f), den: 10n ** BigInt(f.length) }
}

const CONDITIONS: Readonly<Record<string, OracleCondition>> = {
  first_steps: { kind: "first_event" },
  api_master: { kind: "action_count", action: "complex_api_design", count: 10 },
  speed_daemon: { kind: "action_count", action: "speed_bonus", count: 25 },
  security_guardian: { kind: "action_count", action: "security_implementation", count: 10 },
  on_fire: { kind: "streak", days: 7 },
  unstoppable: { kind: "streak", days: 30 },
  mission_complete: { kind: "all_actions", actions: MISSIONS },
  scale_engineer: { kind: "total_xp", xp: 10000 }
}

/** §3's defaults as one version (the version string the service's default rules carry). */
export const DEFAULT_TABLES: OracleRules = {
  version: "arena-default-2",
  points: POINTS,
  custom: { min: CUSTOM_MIN, max: CUSTOM_MAX },
  multipliers: MULTIPLIERS,
  streakTiers: STREAK_TIERS,
  cap: CAP,
  levels: LEVELS,
  achievements: ACHIEVEMENTS.map((a) => ({ id: a.id, bonus: a.bonus, condition: CONDITIONS[a.id]! })),
  freezesPerMonth: FREEZES_PER_MONTH,
  futureSkewMs: FUTURE_SKEW_MS,
  periodGraceMs: PERIOD_GRACE_MS
}

/** A version in force from a stream seq on (until the next one's). */
export interface OracleVersion { readonly fromSeq: number; readonly rules: OracleRules }
