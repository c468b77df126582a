// The sink's batching and flow control, over the in-memory store (ClickHouse itself is covered by
// test/analytics/*): whole seqs per write, flush timing, backpressure, watermarks.
import { describe, expect, it } from "vitest"
import { Effect, Exit, Scope } from "effect"
import { makeAnalyticsActor, makeMemoryAnalyticsStore } from "./AnalyticsActor.js"
import type { AnalyticsOptions, AnalyticsService } from "./AnalyticsActor.js"
import type { AnalyticsRecord } from "../ports/Analytics.js"

const T = "2026-01-10T00:00:00.000Z"
const rej = (seq: number): AnalyticsRecord => ({ kind: "rejection", seq, reason: "invalid_event", message: "m", event_id: null, stream_time: T })
const ach = (seq: number, a: string): AnalyticsRecord => ({ kind: "achievement", seq, user_id: "u", achievement: a, bonus: 0, stream_time: T })
const seqs = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => rej(from + i))

const start = async (mem: ReturnType<typeof makeMemoryAnalyticsStore>, options: Partial<AnalyticsOptions>) => {
  const scope = Effect.runSync(Scope.make())
  const sink = await Effect.runPromise(makeAnalyticsActor(mem.store, { retryInitialMs: 5, retryMaxMs: 20, shutdownFlushMs: 100, ...options }).pipe(Scope.provide(scope)))
  return { sink, close: () => Effect.runPromise(Scope.close(scope, Exit.void)) }
}
const run = <A, E>(e: Effect.Effect<A, E>) => Effect.runPromise(e)
const until = async (check: () => boolean) => {
  for (let i = 0; i < 2000 && !check(); i++) await new Promise((r) => setTimeout(r, 2))
  expect(check()).toBe(true)
}
const status = (s: AnalyticsService) => run(s.status)

describe("AnalyticsActor", () => {
  it("never splits one seq's records across two writes", async () => {
    const mem = makeMemoryAnalyticsStore()
    const { sink, close } = await start(mem, { maxBatch: 3, flushIntervalMs: 0 })
    await run(sink.submit([ach(1, "a"), ach(1, "b"), ach(1, "c"), ach(1, "d"), ach(1, "e"), rej(2), rej(3)], 3))
    await run(sink.awaitDurable(3))
    expect(mem.writes).toEqual([{ records: 5, throughSeq: 1 }, { records: 2, throughSeq: 3 }])
    await close()
  })

  it("writes at once when idle, coalesces submits under load, and flushes on awaitDurable", async () => {
    const mem = makeMemoryAnalyticsStore()
    const { sink, close } = await start(mem, { flushIntervalMs: 3_600_000, maxBatch: 1000 })
    await run(sink.submit(seqs(1, 1), 1))
    await until(() => mem.writes.length === 1)
    for (let s = 2; s <= 10; s++) await run(sink.submit(seqs(s, s), s))
    await new Promise((r) => setTimeout(r, 50))
    expect(mem.writes.length).toBe(1) // within the interval: buffered, not written
    expect((await status(sink)).bufferedRecords).toBe(9)
    await run(sink.awaitDurable(10))
    expect(mem.writes).toEqual([{ records: 1, throughSeq: 1 }, { records: 9, throughSeq: 10 }])
    await close()
  })

  it("does not wait for the interval once a full batch is buffered", async () => {
    const mem = makeMemoryAnalyticsStore()
    const { sink, close } = await start(mem, { flushIntervalMs: 3_600_000, maxBatch: 100 })
    await run(sink.submit(seqs(1, 1), 1))
    await until(() => mem.writes.length === 1)
    await run(sink.submit(seqs(2, 101), 101))
    await until(() => mem.writes.length === 2)
    expect(mem.writes[1]).toEqual({ records: 100, throughSeq: 101 })
    await close()
  })

  it("advances durableSeq through seqs that produced no record", async () => {
    const mem = makeMemoryAnalyticsStore()
    const { sink, close } = await start(mem, { flushIntervalMs: 0 })
    await run(sink.submit([rej(1)], 5))
    await run(sink.awaitDurable(5))
    expect(await run(sink.durableSeq)).toBe(5)
    await close()
  })

  it("buffers while the store fails, suspends submit at the bound, then catches up without loss", async () => {
    const mem = makeMemoryAnalyticsStore()
    const { sink, close } = await start(mem, { flushIntervalMs: 0, maxBuffered: 50, maxBatch: 20 })
    await run(sink.submit(seqs(1, 10), 10))
    await run(sink.awaitDurable(10))
    mem.fail("store down")
    let done = false
    const producer = (async () => {
      for (let s = 11; s <= 200; s += 10) await run(sink.submit(seqs(s, s + 9), s + 9))
      done = true
    })()
    await until(() => mem.writes.length === 1)
    await new Promise((r) => setTimeout(r, 50))
    const st = await status(sink)
    expect(done).toBe(false)
    expect(st.bufferedRecords).toBeLessThanOrEqual(50)
    expect(st).toMatchObject({ connected: false, lastError: "store down", durableSeq: 10 })
    mem.fail(null)
    await producer
    await run(sink.awaitDurable(200))
    expect(mem.records.map((r) => (r.kind === "rejection" ? r.seq : -1))).toEqual(Array.from({ length: 200 }, (_, i) => i + 1))
    await close()
  })

  it("drops what the store already holds (per kind) and what was submitted before", async () => {
    const mem = makeMemoryAnalyticsStore()
    // The store holds seq ≤ 5 completely and achievements up to seq 7 (a crash between two tables).
    await run(mem.store.write([...seqs(1, 5), ach(6, "a"), ach(7, "b")].map(mem.store.encode), 5))
    const { sink, close } = await start(mem, { flushIntervalMs: 0 })
    await run(sink.awaitDurable(5))
    await run(sink.submit([...seqs(3, 5), rej(6), ach(6, "a"), ach(7, "b"), rej(7), ach(8, "c")], 8))
    // A restarted pipeline replays seq 8 (a seq's records always arrive in one submit).
    await run(sink.submit([rej(8), ach(8, "c")], 8))
    await run(sink.awaitDurable(8))
    const added = mem.records.slice(7).map((r) => `${r.kind}:${r.kind === "award" || r.kind === "correction" ? r.entry.seq : r.seq}`)
    expect(added).toEqual(["rejection:6", "rejection:7", "achievement:8"])
    await close()
  })

  it("takes a stage's records like submitted ones: same watermarks, same ledger reads, and empties the stage", async () => {
    const mem = makeMemoryAnalyticsStore()
    await run(mem.store.write([...seqs(1, 5), ach(6, "a"), ach(7, "b")].map(mem.store.encode), 5))
    const { sink, close } = await start(mem, { flushIntervalMs: 0 })
    await run(sink.awaitDurable(5))
    const stage = sink.newStage!()
    const award = (seq: number, user: string): AnalyticsRecord => ({ kind: "award", entry: {
      event_id: `e${seq}`, seq, user_id: user, agent_name: "a", action_type: "task_completed", base_points: 10, multipliers: [], streak_days: 1,
      streak_multiplier: "1", total_multiplier: "1", applied_multiplier: "1", xp: 10, bonuses: [], total_awarded: 10, total_xp_after: 10 * seq,
      level_before: 1, level_after: 1, rules_version: "v", event_time: T, stream_time: T
    } })
    for (const r of [...seqs(3, 5), rej(6), ach(6, "a"), ach(7, "b"), award(7, "u"), award(8, "v"), ach(8, "c")]) stage.push(r)
    expect(stage.size).toBe(9)
    mem.fail("down") // the store is down: what is taken stays pending
    await run(sink.submitStage!(stage, 8))
    expect(stage.size).toBe(0)
    // Not durable yet: ledger reads see the pending awards.
    expect(sink.pendingLedger("u").map((e) => e.seq)).toEqual([7])
    expect(sink.pendingAward("e8")?.user_id).toBe("v")
    mem.fail(null)
    // A restarted pipeline replays seq 8 through a stage: nothing twice.
    stage.push(award(8, "v"))
    stage.push(ach(8, "c"))
    await run(sink.submitStage!(stage, 8))
    await run(sink.awaitDurable(8))
    const added = mem.records.slice(7).map((r) => `${r.kind}:${r.kind === "award" || r.kind === "correction" ? r.entry.seq : r.seq}`)
    expect(added).toEqual(["rejection:6", "award:7", "award:8", "achievement:8"])
    expect(sink.pendingLedger("u")).toEqual([])
    await close()
  })

  it("at a re-projection's switch drops the old projection's buffered rows and takes seqs from the new projection's watermarks", async () => {
    const mem = makeMemoryAnalyticsStore()
    let projection = 0
    const recovered: number[] = []
    // Projection 1 holds seqs 1–5 (its loaded rows); projection 0 is the memory store's.
    const store = {
      ...mem.store,
      recover: Effect.suspend(() => {
        recovered.push(projection)
        return projection === 0 ? mem.store.recover : Effect.succeed({ durableSeq: 5, maxSeq: { award: 5, correction: 5, level_up: 5, achievement: 5, rejection: 5 } })
      })
    }
    const scope = Effect.runSync(Scope.make())
    const sink = await run(makeAnalyticsActor(store, { retryInitialMs: 5, retryMaxMs: 20, shutdownFlushMs: 100, flushIntervalMs: 3_600_000 }).pipe(Scope.provide(scope)))
    await run(sink.submit(seqs(1, 10), 10))
    await run(sink.awaitDurable(10))
    await run(sink.submit(seqs(11, 12), 12)) // buffered (within the interval): projection 0's, never written
    expect((await status(sink)).bufferedRecords).toBe(2)
    await run(sink.reproject(() => { projection = 1 }))
    expect((await status(sink)).bufferedRecords).toBe(0)
    // Projection 1's watermarks are read at once (not at the next submit): nothing above 5 was taken for it.
    await until(() => recovered.length === 2)
    expect(await status(sink)).toMatchObject({ bufferedRecords: 0, durableSeq: 5, submittedSeq: 5 })
    // The new pipeline replays from projection 1's snapshot (seq 3): below the old submittedSeq, taken; at or below 5, already there.
    await run(sink.submit(seqs(4, 8), 8))
    await run(sink.awaitDurable(8))
    expect(recovered).toEqual([0, 1])
    expect(mem.writes).toEqual([{ records: 10, throughSeq: 10 }, { records: 3, throughSeq: 8 }])
    expect(mem.records.map((r) => (r.kind === "rejection" ? r.seq : 0)).slice(10)).toEqual([6, 7, 8])
    await Effect.runPromise(Scope.close(scope, Exit.void))
  })

  it("after a switch, awaitDurable of a seq the new projection holds resolves with nothing submitted (no new event may come)", async () => {
    // The soak's deadlock (CI T1): v3 switched at the stream's head while erasures waited for it;
    // the erasure's awaitDurable after the switch waited for a flush that only a submit would start,
    // and the publisher waited for the erasure.
    const mem = makeMemoryAnalyticsStore()
    let projection = 0
    const store = {
      ...mem.store,
      recover: Effect.suspend(() => projection === 0 ? mem.store.recover : Effect.succeed({ durableSeq: 12, maxSeq: { award: 12, correction: 0, level_up: 0, achievement: 0, rejection: 12 } }))
    }
    const scope = Effect.runSync(Scope.make())
    const sink = await run(makeAnalyticsActor(store, { retryInitialMs: 5, retryMaxMs: 20, shutdownFlushMs: 100, flushIntervalMs: 3_600_000 }).pipe(Scope.provide(scope)))
    await run(sink.submit(seqs(1, 12), 12))
    await run(sink.awaitDurable(12))
    await new Promise((r) => setTimeout(r, 20)) // the writer idle, waiting for work
    await run(sink.reproject(() => { projection = 1 }))
    const waited = await run(sink.awaitDurable(7).pipe(Effect.timeoutOption(2_000)))
    expect(waited._tag).toBe("Some")
    // An erasure's deletion waits the same way first.
    const erased = await run(sink.eraseSeqs([3, 7]).pipe(Effect.timeoutOption(2_000)))
    expect(erased._tag).toBe("Some")
    expect(await status(sink)).toMatchObject({ durableSeq: 12, submittedSeq: 12 })
    await Effect.runPromise(Scope.close(scope, Exit.void))
  })
})
