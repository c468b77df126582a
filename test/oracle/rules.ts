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
