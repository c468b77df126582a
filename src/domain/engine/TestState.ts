// Test support: a fresh engine state and a seeded stream of valid events (several users, agents,
// actions, multipliers and days, some late), for the engine, codec and processor tests.
import type { XpEvent } from "../Model.js"
import { newEngineState as make } from "./EngineState.js"
import type { EngineState } from "./EngineState.js"

/** A fresh state with the default rules' 10-minute period grace. */
export const newEngineState = (graceMs = 600_000): EngineState => make(graceMs)

export const seeded = (seed: number): (() => number) => {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

export interface Step { readonly ev: XpEvent; readonly timeMs: number; readonly seq: number; readonly streamTimeMs: number }

const ACTIONS = ["task_completed", "complex_api_design", "speed_bonus", "mission_architecture", "mission_performance", "mission_security", "mission_analytics", "security_implementation"]
const DAY = 86_400_000

/** `n` events over `users` users and ~`days` days in stream order, ~10% of them late by up to 3 days. */
export const eventStream = (n: number, o: { seed: number; users: number; days: number; t0?: number }): Array<Step> => {
  const rnd = seeded(o.seed)
  const t0 = o.t0 ?? Date.UTC(2026, 10, 1)
  const out: Array<Step> = []
  for (let i = 1; i <= n; i++) {
    const stream = t0 + Math.floor((i / n) * o.days * DAY)
    const late = rnd() < 0.1 ? Math.floor(rnd() * 3 * DAY) : 0
    const timeMs = stream - late - Math.floor(rnd() * 60_000)
    const ev: XpEvent = {
      event_id: `e${i}`,
      user_id: `u${Math.floor(rnd() * o.users)}`,
      username: rnd() < 0.05 ? `Name ${Math.floor(rnd() * 5)} é` : undefined,
      agent_name: ["claude-code", "cursor", "aider"][Math.floor(rnd() * 3)]!,
      action_type: ACTIONS[Math.floor(rnd() * ACTIONS.length)]!,
      multipliers: rnd() < 0.3 ? ["first_try"] : undefined,
      timestamp: new Date(timeMs).toISOString()
    }
    out.push({ ev, timeMs, seq: i, streamTimeMs: stream })
  }
  return out
}
