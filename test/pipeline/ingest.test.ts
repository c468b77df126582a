// Idempotent ingest and "bad input never hurts" (ARCHITECTURE §2.2, §2.4) against real NATS
// JetStream and Postgres: duplicates count once, each kind of bad event lands in the DLQ with its
// reason, and the events after it are still applied — across graceful and kill -9 restarts; and
// the real pipeline (in-process, over this stream and a fresh Postgres) skips by seq what a
// consumer delivers again, since nothing else would stop a redelivered message counting twice.
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { DeliverPolicy } from "@nats-io/jetstream"
import { Deferred, Effect, Exit, Scope } from "effect"
import postgres from "postgres"
import { startPipeline } from "../../src/actors/Pipeline.js"
import type { ActorDefect } from "../../src/actors/Actor.js"
import { makeEventSource } from "../../src/adapters/nats/EventSource.js"
import { migrate } from "../../src/adapters/postgres/Migrations.js"
import { makeSnapshotStore } from "../../src/adapters/postgres/SnapshotStore.js"
import { DEFAULT_RULES } from "../../src/domain/DefaultRules.js"
import { RulesHistory } from "../../src/domain/RulesHistory.js"
import type { AnalyticsRecord } from "../../src/ports/Analytics.js"
import { seqOf } from "../../src/ports/Analytics.js"
import type { EventSource, RawEvent } from "../../src/ports/EventSource.js"
import { ArenaProcess, PG_URL, cleanup, db, freshNames, natsClient, publishAll, sleep } from "../support/arena.js"
import type { Nats, Names } from "../support/arena.js"
import { snapshotDump, snapshotUser } from "../support/snapshotDump.js"

const names: Names = freshNames("ing")
let nats: Nats
let arena: ArenaProcess

const now = () => new Date().toISOString()
const ev = (id: string, user: string, action: string, extra: Record<string, unknown> = {}) =>
  ({ event_id: id, user_id: user, username: user.toUpperCase(), agent_name: "claude-code", action_type: action, timestamp: now(), ...extra })

const userState = async (id: string) => {
  const sql = db(names)
  try {
    return await snapshotUser(sql, id)
  } finally { await sql.end() }
}

const dlq = async (expected: number) => {
  const c = await nats.js.consumers.get(names.dlqStream, { deliver_policy: DeliverPolicy.All })
  const out: Array<{ reason: string; seq: number; message: string }> = []
  const it = await c.fetch({ max_messages: expected + 5, expires: 2000 })
  for await (const m of it) {
    out.push({ reason: m.headers!.get("Arena-Reason"), seq: Number(m.headers!.get("Arena-Seq")), message: m.headers!.get("Arena-Message") })
  }
  return out
}

beforeAll(async () => {
  nats = await natsClient()
  arena = new ArenaProcess(names)
  await arena.start()
})

afterAll(async () => {
  await arena?.stop()
  await nats?.nc.close()
  await cleanup(names)
})

describe("ingest", () => {
  it("counts an event_id once, dead-letters each bad event with its reason, and keeps applying the rest", async () => {
    const future = new Date(Date.now() + 3_600_000).toISOString()
    const acks = await publishAll(nats.js, names.subject, [
      ev("e1", "alice", "task_completed"),                                         // 1: +10
      ev("e1", "alice", "task_completed"),                                         // dedup window: not stored
      { raw: "{not json", msgId: "bad-json" },                                     // 2
      { raw: JSON.stringify({ ...ev("bad-type", "alice", "task_completed"), user_id: 5 }), msgId: "bad-type" }, // 3
      ev("bad-action", "alice", "teleport"),                                       // 4
      { raw: JSON.stringify(ev("big", "alice", "task_completed", { metadata: { blob: "x".repeat(17_000) } })), msgId: "big" }, // 5
      ev("future", "alice", "task_completed", { timestamp: future }),             // 6
      { raw: JSON.stringify(ev("mismatch", "alice", "task_completed")), msgId: "other-id" }, // 7
      { raw: JSON.stringify(ev("no-id", "alice", "task_completed")) },            // 8 (no Nats-Msg-Id)
      ev("inflated", "alice", "task_completed", { base_points: 500 }),            // 9
      ev("bad-mult", "alice", "task_completed", { multipliers: ["x100"] }),       // 10
      ev("e2", "alice", "error_resolved"),                                         // 11: +20
      ev("e3", "bob", "task_completed")                                            // 12: +10
    ])
    expect(acks[1]).toEqual({ seq: 1, duplicate: true })
    const last = acks[acks.length - 1]!.seq
    expect(last).toBe(12)
    await arena.waitForSeq(last)
    await arena.stop()

    expect(await userState("alice")).toMatchObject({ totalXp: 30, events: 2 })
    expect(await userState("bob")).toMatchObject({ totalXp: 10, events: 1 })

    const letters = await dlq(9)
    expect(letters.map((l) => [l.seq, l.reason])).toEqual([
      [2, "malformed_json"], [3, "invalid_event"], [4, "unknown_action"], [5, "oversized"], [6, "future_timestamp"],
      [7, "msg_id_mismatch"], [8, "msg_id_mismatch"], [9, "invalid_base_points"], [10, "invalid_multiplier"]
    ])
    expect(letters.find((l) => l.seq === 3)!.message).toMatch(/user_id/)
  })

  it("does not count again after a graceful restart or a kill -9, and dead-letters nothing twice", async () => {
    await arena.start()
    await arena.waitForSeq(12)
    await arena.kill()
    // Republishing the same ids inside the duplicate window stores nothing new.
    const again = await publishAll(nats.js, names.subject, [ev("e2", "alice", "error_resolved"), ev("e4", "alice", "task_completed")])
    expect(again[0]!.duplicate).toBe(true)
    await arena.start()
    await arena.waitForSeq(13)
    await arena.stop()
    expect(await userState("alice")).toMatchObject({ totalXp: 40, events: 3 })
    expect(await dlq(9)).toHaveLength(9)
  })

  it("skips by seq what the consumer delivers again, so a redelivered message counts once (real pipeline, in-process)", async () => {
    // After the two tests above the stream holds 13 messages: 4 awards (seqs 1, 11, 12, 13), 9 bad.
    const database = `${names.database}_redeliver`
    const url = new URL(PG_URL)
    url.pathname = "/postgres"
    const admin = postgres(url.toString(), { max: 1, onnotice: () => {} })
    await admin.unsafe(`CREATE DATABASE "${database}"`)
    url.pathname = `/${database}`
    const sql = postgres(url.toString(), { max: 2, onnotice: () => {} })
    try {
      await Effect.runPromise(migrate(sql))
      // A consumer that, after each batch, hands the pipeline that batch again and then every
      // message so far from seq 1 (what a consumer reset replaying from an old position delivers).
      const real = makeEventSource(nats, names.stream)
      const delivered: Array<RawEvent> = []
      let again = 0
      const events: EventSource = {
        head: real.head,
        consumeFrom: (start, batchMax, onBatch) => real.consumeFrom(start, batchMax, async (batch) => {
          await onBatch(batch)
          delivered.push(...batch.events)
          await onBatch(batch)
          await onBatch({ events: [...delivered], pending: batch.pending })
          again += batch.events.length + delivered.length
        })
      }
      const letters: Array<number> = []
      const records: Array<AnalyticsRecord> = []
      const scope = Effect.runSync(Scope.make())
      try {
        const latch = Effect.runSync(Deferred.make<never, ActorDefect>())
        const pipeline = await Effect.runPromise(startPipeline({
          events,
          snapshots: makeSnapshotStore(sql),
          openDeadLetters: () => ({ publish: (seq) => { letters.push(seq) }, settled: Effect.void, health: { unstored: 0, attempts: 0, lastError: null }, close: () => {} }),
          analytics: { submit: (rs) => Effect.sync(() => { records.push(...rs) }), awaitDurable: () => Effect.void },
          feed: { emitView: () => {}, emitRollover: () => {}, notify: () => {}, watchedUsers: new Set() },
          history: RulesHistory.single(DEFAULT_RULES),
          batchMax: 4,
          snapshotIntervalMs: 60_000,
          latch,
          log: () => {}
        }).pipe(Scope.provide(scope)))
        for (let i = 0; pipeline.status.ingest.applied < 13 || pipeline.status.phase !== "ready"; i++) {
          if (i > 600) throw new Error(`pipeline at seq ${pipeline.status.ingest.applied}, phase ${pipeline.status.phase}`)
          await sleep(50)
        }
        await Effect.runPromise(pipeline.drainAndSnapshot)
        expect(Effect.runSync(Deferred.isDone(latch))).toBe(false)
      } finally {
        await Effect.runPromise(Scope.close(scope, Exit.void))
      }
      expect(again).toBeGreaterThan(13) // the redelivery did happen
      const dump = await snapshotDump(sql)
      expect(dump.checkpoint).toBe(13)
      expect(dump.users.find(([id]) => id === "alice")?.[1]).toMatchObject({ totalXp: 40, events: 3 })
      expect(dump.users.find(([id]) => id === "bob")?.[1]).toMatchObject({ totalXp: 10, events: 1 })
      expect(letters).toEqual([2, 3, 4, 5, 6, 7, 8, 9, 10])
      expect(records.filter((r) => r.kind === "award").map(seqOf)).toEqual([1, 11, 12, 13])
      expect(records.filter((r) => r.kind === "rejection").map(seqOf)).toEqual([2, 3, 4, 5, 6, 7, 8, 9, 10])
    } finally {
      await sql.end()
      await admin.unsafe(`DROP DATABASE IF EXISTS "${database}" WITH (FORCE)`)
      await admin.end()
    }
  })
})
