// `arena produce`: a realistic event producer (demo traffic, load, tests). Publishes to
// <prefix>.events with Nats-Msg-Id = event_id and a bounded window of acks in flight.
import type { JetStreamClient } from "@nats-io/jetstream"

export const AGENTS = [
  "claude-code", "copilot", "cursor", "codeium", "tabnine", "aider", "devin", "cody", "continue", "replit-agent",
  "amazon-q", "gemini-code", "jetbrains-ai", "windsurf", "sweep", "mentat", "gpt-engineer", "smol-dev", "open-devin", "bolt"
] as const

const ACTIONS: ReadonlyArray<[string, number]> = [
  ["task_completed", 40], ["error_resolved", 18], ["speed_bonus", 12], ["complex_api_design", 6], ["performance_optimization", 6],
  ["security_implementation", 5], ["realtime_feature", 4], ["mission_architecture", 2], ["mission_performance", 2],
  ["mission_security", 1.5], ["mission_analytics", 1.5], ["custom", 2]
]
const TOTAL = ACTIONS.reduce((a, [, w]) => a + w, 0)
const FIRST = ["ada", "grace", "linus", "margaret", "ken", "barbara", "dennis", "frances", "alan", "radia", "guido", "anders", "yukihiro", "james", "bjarne", "rob"]

/** A seeded PRNG (mulberry32): the same seed gives the same stream. */
export const prng = (seed: number) => () => {
  seed = (seed + 0x6d2b79f5) | 0
  let t = seed
  t = Math.imul(t ^ (t >>> 15), t | 1)
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296
}

export interface GenOptions {
  readonly users: number
  readonly agents: number
  readonly seed: number
  readonly idPrefix: string
  /** Event timestamps: a function of the event index (defaults to now). */
  readonly timestamp?: (i: number) => string
}

/** The i-th event of a deterministic synthetic stream. */
export const makeGenerator = (o: GenOptions) => {
  const rnd = prng(o.seed)
  return (i: number) => {
    // Skewed user activity: a few users are very active (like real communities).
    const u = Math.floor(o.users * Math.pow(rnd(), 2))
    let r = rnd() * TOTAL
    let action = "task_completed"
    for (const [a, w] of ACTIONS) { if ((r -= w) < 0) { action = a; break } }
    const ev: Record<string, unknown> = {
      event_id: `${o.idPrefix}-${i}`,
      user_id: `user-${u}`,
      username: `${FIRST[u % FIRST.length]}_${u}`,
      agent_name: AGENTS[Math.floor(rnd() * Math.min(o.agents, AGENTS.length))],
      action_type: action,
      timestamp: o.timestamp ? o.timestamp(i) : new Date().toISOString()
    }
    if (action === "custom") ev.base_points = 1 + Math.floor(rnd() * 200)
    const m = rnd()
    if (m < 0.1) ev.multipliers = ["first_try"]
    else if (m < 0.13) ev.multipliers = ["pair_session", "first_try"]
    else if (m < 0.14) ev.multipliers = ["hackathon"]
    return ev
  }
}

/**
 * Publish `count` events (Infinity: until stopped) at `rate` per second (0: as fast as acks allow),
 * to `subject`, or to the subject a function gives each event (partitioned mode: its user's).
 */
export const produce = async (
  js: JetStreamClient,
  subject: string | ((ev: Record<string, unknown>) => string),
  gen: (i: number) => Record<string, unknown>,
  o: { count: number; rate: number; inFlight: number; onProgress?: (sent: number) => void; stop?: () => boolean }
): Promise<number> => {
  const inflight = new Set<Promise<unknown>>()
  const t0 = Date.now()
  let i = 0
  for (; i < o.count && !(o.stop?.() ?? false); i++) {
    const ev = gen(i)
    const p = js.publish(typeof subject === "string" ? subject : subject(ev), JSON.stringify(ev), { msgID: String(ev.event_id), timeout: 30_000 })
    inflight.add(p)
    void p.finally(() => inflight.delete(p)).catch(() => {})
    if (inflight.size >= o.inFlight) await Promise.race(inflight)
    if (o.rate > 0) {
      const due = t0 + ((i + 1) * 1000) / o.rate
      const wait = due - Date.now()
      if (wait > 1) await new Promise((r) => setTimeout(r, wait))
    }
    if (o.onProgress && (i + 1) % 10_000 === 0) o.onProgress(i + 1)
  }
  await Promise.all(inflight)
  return i
}
