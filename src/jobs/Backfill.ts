// `arena backfill`: rebuilds the analytics store (ClickHouse) from the event source (JetStream) by
// re-running the pure engine over it, with the pipeline's own rule (domain/StreamMessage.ts) and
// the rules history (each event under the version in force at its seq).
// User state is a function of the whole stream prefix, so the engine always replays from seq 1;
// writing resumes above the store's watermarks, so an interrupted backfill continues where it
// stopped and a finished one writes nothing. Run it while the service is stopped (the embedded
// engine's lock enforces that; with a server, two writers would race).
import { Data, Deferred, Effect, Fiber } from "effect"
import type { RulesHistory } from "../domain/RulesHistory.js"
import { newEngineState } from "../domain/engine/EngineState.js"
import { messageRecords } from "../domain/StreamMessage.js"
import type { AnalyticsRecord } from "../ports/Analytics.js"
import { seqOf } from "../ports/Analytics.js"
import type { AnalyticsStore } from "../ports/AnalyticsStore.js"
import type { EventSource, VoidScan } from "../ports/EventSource.js"
import type { PortFailure } from "../ports/Failure.js"

export interface BackfillProgress {
  /** Last stream seq processed. */
  readonly seq: number
  /** The stream's last seq when the backfill started: it runs up to there. */
  readonly lastSeq: number
  readonly percent: number
  readonly eventsPerSecond: number
  /** Records written to ClickHouse so far, and records skipped as already there. */
  readonly written: number
  readonly skipped: number
}

export interface BackfillResult extends BackfillProgress {
  /** ClickHouse's watermark (complete through this seq) when the backfill started. */
  readonly resumedFrom: number
  readonly elapsedMs: number
  readonly aborted: boolean
}

export interface BackfillOptions {
  /** The stream to rebuild from (its head says how far to go). */
  readonly events: EventSource
  /** The analytics store to rebuild. */
  readonly store: AnalyticsStore
  /** The recorded rules history (RulesHistory.single for one file over the whole stream). */
  readonly history: RulesHistory
  /**
   * Voids (§10): the stream's void messages, the projection whose history this is and the seq its
   * re-projection was built through (0: never re-projected): voids up to it take back what the
   * events are worth under `history`, as that build did. Absent: every void takes back what it carries.
   */
  readonly voids?: { readonly scan: VoidScan; readonly projection: number; readonly builtSeq: number }
  /** Records per store write (default 50,000). */
  readonly batchRecords?: number
  readonly progressEveryMs?: number
  readonly onProgress?: (p: BackfillProgress) => void
  /** Stops after the current batch (which is written: an abort never loses processed work). */
  readonly signal?: AbortSignal
  readonly log?: (msg: string) => void
}

/** The stream cannot be rebuilt from (its start was removed by its limits). */
export class BackfillError extends Data.TaggedError("BackfillError")<{ readonly message: string; readonly retryable: false }> {}

/** Rebuild (or finish rebuilding) the analytics store from the stream; see the file header. */
export const backfill = (o: BackfillOptions): Effect.Effect<BackfillResult, PortFailure> =>
  Effect.gen(function*() {
    const t0 = Date.now()
    const log = o.log ?? (() => {})
    const store = o.store
    const w = yield* store.recover
    const t = (k: AnalyticsRecord["kind"]) => Math.max(w.maxSeq[k], w.durableSeq)
    const thresholds = { award: t("award"), correction: t("correction"), level_up: t("level_up"), achievement: t("achievement"), rejection: t("rejection") }

    const head = yield* o.events.head
    const lastSeq = head.lastSeq
    const base = { lastSeq, resumedFrom: w.durableSeq }
    if (head.messages === 0 || lastSeq <= w.durableSeq) {
      return { ...base, seq: lastSeq, percent: 100, eventsPerSecond: 0, written: 0, skipped: 0, elapsedMs: Date.now() - t0, aborted: false }
    }
    if (head.firstSeq > 1) {
      return yield* Effect.fail(new BackfillError({
        retryable: false,
        message: `stream ${head.name} starts at seq ${head.firstSeq} (earlier messages were removed by its limits); the engine needs the whole stream to rebuild user state`
      }))
    }
    log(`backfill: ${head.name} seq 1..${lastSeq}; ClickHouse complete through ${w.durableSeq}, replaying the engine from seq 1`)

    const worth = o.voids === undefined ? null : new Map((yield* o.voids.scan(o.voids.builtSeq)).map(([, e]) => [e, 0]))
    const state = newEngineState(o.history.maxPeriodGraceMs, { projection: o.voids?.projection ?? 0, worth })
    let range = o.history.rangeAt(1)
    let pending: AnalyticsRecord[] = []
    let seq = 0
    let written = 0
    let skipped = 0
    let lastProgress = t0
    let aborted = false
    const progress = (): BackfillProgress => {
      const secs = Math.max(0.001, (Date.now() - t0) / 1000)
      return { seq, lastSeq, percent: Math.min(100, (100 * seq) / lastSeq), eventsPerSecond: Math.round(seq / secs), written, skipped }
    }
    const flush = Effect.gen(function*() {
      if (seq <= w.durableSeq) { pending = []; return } // still below the watermark: nothing to write
      const keep = pending.filter((r) => seqOf(r) > thresholds[r.kind])
      skipped += pending.length - keep.length
      yield* store.write(keep.map(store.encode), seq)
      written += keep.length
      pending = []
    })

    // Consumes until the stream's head at start (or an abort after a flush), then stops the consumer.
    const finished = yield* Deferred.make<void, PortFailure>()
    let stopped = false
    const onBatch = (events: ReadonlyArray<{ seq: number; streamTimeMs: number; data: Uint8Array; msgId: string | undefined }>) =>
      Effect.gen(function*() {
        for (const m of events) {
          if (stopped) return
          const s = m.seq
          if (s <= seq) continue // a redelivery after the ordered consumer reset
          seq = s
          if (s >= range.to || s < range.from) range = o.history.rangeAt(s)
          messageRecords(state, range.rules, m, pending)
          if (s % 50_000 === 0) for (const id of state.boards.expired(m.streamTimeMs)) { state.boards.retire(id); state.users.markDead(id) } // bounds memory; ledgers do not depend on it
          const done = s >= lastSeq
          if (done || pending.length >= (o.batchRecords ?? 50_000)) {
            yield* flush
            if (o.signal?.aborted === true && !done) { aborted = true; stopped = true }
          }
          if (o.onProgress !== undefined && (done || Date.now() - lastProgress >= (o.progressEveryMs ?? 1000))) {
            lastProgress = Date.now()
            o.onProgress(progress())
          }
          if (done) stopped = true
          if (stopped) { yield* Deferred.succeed(finished, undefined); return }
        }
      }).pipe(Effect.catch((e) => { stopped = true; return Deferred.fail(finished, e) }), Effect.asVoid)
    const consumer = yield* Effect.forkChild(
      o.events.consumeFrom(1, 4096, (batch) => Effect.runPromise(onBatch(batch.events))).pipe(
        Effect.catch((e) => Deferred.fail(finished, e)),
        Effect.asVoid
      )
    )
    const outcome = yield* Effect.exit(Deferred.await(finished))
    yield* Fiber.interrupt(consumer)
    if (outcome._tag === "Failure") return yield* Effect.failCause(outcome.cause)
    return { ...base, ...progress(), elapsedMs: Date.now() - t0, aborted }
  })
