// The sink when ClickHouse fails, against the real embedded engine: an outage (buffer, then
// backpressure, then catch-up), kill -9 of the engine's process in the middle of inserts (with
// and without a restart of the whole service), and rollups repaired after a torn write.
import { afterEach, describe, expect, it } from "vitest"
import { Effect } from "effect"
import { repairRollups } from "../../src/adapters/clickhouse/Rollups.js"
import { registry } from "../../src/observability/Metrics.js"
import { prng } from "../../src/cli/Producer.js"
import { eventually, expectedFingerprint, fingerprint, freshDir, generate, startSink, submitRange } from "./records.js"
import type { SinkEnv } from "./records.js"

let open: SinkEnv[] = []
afterEach(async () => {
  for (const e of open) await e.close().catch(() => {})
  open = []
})
const fast = { maxBatch: 150, flushIntervalMs: 20, retryInitialMs: 20, retryMaxMs: 150, shutdownFlushMs: 200 }

describe("analytics sink under failures (embedded ClickHouse)", () => {
  it("buffers during an outage, then applies backpressure, then catches up with exact counts", async () => {
    const g = generate(3000)
    let down = false
    const env = await startSink(freshDir("outage"), {
      fault: { failWith: () => (down ? new Error("fault injected: connection down") : null) },
      options: { ...fast, maxBuffered: 300 }
    })
    open.push(env)
    const errorsBefore = registry.counter("arena_analytics_errors_total", "").get({ reason: "connect" })
    await submitRange(env, g, 1, 500, 50)
    await env.run(env.sink.awaitDurable(500))
    down = true
    let producerDone = false
    const producer = submitRange(env, g, 501, 3000, 20).then(() => { producerDone = true })
    await eventually("the outage to be noticed", async () => (await env.run(env.sink.status)).lastError !== null)
    // Buffer fills to its bound, then submit suspends: submittedSeq stops moving, nothing is dropped.
    await eventually("the buffer to fill", async () => (await env.run(env.sink.status)).bufferedRecords > 250)
    const s1 = await env.run(env.sink.status)
    await new Promise((r) => setTimeout(r, 300))
    const s2 = await env.run(env.sink.status)
    expect(s2.submittedSeq).toBe(s1.submittedSeq)
    expect(s2.submittedSeq).toBeLessThan(3000)
    expect(s2.bufferedRecords).toBeLessThanOrEqual(300)
    expect(s2).toMatchObject({ connected: false, durableSeq: 500 })
    expect(producerDone).toBe(false)
    expect(registry.counter("arena_analytics_errors_total", "").get({ reason: "connect" })).toBeGreaterThan(errorsBefore)
    down = false
    await producer
    await env.run(env.sink.awaitDurable(3000))
    expect(await fingerprint(env.handle)).toEqual(expectedFingerprint(g.all))
    expect(await env.run(env.sink.status)).toMatchObject({ connected: true, bufferedRecords: 0, durableSeq: 3000, lastError: null })
  })

  it("survives kill -9 of the engine process in the middle of inserts, with exact counts", async () => {
    const g = generate(4000)
    // Seeded: a failure reproduces with the same kill points (insert index and delay).
    const rnd = prng(4711)
    let kills = 0
    let env: SinkEnv | null = null
    env = await startSink(freshDir("kill"), {
      fault: {
        sent: (call, sql) => {
          // Every 7th insert into a raw table: kill the engine while it works on it.
          if ((call === "exec" || call === "insert") && /INSERT INTO (awards|level_ups|achievements)/.test(sql) && kills < 5 && rnd() < 1 / 7) {
            const pid = env?.handle.process?.pid ?? null
            if (pid !== null) {
              kills++
              setTimeout(() => { try { process.kill(pid, "SIGKILL") } catch { /* already gone */ } }, Math.floor(rnd() * 4))
            }
          }
        }
      },
      options: fast
    })
    open.push(env)
    await submitRange(env, g, 1, g.lastSeq, 100)
    await env.run(env.sink.awaitDurable(g.lastSeq))
    expect(kills).toBeGreaterThan(0)
    expect(env.handle.process?.generation ?? 0).toBeGreaterThan(1)
    expect(await fingerprint(env.handle)).toEqual(expectedFingerprint(g.all))
  })

  it("after kill -9 mid-insert and a restart of the whole service, a replay from seq 1 gives exact counts", async () => {
    const g = generate(3000)
    const dir = freshDir("restart")
    const rnd = prng(4) // seeded: the crash comes at the 4th insert into awards
    let dead = false
    let envA: SinkEnv | null = null
    envA = await startSink(dir, {
      fault: {
        failWith: () => (dead ? new Error("fault injected: service is gone") : null),
        sent: (call, sql) => {
          if (!dead && (call === "exec" || call === "insert") && sql.includes("INSERT INTO awards") && (envA?.handle.process?.generation ?? 0) >= 1) {
            const pid = envA?.handle.process?.pid ?? null
            if (pid !== null && rnd() < 0.2) {
              // The service "crashes": its engine dies mid-insert and the sink never runs again.
              dead = true
              setTimeout(() => { try { process.kill(pid, "SIGKILL") } catch { /* gone */ } }, 1)
            }
          }
        }
      },
      options: fast
    })
    await submitRange(envA, g, 1, 2500, 100).catch(() => {})
    await eventually("the crash", () => dead)
    await envA.close()
    // Restart: the pipeline replays from its (old) snapshot, here seq 1; the sink reads its watermarks.
    const envB = await startSink(dir, { options: fast })
    open.push(envB)
    await submitRange(envB, g, 1, g.lastSeq, 300)
    await envB.run(envB.sink.awaitDurable(g.lastSeq))
    expect(await fingerprint(envB.handle)).toEqual(expectedFingerprint(g.all))
  })

  it("rebuilds a rollup month that lost its part or got a stray one, and only that month", async () => {
    const g = generate(6000)
    const dir = freshDir("repair")
    const env = await startSink(dir, { options: fast })
    open.push(env)
    await submitRange(env, g, 1, g.lastSeq)
    await env.run(env.sink.awaitDurable(g.lastSeq))
    const good = await fingerprint(env.handle)
    const c = env.handle.client
    // A crash between a raw part and its views' parts: the view's February data is missing…
    await c.command({ query: "ALTER TABLE agent_daily DROP PARTITION 202602" })
    // …or a view part survived while its source part did not: a stray row in January.
    await c.command({ query: "INSERT INTO action_daily (day, action_type, events, base_points, xp, xp_awarded, projection) VALUES ('2026-01-15', 'task_completed', 3, 30, 30, 30, 0)", clickhouse_settings: { insert_deduplicate: 0 } })
    expect(await fingerprint(env.handle)).not.toEqual(good)
    const report = await repairRollups(c)
    expect(report.map((r) => `${r.target}:${r.month}`).sort()).toEqual(["action_daily:202601", "agent_daily:202602"])
    expect(await fingerprint(env.handle)).toEqual(good)
    expect(good).toEqual(expectedFingerprint(g.all))
    expect(await repairRollups(c)).toEqual([])
    void Effect.void
  })
})
