// The erasure actor over in-memory ports and the real analytics sink (on its in-memory store):
// the step that waits on the sink after a re-projection's switch, with no new event coming.
import { describe, expect, it } from "vitest"
import { Effect, Exit, Scope } from "effect"
import { makeAnalyticsActor, makeMemoryAnalyticsStore } from "./AnalyticsActor.js"
import { startErasures } from "./Erasures.js"
import type { ErasureRunner } from "./Erasures.js"
import type { AnalyticsRecord } from "../ports/Analytics.js"
import type { ErasureAnalytics, ErasureRecord, ErasureStep, ErasureStore, ErasureStream } from "../ports/Erasures.js"

const T = "2026-01-10T00:00:00.000Z"
const rej = (seq: number): AnalyticsRecord => ({ kind: "rejection", seq, reason: "invalid_event", message: "m", event_id: null, stream_time: T })

/** One erasure record at `step` and the projections, in memory. */
const memoryStore = (r: ErasureRecord, projections: { current: number; open: boolean }) => {
  let rec = r
  const store: ErasureStore = {
    create: () => Promise.resolve(rec),
    get: () => Promise.resolve(rec),
    askedBy: () => true,
    pending: () => Promise.resolve(rec.step === "done" ? [] : [rec]),
    advance: (_id, next: ErasureStep, learned = {}) => {
      rec = { ...rec, step: next, eraseSeq: learned.eraseSeq ?? rec.eraseSeq, streamSeqs: learned.streamSeqs ?? rec.streamSeqs, letterSeqs: learned.letterSeqs ?? rec.letterSeqs }
      return Promise.resolve()
    },
    scrub: () => Promise.resolve(),
    enterStream: (_id, projection) => {
      if (projections.open || projections.current !== projection) return Promise.resolve(false)
      rec = { ...rec, step: "stream" }
      return Promise.resolve(true)
    },
    projections: () => Promise.resolve({ ...projections }),
    erasingSeqs: () => Promise.resolve(new Set<number>()),
    complete: () => { rec = { ...rec, step: "done", userId: null }; return Promise.resolve() }
  }
  return { store, record: () => rec }
}

const stream: ErasureStream = {
  publish: () => Promise.reject(new Error("published already")),
  rejectedOf: () => Promise.resolve([]),
  settingsOf: () => Promise.resolve([]),
  erase: (_s, seqs) => Promise.resolve(seqs.length)
}

const at = (step: ErasureStep): ErasureRecord => ({
  id: "erasure-1", userId: "u", step, eraseSeq: 6, streamSeqs: null, letterSeqs: null, messagesErased: 0, requesterHash: "h", requestedAt: T, completedAt: null
})

const until = async (check: () => boolean, ms: number): Promise<boolean> => {
  const end = Date.now() + ms
  while (!check() && Date.now() < end) await new Promise((r) => setTimeout(r, 10))
  return check()
}

describe("Erasures", () => {
  it("an erasure held by an open re-projection finishes after its switch at the stream's head, with no new event", async () => {
    // CI T1 (the soak): the publisher waited for the erasure, so the stream ended at the seq v3 was
    // built to; after the switch the erasure's awaitDurable waited for a flush only a submit starts.
    const mem = makeMemoryAnalyticsStore()
    let projection = 0
    const projections = { current: 0, open: true }
    // Projection 1's rows were loaded through seq 12 (the built seq, the stream's head).
    const sinkStore = { ...mem.store, recover: Effect.suspend(() => projection === 0 ? mem.store.recover : Effect.succeed({ durableSeq: 12, maxSeq: { award: 0, correction: 0, level_up: 0, achievement: 0, rejection: 12 } })) }
    const scope = Effect.runSync(Scope.make())
    const sink = await Effect.runPromise(makeAnalyticsActor(sinkStore, { retryInitialMs: 5, retryMaxMs: 20, shutdownFlushMs: 100, flushIntervalMs: 3_600_000 }).pipe(Scope.provide(scope)))
    await Effect.runPromise(sink.submit(Array.from({ length: 12 }, (_, i) => rej(i + 1)), 12))
    await Effect.runPromise(sink.awaitDurable(12))
    const analytics: ErasureAnalytics = {
      awaitDurable: (seq) => Effect.runPromise(sink.awaitDurable(seq)),
      userSeqs: () => Promise.resolve([2, 4]),
      deleteSeqs: (seqs) => Effect.runPromise(sink.eraseSeqs(seqs)),
      describe: () => sink.describe()
    }
    const { store, record } = memoryStore(at("clickhouse"), projections)
    const lines: string[] = []
    const runner = await Effect.runPromise(startErasures({
      store, stream, analytics, pipeline: { applied: () => 12, snapshotSeq: () => 12, requestSnapshot: () => {} }, log: (l) => lines.push(l), pollMs: 5
    }).pipe(Scope.provide(scope))) as ErasureRunner
    expect(await until(() => lines.some((l) => l.includes("a re-projection is open")), 3_000)).toBe(true)
    // The switch (no pipeline runs then): Postgres first, then the sink takes projection 1.
    projections.current = 1
    projections.open = false
    await Effect.runPromise(sink.reproject(() => { projection = 1 }))
    runner.wake()
    const done = await until(() => record().step === "done", 3_000)
    expect({ step: record().step, log: lines }).toMatchObject({ step: "done" })
    expect(done).toBe(true)
    expect(mem.records.map((r) => (r.kind === "rejection" ? r.seq : 0))).toEqual([1, 3, 5, 6, 7, 8, 9, 10, 11, 12])
    await Effect.runPromise(Scope.close(scope, Exit.void))
  })

  it("logs a step that waits long, naming what it waits for and what the analytics sink reports", async () => {
    const scope = Effect.runSync(Scope.make())
    const analytics: ErasureAnalytics = {
      awaitDurable: () => new Promise(() => {}), // never
      userSeqs: () => Promise.resolve([]),
      deleteSeqs: () => Promise.resolve(),
      describe: () => "sink durable through seq 0, submitted through 0"
    }
    const { store } = memoryStore(at("clickhouse"), { current: 0, open: false })
    const lines: string[] = []
    await Effect.runPromise(startErasures({
      store, stream, analytics, pipeline: { applied: () => 12, snapshotSeq: () => 12, requestSnapshot: () => {} }, log: (l) => lines.push(l), pollMs: 5, slowMs: 100
    }).pipe(Scope.provide(scope)))
    expect(await until(() => lines.some((l) => l.startsWith("erasure erasure-1: still waiting for analytics to be durable through seq 6 for ")), 3_000)).toBe(true)
    expect(lines.find((l) => l.includes("still waiting"))).toMatch(/for \d+ s \(sink durable through seq 0, submitted through 0\)$/)
    await Effect.runPromise(Scope.close(scope, Exit.void))
  })

  it("logs a wait on the pipeline, naming the seq and what it has applied", async () => {
    const scope = Effect.runSync(Scope.make())
    const analytics: ErasureAnalytics = { awaitDurable: () => Promise.resolve(), userSeqs: () => Promise.resolve([]), deleteSeqs: () => Promise.resolve() }
    const { store } = memoryStore(at("apply"), { current: 0, open: false })
    const lines: string[] = []
    await Effect.runPromise(startErasures({
      store, stream, analytics, pipeline: { applied: () => null, snapshotSeq: () => null, requestSnapshot: () => {} }, log: (l) => lines.push(l), pollMs: 5, slowMs: 100
    }).pipe(Scope.provide(scope)))
    expect(await until(() => lines.some((l) => /^erasure erasure-1: waiting for the pipeline to apply seq 6 for \d+ s \(applied: no pipeline running\)$/.test(l)), 3_000)).toBe(true)
    await Effect.runPromise(Scope.close(scope, Exit.void))
  })
})
