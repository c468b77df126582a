// Ledger reads merge the analytics sink's unflushed entries with the store's page (issue 11 item 4):
// the sink lists a user's entries until a flush or the store's watermarks cover them, and the merge
// pages newest first without losing or repeating an entry whichever side holds it.
import { describe, expect, it } from "vitest"
import { Effect, Exit, Scope } from "effect"
import type { LedgerEntry, LedgerItem } from "../domain/Model.js"
import { makeAnalyticsActor, makeMemoryAnalyticsStore } from "./AnalyticsActor.js"
import { mergeLedger } from "./Users.js"

const entry = (seq: number, user = "u"): LedgerEntry => ({
  event_id: `e${seq}`, seq, user_id: user, agent_name: "a", action_type: "task_completed", base_points: 10, multipliers: [],
  streak_days: 1, streak_multiplier: "1", total_multiplier: "1", applied_multiplier: "1", xp: 10, bonuses: [], total_awarded: 10,
  total_xp_after: 10 * seq, level_before: 1, level_after: 1, rules_version: "v", event_time: "2026-01-10T00:00:00.000Z", stream_time: "2026-01-10T00:00:00.000Z"
})
const seqsOf = (es: ReadonlyArray<LedgerItem>) => es.map((e) => e.seq)

describe("mergeLedger", () => {
  it("pages newest first over pending and stored entries, deduplicating one flushed in between", () => {
    const stored = { entries: [entry(5), entry(3), entry(2)], nextBeforeSeq: 2 }
    const page = mergeLedger([entry(5), entry(7), entry(8)], stored, 4, null)
    expect([seqsOf(page.entries), page.nextBeforeSeq]).toEqual([[8, 7, 5, 3], 3])
    expect(seqsOf(mergeLedger([entry(7), entry(8)], { entries: [], nextBeforeSeq: null }, 5, null).entries)).toEqual([8, 7])
    expect(mergeLedger([entry(7), entry(8)], { entries: [], nextBeforeSeq: null }, 5, null).nextBeforeSeq).toBeNull()
    // A cursor below the pending entries: only the store's page.
    expect(seqsOf(mergeLedger([entry(7), entry(8)], { entries: [entry(3)], nextBeforeSeq: null }, 5, 4).entries)).toEqual([3])
  })
})

describe("AnalyticsActor.pendingLedger", () => {
  it("lists a user's award entries until they are durable, in seq order", async () => {
    const mem = makeMemoryAnalyticsStore()
    const scope = Effect.runSync(Scope.make())
    const sink = await Effect.runPromise(makeAnalyticsActor(mem.store, { flushIntervalMs: 3_600_000, retryInitialMs: 5, retryMaxMs: 20, shutdownFlushMs: 100 }).pipe(Scope.provide(scope)))
    mem.fail("down")
    await Effect.runPromise(sink.submit([{ kind: "award", entry: entry(1) }, { kind: "award", entry: entry(2, "v") }, { kind: "award", entry: entry(3) }], 3))
    expect(seqsOf(sink.pendingLedger("u"))).toEqual([1, 3])
    expect(seqsOf(sink.pendingLedger("v"))).toEqual([2])
    mem.fail(null)
    await Effect.runPromise(sink.awaitDurable(3))
    expect([sink.pendingLedger("u"), sink.pendingLedger("v")]).toEqual([[], []])
    expect(mem.records).toHaveLength(3)
    await Effect.runPromise(Scope.close(scope, Exit.void))
  })
})
