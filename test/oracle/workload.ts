// A seeded soak workload: valid events over every action and multiplier combination, streaks
// across ~45 UTC days in random (out-of-order) time order, display-name changes, duplicates
// (same Nats-Msg-Id, even with other content) and one-defect-each bad events. Publish order only:
// what counts is what JetStream stored, which the oracle reads back.

export interface Item {
  readonly data: string | Uint8Array
  /** Nats-Msg-Id header; undefined sends none. */
  readonly msgId: string | undefined
  readonly kind: "valid" | "duplicate" | "bad"
}

/** mulberry32: small, seeded, good enough to spread a workload. */
export const prng = (seed: number): (() => number) => {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

const WEIGHTED_ACTIONS: ReadonlyArray<readonly [string, number]> = [
  ["task_completed", 20], ["error_resolved", 12], ["speed_bonus", 14], ["complex_api_design", 9], ["performance_optimization", 6],
  ["security_implementation", 9], ["realtime_feature", 5], ["mission_architecture", 2], ["mission_performance", 2],
  ["mission_security", 2], ["mission_analytics", 2], ["custom", 5]
]
const POINTS: Readonly<Record<string, number>> = {
  task_completed: 10, error_resolved: 20, speed_bonus: 5, complex_api_design: 25, performance_optimization: 30,
  security_implementation: 35, realtime_feature: 40, mission_architecture: 75, mission_performance: 100, mission_security: 125, mission_analytics: 150
}
export const AGENTS: ReadonlyArray<string> = ["claude-code", "cursor", "copilot", "aider", "codex", "gemini-cli"]
const MULTS = ["first_try", "pair_session", "hackathon"]
const DAY = 86_400_000

export interface WorkloadOptions {
  readonly events: number
  readonly users: number
  readonly seed: number
  /** Unique per run: prefixes event ids. */
  readonly runId: string
  /** "Now" when generating (timestamps are placed relative to it). */
  readonly nowMs: number
  readonly spanDays?: number
}

/** User ids, including valid ones with characters that need care in paths (`@`, `:`, `.`). */
export const userId = (i: number): string =>
  i === 1 ? "ada@example.com" : i === 2 ? "team:blue.lead" : i === 3 ? "x--y_z" : `u${String(i).padStart(5, "0")}`

export const makeWorkload = (o: WorkloadOptions): Array<Item> => {
  const rnd = prng(o.seed)
  const span = o.spanDays ?? 45
  const pick = <T>(xs: ReadonlyArray<T>): T => xs[Math.floor(rnd() * xs.length)]!
  const totalWeight = WEIGHTED_ACTIONS.reduce((s, [, w]) => s + w, 0)
  const action = (): string => {
    let r = rnd() * totalWeight
    for (const [a, w] of WEIGHTED_ACTIONS) if ((r -= w) < 0) return a
    return "task_completed"
  }
  const startOfToday = Math.floor(o.nowMs / DAY) * DAY
  const timestamp = (): string => {
    const r = rnd()
    let t: number
    if (r < 0.2) t = startOfToday + Math.floor(rnd() * (o.nowMs - startOfToday)) // today
    else if (r < 0.22) t = o.nowMs + Math.floor(rnd() * 4 * 60_000) // a little ahead: within the skew
    else t = o.nowMs - Math.floor(rnd() * span * DAY) // any of the last `span` days, in random order
    return new Date(t).toISOString()
  }
  const items: Array<Item> = []
  const valid: Array<Item> = []
  const event = (i: number): Record<string, unknown> => {
    const u = Math.floor(o.users * rnd() ** 2.2) // skewed: a few heavy users reach every achievement
    const a = action()
    const e: Record<string, unknown> = { event_id: `${o.runId}-${i}`, user_id: userId(u), agent_name: AGENTS[Math.floor(AGENTS.length * rnd() ** 1.5)]!, action_type: a, timestamp: timestamp() }
    const nr = rnd()
    if (nr < 0.2) e["username"] = `User ${u}${rnd() < 0.3 ? ` v${Math.floor(rnd() * 3)}` : ""}`
    else if (nr < 0.3) e["username"] = ""
    if (a === "custom") e["base_points"] = rnd() < 0.1 ? 500 : 1 + Math.floor(rnd() * 500)
    else if (rnd() < 0.1) e["base_points"] = POINTS[a]
    if (rnd() < 0.6) {
      const ms = MULTS.filter(() => rnd() < 0.45)
      if (ms.length > 0) e["multipliers"] = ms.sort(() => rnd() - 0.5)
    }
    if (rnd() < 0.1) e["metadata"] = { session: `s-${i}`, files: Math.floor(rnd() * 10), note: "ok'; DROP TABLE users; --" }
    return e
  }
  for (let i = 0; items.length < o.events; i++) {
    const r = rnd()
    if (r < 0.02 && valid.length > 0) {
      const earlier = pick(valid) // the same Nats-Msg-Id again: JetStream stores it once
      items.push(rnd() < 0.7 ? { ...earlier, kind: "duplicate" } : { data: JSON.stringify({ ...JSON.parse(String(earlier.data)), base_points: 500, action_type: "custom" }), msgId: earlier.msgId, kind: "duplicate" })
    } else if (r < 0.05) {
      items.push(badEvent(event(i), pick))
    } else {
      const e = event(i)
      const it: Item = { data: JSON.stringify(e), msgId: String(e["event_id"]), kind: "valid" }
      items.push(it)
      valid.push(it)
    }
  }
  return items
}

/** One defect per bad event; each maps to one DLQ reason. */
const badEvent = (e: Record<string, unknown>, pick: <T>(xs: ReadonlyArray<T>) => T): Item => {
  const id = String(e["event_id"])
  const mk = (x: Record<string, unknown>, msgId: string | undefined = id): Item => ({ data: JSON.stringify(x), msgId, kind: "bad" })
  const kinds: ReadonlyArray<() => Item> = [
    () => ({ data: JSON.stringify(e).slice(0, 40), msgId: id, kind: "bad" }), // malformed_json
    () => ({ data: new Uint8Array([0x7b, 0x22, 0xff, 0xfe, 0x22, 0x7d]), msgId: id, kind: "bad" }), // not UTF-8
    () => mk({ ...e, user_id: "bad user" }), // invalid_event
    () => mk({ ...e, timestamp: "2026-02-30T10:00:00Z" }),
    () => mk({ ...e, owner: "mallory" }),
    () => mk({ ...e, metadata: { blob: "x".repeat(5000) } }),
    () => mk({ ...e, action_type: "teleport", base_points: undefined }), // unknown_action
    () => mk({ ...e, action_type: "task_completed", base_points: 11 }), // invalid_base_points
    () => mk({ ...e, action_type: "custom", base_points: 501 }),
    () => mk({ ...e, multipliers: ["first_try", "x100"] }), // invalid_multiplier
    () => mk({ ...e, multipliers: ["hackathon", "hackathon"] }),
    () => mk({ ...e, timestamp: new Date(Date.now() + 3_600_000).toISOString() }), // future_timestamp
    () => mk({ ...e, metadata: { blob: "y".repeat(17_000) } }), // oversized
    () => mk(e, `${id}-other`), // msg_id_mismatch
    () => mk(e, undefined)
  ]
  return pick(kinds)()
}
