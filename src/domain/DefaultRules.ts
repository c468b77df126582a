// The default rules of ARCHITECTURE §3 as a rules document (the same JSON shape an ARENA_RULES
// file has), and its compiled form. Changing any number here is a new rules version.
import type { RulesDocument } from "./RulesSchema.js"
import type { CompiledRules } from "./Rules.js"
import { loadRulesOrThrow } from "./Rules.js"

export const DEFAULT_RULES_DOCUMENT: RulesDocument = {
  version: "arena-default-2",
  actions: {
    task_completed: { points: 10 },
    error_resolved: { points: 20 },
    speed_bonus: { points: 5 },
    complex_api_design: { points: 25 },
    performance_optimization: { points: 30 },
    security_implementation: { points: 35 },
    realtime_feature: { points: 40 },
    mission_architecture: { points: 75 },
    mission_performance: { points: 100 },
    mission_security: { points: 125 },
    mission_analytics: { points: 150 },
    custom: { points_from_event: { min: 1, max: 500 } }
  },
  multipliers: { first_try: "1.5", pair_session: "1.2", hackathon: "2.0" },
  streak_tiers: [
    { days: 3, multiplier: "1.1" },
    { days: 7, multiplier: "1.25" },
    { days: 30, multiplier: "1.5" }
  ],
  multiplier_cap: "3.0",
  streak: { freezes_per_month: 2 },
  levels: [
    { level: 1, title: "Novice", xp: 0 },
    { level: 2, title: "Apprentice", xp: 100 },
    { level: 3, title: "Adept", xp: 300 },
    { level: 4, title: "Expert", xp: 700 },
    { level: 5, title: "Elite", xp: 1200 },
    { level: 6, title: "Master", xp: 2500 },
    { level: 7, title: "Grandmaster", xp: 5000 },
    { level: 8, title: "Legend", xp: 10000 }
  ],
  achievements: [
    {
      id: "first_steps", title: "First Steps", description: "Earn XP for the first time", bonus: 0,
      condition: { kind: "first_event" }
    },
    {
      id: "api_master", title: "API Master", description: "Complete 10 complex API designs", bonus: 100,
      condition: { kind: "action_count", action: "complex_api_design", count: 10 }
    },
    {
      id: "speed_daemon", title: "Speed Daemon", description: "Earn 25 speed bonuses", bonus: 100,
      condition: { kind: "action_count", action: "speed_bonus", count: 25 }
    },
    {
      id: "security_guardian", title: "Security Guardian", description: "Ship 10 security implementations", bonus: 150,
      condition: { kind: "action_count", action: "security_implementation", count: 10 }
    },
    {
      id: "on_fire", title: "On Fire", description: "Reach a 7-day streak", bonus: 75,
      condition: { kind: "streak", days: 7 }
    },
    {
      id: "unstoppable", title: "Unstoppable", description: "Reach a 30-day streak", bonus: 300,
      condition: { kind: "streak", days: 30 }
    },
    {
      id: "mission_complete", title: "Mission Complete", description: "Complete one mission of each kind", bonus: 200,
      condition: {
        kind: "all_actions",
        actions: ["mission_architecture", "mission_performance", "mission_security", "mission_analytics"]
      }
    },
    {
      id: "scale_engineer", title: "Scale Engineer", description: "Reach 10,000 total XP", bonus: 250,
      condition: { kind: "total_xp", xp: 10000 }
    }
  ],
  future_skew_seconds: 300,
  period_grace_seconds: 600
}

export const DEFAULT_RULES: CompiledRules = loadRulesOrThrow(DEFAULT_RULES_DOCUMENT)
