// Test data for the analytics tests: a seeded stream of plausible pipeline records (awards with
// their level-ups and achievements, rejections, seqs that produce nothing) spread over ~40 days
// so it crosses a month boundary, plus helpers that start a sink on a fresh embedded engine.
// Expected values in the tests are computed from these records, never with project code.
import { Effect, Exit, Scope } from "effect"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { makeAnalyticsActor } from "../../src/actors/AnalyticsActor.js"
import type { AnalyticsOptions, AnalyticsService } from "../../src/actors/AnalyticsActor.js"
import type { AnalyticsRecord } from "../../src/ports/Analytics.js"
import { makeClickHouseAnalyticsStore } from "../../src/adapters/clickhouse/ClickHouseAnalyticsStore.js"
import { openClickHouse } from "../../src/adapters/clickhouse/ClickHouseClient.js"
import type { ClickHouseHandle, FaultHook } from "../../src/adapters/clickhouse/ClickHouseClient.js"
import type { LedgerEntry } from "../../src/domain/Model.js"

export const mulberry32 = (seed: number) => () => {
  seed |= 0
  seed = (seed + 0x6d2b79f5) | 0
  let t = Math.imul(seed ^ (seed >>> 15), 1 | seed)
  t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296
}

const AGENTS = ["claude", "copilot", "cursor", "devin", "aider"]
const ACTIONS: Array<[string, number]> = [["task_completed", 10], ["error_resolved", 20], ["speed_bonus", 5], ["complex_api_design", 25], ["realtime_feature", 40], ["mission_security", 125]]
const MULTS: Array<[string, string, number]> = [["first_try", "1.5", 1.5], ["pair_session", "1.2", 1.2], ["hackathon", "2", 2]]
const LEVELS = [0, 100, 300, 700, 1200, 2500, 5000, 10000]
const REASONS = ["invalid_event", "unknown_action", "future_timestamp", "malformed_json"]
export const START_MS = Date.UTC(2026, 0, 10, 0, 0, 0) // 2026-01-10, so the stream crosses into February
export const DAY_MS = 86_400_000

const levelOf = (xp: number) => {
  let l = 1
  for (let i = 0; i < LEVELS.length; i++) if (xp >= LEVELS[i]!) l = i + 1
  return l
}

export interface Generated {
  /** Per seq (1..n): the records it produced (possibly none). */
  readonly bySeq: ReadonlyArray<ReadonlyArray<AnalyticsRecord>>
  readonly all: ReadonlyArray<AnalyticsRecord>
  readonly lastSeq: number
}

/** `n` seqs from `users` users over `spanDays` days: ~85% awards, ~10% rejections, ~5% nothing (duplicates). */
export const generate = (n: number, users = 150, seed = 7, spanDays = 40, startMs = START_MS): Generated => {
  const rnd = mulberry32(seed)
  const stepMs = Math.floor((spanDays * DAY_MS) / n)
  const st = new Map<string, { xp: number; days: Set<number>; level: number; count: number; onFire: boolean }>()
  const bySeq: AnalyticsRecord[][] = [[]]
  for (let seq = 1; seq <= n; seq++) {
    const streamMs = startMs + seq * stepMs
    const streamIso = new Date(streamMs).toISOString()
    const out: AnalyticsRecord[] = []
    const roll = rnd()
    if (roll < 0.05) {
      // a duplicate: no record, but throughSeq still covers it
    } else if (roll < 0.15) {
      const withId = rnd() < 0.7
      out.push({ kind: "rejection", seq, reason: REASONS[Math.floor(rnd() * REASONS.length)]!, message: `bad event #${seq}: "quoted", \\ and ünïcode`, event_id: withId ? `ev-${seq}` : null, stream_time: streamIso })
    } else {
      // Users join over the first 80% of the stream, so there are first-day cohorts throughout.
      const pool = Math.max(5, Math.min(users, Math.ceil((users * seq) / (n * 0.8))))
      const user = `u${Math.floor(rnd() * pool)}`
      const s = st.get(user) ?? { xp: 0, days: new Set<number>(), level: 1, count: 0, onFire: false }
      st.set(user, s)
      const eventMs = streamMs - Math.floor(rnd() * 60_000)
      const day = Math.floor(eventMs / DAY_MS)
      s.days.add(day)
      let streak = 0
      while (s.days.has(day - streak)) streak++
      const [action, base] = ACTIONS[Math.floor(rnd() * ACTIONS.length)]!
      const mults = MULTS.filter(() => rnd() < 0.2)
      const streakMult = streak >= 30 ? 1.5 : streak >= 7 ? 1.25 : streak >= 3 ? 1.1 : 1
      const total = mults.reduce((a, m) => a * m[2], streakMult)
      const applied = Math.min(total, 3)
      const xp = Math.floor(base * applied)
      const bonuses: Array<{ achievement: string; xp: number }> = []
      if (s.count === 0) bonuses.push({ achievement: "first_steps", xp: 0 })
      if (streak === 7 && !s.onFire) { bonuses.push({ achievement: "on_fire", xp: 75 }); s.onFire = true }
      if (s.count === 20) bonuses.push({ achievement: "api_master", xp: 100 })
      s.count++
      const awarded = xp + bonuses.reduce((a, b) => a + b.xp, 0)
      const levelBefore = s.level
      s.xp += awarded
      s.level = levelOf(s.xp)
      const entry: LedgerEntry = {
        event_id: `ev-${seq}`, seq, user_id: user, agent_name: AGENTS[Math.floor(rnd() * AGENTS.length)]!, action_type: action, base_points: base,
        multipliers: mults.map((m) => ({ name: m[0], factor: m[1] })), streak_days: streak, streak_multiplier: String(streakMult),
        total_multiplier: String(Math.round(total * 10000) / 10000), applied_multiplier: String(Math.round(applied * 10000) / 10000),
        xp, bonuses, total_awarded: awarded, total_xp_after: s.xp, level_before: levelBefore, level_after: s.level,
        rules_version: "2026-11-01", event_time: new Date(eventMs).toISOString(), stream_time: streamIso
      }
      // Event metadata (no random draw, so the rest of the stream is what it was): a third have none.
      const metadata = seq % 3 === 0 ? undefined : JSON.stringify({ model: seq % 3 === 1 ? "opus" : "haiku", tokens: seq % 1000 })
      out.push({ kind: "award", entry, metadata })
      if (s.level !== levelBefore) out.push({ kind: "level_up", seq, user_id: user, from: levelBefore, to: s.level, stream_time: streamIso })
      for (const b of bonuses) out.push({ kind: "achievement", seq, user_id: user, achievement: b.achievement, bonus: b.xp, stream_time: streamIso })
    }
    bySeq.push(out)
  }
  return { bySeq, all: bySeq.flat(), lastSeq: n }
}

export const freshDir = (label: string): string => fs.mkdtempSync(path.join(os.tmpdir(), `arena-ch-${label}-`))

export interface SinkEnv {
  readonly handle: ClickHouseHandle
  readonly sink: AnalyticsService
  readonly run: <A>(e: Effect.Effect<A>) => Promise<A>
  /** Stops the sink (flushing what it can) and the engine. */
  readonly close: () => Promise<void>
}

export const startSink = async (dir: string, opts: { fault?: FaultHook; options?: Partial<AnalyticsOptions>; log?: (m: string) => void } = {}): Promise<SinkEnv> => {
  const handle = openClickHouse({ kind: "embedded", path: dir, database: "arena" }, opts.fault !== undefined ? { fault: opts.fault } : {})
  const scope = Effect.runSync(Scope.make())
  const store = makeClickHouseAnalyticsStore(handle, opts.log)
  const sink = await Effect.runPromise(makeAnalyticsActor(store, opts.options ?? {}).pipe(Scope.provide(scope)))
  return {
    handle,
    sink,
    run: (e) => Effect.runPromise(e),
    close: async () => {
      await Effect.runPromise(Scope.close(scope, Exit.void))
      await handle.close()
    }
  }
}

/** Submits seqs [from, to] in chunks of `chunk` seqs, each with its throughSeq (as the sequencer does). */
export const submitRange = async (env: SinkEnv, g: Generated, from: number, to: number, chunk = 500): Promise<void> => {
  for (let s = from; s <= to; s += chunk) {
    const end = Math.min(to, s + chunk - 1)
    const recs: AnalyticsRecord[] = []
    for (let q = s; q <= end; q++) for (const r of g.bySeq[q]!) recs.push(r)
    await env.run(env.sink.submit(recs, end))
  }
}

/** Polls `check` until it returns true (the engine answers asynchronously); fails after `tries`. */
export const eventually = async (what: string, check: () => Promise<boolean> | boolean, tries = 600): Promise<void> => {
  for (let i = 0; i < tries; i++) {
    if (await check()) return
    await new Promise((r) => setTimeout(r, 50))
  }
  throw new Error(`timed out waiting for ${what}`)
}

export const scalar = async (h: ClickHouseHandle, query: string): Promise<number> => {
  const rs = await h.client.query({ query, format: "JSONEachRow" })
  const [row] = await rs.json<Record<string, number | string>>()
  return Number(Object.values(row ?? {})[0])
}

/** Table counts and sums, and the rollups' totals: what "exactly once" must keep equal. */
export const fingerprint = async (h: ClickHouseHandle): Promise<Record<string, number>> => ({
  awards: await scalar(h, "SELECT count() FROM awards"),
  awardsXp: await scalar(h, "SELECT sum(total_awarded) FROM awards"),
  levelUps: await scalar(h, "SELECT count() FROM level_ups"),
  achievements: await scalar(h, "SELECT count() FROM achievements"),
  rejections: await scalar(h, "SELECT count() FROM rejections"),
  agentDailyEvents: await scalar(h, "SELECT sum(events) FROM agent_daily"),
  agentDailyXp: await scalar(h, "SELECT sum(xp_awarded) FROM agent_daily"),
  actionDailyEvents: await scalar(h, "SELECT sum(events) FROM action_daily"),
  userDaysEvents: await scalar(h, "SELECT sum(events) FROM user_days"),
  achievementDaily: await scalar(h, "SELECT sum(events) FROM achievement_daily"),
  levelDaily: await scalar(h, "SELECT sum(events) FROM level_daily"),
  rejectionDaily: await scalar(h, "SELECT sum(events) FROM rejection_daily"),
  pipelineMinute: await scalar(h, "SELECT sum(events) FROM pipeline_minute")
})

/** The fingerprint the generated records must produce, computed from the records alone. */
export const expectedFingerprint = (recs: ReadonlyArray<AnalyticsRecord>): Record<string, number> => {
  const awards = recs.flatMap((r) => (r.kind === "award" ? [r.entry] : []))
  const ups = recs.flatMap((r) => (r.kind === "level_up" ? [r] : []))
  const rejections = recs.filter((r) => r.kind === "rejection").length
  const xp = awards.reduce((a, e) => a + e.total_awarded, 0)
  const achievements = recs.filter((r) => r.kind === "achievement").length
  return {
    awards: awards.length, awardsXp: xp, levelUps: ups.length, achievements, rejections,
    agentDailyEvents: awards.length, agentDailyXp: xp, actionDailyEvents: awards.length, userDaysEvents: awards.length,
    achievementDaily: achievements, levelDaily: ups.reduce((a, u) => a + (u.to - u.from), 0), rejectionDaily: rejections,
    pipelineMinute: awards.length + rejections
  }
}
