// The pipeline: load the snapshot chunks into the user table and rebuild the boards, replay from
// seq + 1 with an ordered consumer, report ready once caught up. One fiber applies the stream in
// slices of a few milliseconds (the processor), then publishes what each slice changed; cuts are
// written between slices and snapshotted on an interval, and once more at shutdown.
import { Cause, Data, Deferred, Effect, Fiber, Queue } from "effect"
import type { Scope } from "effect"
import type { CompiledRules } from "../domain/Rules.js"
import type { RulesHistory } from "../domain/RulesHistory.js"
import type { OwnedPartition } from "../domain/StreamMessage.js"
import { loadLegacyUser } from "../domain/state/LegacySnapshot.js"
import { loadChunk, rebuildBoards } from "../domain/state/SnapshotCodec.js"
import type { UserState } from "../domain/Model.js"
import { blocked } from "../observability/LoopBlocks.js"
import { registry } from "../observability/Metrics.js"
import type { AnalyticsRecord, AnalyticsSink, RecordOut } from "../ports/Analytics.js"
import type { DeadLetterHealth, DeadLetterPort } from "../ports/DeadLetters.js"
import type { EventSource, RawBatch } from "../ports/EventSource.js"
import type { PortFailure } from "../ports/Failure.js"
import type { LiveFeedSink } from "../ports/LiveFeed.js"
import type { PeriodArchive, SnapshotStore } from "../ports/Snapshots.js"
import { actorDefect } from "./Actor.js"
import type { FailureLatch } from "./Actor.js"
import { Boards } from "./Boards.js"
import { Cut } from "./Cut.js"
import { Processor, newSliceOutput, sliceOutputInto } from "./Processor.js"
import type { Position } from "./Processor.js"
import { spawnSnapshotter } from "./Snapshotter.js"
import type { SnapshotStatus } from "./Snapshotter.js"
import { newEngineState } from "../domain/engine/EngineState.js"
import type { VoidScoring } from "../domain/engine/EngineState.js"

const processed = registry.counter("arena_events_processed_total", "Events applied (XP awarded)")
const rejected = registry.counter("arena_events_rejected_total", "Events dead-lettered, by reason")
/**
 * Where an event's way to a board view goes (wall clock against the stream's store time, ms
 * resolution): read — stored → handed to the pipeline by the consumer; queued — handed → its slice starts; viewed —
 * stored → the views of its slice handed to the gateway (per batch / per slice, its oldest event).
 */
const deltaPath = registry.histogram("arena_delta_path_seconds", "An event's way to its board view, by stage (read: stored → handed to the pipeline by the consumer; queued: handed → its slice starts; viewed: stored → its slice's views handed to the gateway)",
  [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5])
const READ = { stage: "read" }, QUEUED = { stage: "queued" }, VIEWED = { stage: "viewed" }
registry.gauge("process_resident_memory_bytes", "Resident set size", (g) => g.set(process.memoryUsage.rss()))
registry.gauge("nodejs_heap_used_bytes", "V8 heap in use", (g) => g.set(process.memoryUsage().heapUsed))

/**
 * A slice ends once it has run this long (checked every SLICE_CHECK events): views never wait
 * behind more. Not checked more often on purpose: on a starved CPU the wall clock jumps while the
 * thread waits, so a finer check ends slices after fewer events, and every slice publishes its
 * views — more deltas and frames for the same events, which starves the thread further (at load
 * ~20, 16 together with an extra turn per slice fell seconds behind where this kept up).
 */
const SLICE_MS = 4
const SLICE_CHECK = 64
/** A cut encodes users for at most this long per turn of the event loop (checked every CUT_CHECK users). */
const CUT_MS = 2
const CUT_CHECK = 128
/** How often the stream's creation time is compared with the one this run started on. */
const STREAM_CHECK_MS = 2_000

export interface PipelineOptions {
  /** The stream (its head at start, then consumed from the checkpoint on). */
  readonly events: EventSource
  readonly snapshots: SnapshotStore
  /** A dead-letter publisher for this run (its pending letters belong to this run's cuts). */
  readonly openDeadLetters: () => DeadLetterPort
  readonly analytics: AnalyticsSink
  /** Board views, rollovers and notifications go here; watched users come from here. */
  readonly feed: LiveFeedSink
  /** Every rules version and the seqs it scores (EstablishRulesHistory.ts made it for this start). */
  readonly history: RulesHistory
  /** The projection this run scores (its snapshots are fenced by it); 0 when never re-projected. */
  readonly projection?: number
  /** How voids are scored (a shadow build re-scores them; default: the projection above, what they carry). */
  readonly voids?: VoidScoring
  readonly batchMax: number
  readonly snapshotIntervalMs: number
  readonly latch: FailureLatch
  readonly log: (line: string) => void
  /** Partitioned mode: the one partition `events` delivers (its subjects are checked against their users). */
  readonly partition?: OwnedPartition
}

/** The snapshot in Postgres belongs to another incarnation of the stream: starting would mix them. */
export class SnapshotMismatch extends Data.TaggedError("SnapshotMismatch")<{ readonly message: string; readonly retryable: false }> {}

export type Phase = "loading" | "replaying" | "ready"

export interface IngestStatus extends Position {
  /** Messages pending in the stream after the last batch (consumer lag). */
  pending: number
  /**
   * Every event ≤ visible is reflected in boards, profiles AND ledgers (its records are in the
   * analytics sink, whose unflushed entries ledger reads merge): /readyz `seq`. `applied` may be
   * ahead of it for the moment between a slice and the hand-off of its records.
   */
  visible: number
  /** The last seq the consumer handed to the pipeline (applied or still queued): /readyz `ingested_seq`. */
  ingested: number
}

export interface PipelineStatus {
  phase: Phase
  headAtStart: number
  readonly ingest: IngestStatus
  readonly snapshot: SnapshotStatus
  /** Letters not yet stored (snapshots wait for them). */
  deadLetters: DeadLetterHealth
}

export interface Pipeline {
  readonly status: PipelineStatus
  readonly boards: Boards
  /** The version in force now (profiles' level titles and achievement catalog). */
  readonly rules: CompiledRules
  readonly history: RulesHistory
  readonly drainAndSnapshot: Effect.Effect<void>
  /** Starts a cut now unless one is in flight (an erasure waits for the base that follows it). */
  readonly requestSnapshot: Effect.Effect<void>
  readonly streamCreated: string
}

const nextTurn = Effect.promise(() => new Promise<void>((resolve) => setImmediate(resolve)))

export const startPipeline = (o: PipelineOptions): Effect.Effect<Pipeline, PortFailure, Scope.Scope> =>
  Effect.gen(function*() {
    const head = yield* o.events.head
    const streamCreated = head.created
    const checkpoint = yield* o.snapshots.readCheckpoint
    if (checkpoint !== null && (checkpoint.stream !== head.name || checkpoint.streamCreated !== streamCreated)) {
      return yield* Effect.fail(new SnapshotMismatch({
        retryable: false,
        message: `the snapshot in Postgres belongs to stream ${checkpoint.stream} created ${checkpoint.streamCreated}, but ${head.name} was created ${streamCreated}: ` +
          "the stream was recreated. Point DATABASE_URL at a fresh database (or drop this one) to rebuild from the stream."
      }))
    }
    const status: PipelineStatus = {
      phase: "loading",
      headAtStart: head.lastSeq,
      ingest: { applied: checkpoint?.seq ?? 0, streamTimeMs: checkpoint?.streamTimeMs ?? 0, pending: 0, gaps: 0, visible: checkpoint?.seq ?? 0, ingested: checkpoint?.seq ?? 0 },
      snapshot: {
        inFlight: false, lastSeq: checkpoint?.seq ?? 0, lastAtMs: Date.now(), lastError: null, lastErrorFrom: null, lastDurationMs: 0, lastUsers: 0, lastBytes: 0,
        baseBytes: checkpoint?.baseBytes ?? 0, deltaBytes: checkpoint?.deltaBytes ?? 0
      },
      deadLetters: { unstored: 0, attempts: 0, lastError: null }
    }
    const pos = status.ingest

    // ---- load the snapshot into the user table; boards are derived: rebuilt from it ----
    // A board stays open until no recorded version can still score it.
    const state = newEngineState(o.history.maxPeriodGraceMs, o.voids ?? { projection: o.projection ?? 0, worth: null })
    const t0 = Date.now()
    const cpTime = checkpoint?.streamTimeMs ?? 0
    const legacy = yield* o.snapshots.loadLegacyUsers((rows) => {
      for (const json of rows) loadLegacyUser(state, JSON.parse(json) as UserState, cpTime)
    })
    let records = 0
    const loaded = yield* o.snapshots.loadChunks((bytes) => {
      records += loadChunk(state, bytes, { streamTimeMs: cpTime })
      if (Date.now() - t0 > 2000) o.log(`loading snapshot: ${state.users.size} users (${(records / Math.max(0.001, (Date.now() - t0) / 1000)).toFixed(0)} records/s)`)
    })
    const tBoards = Date.now()
    rebuildBoards(state)
    o.log(`snapshot loaded: ${state.users.size} users, ${state.boards.open().length} boards at seq ${pos.applied} in ${Date.now() - t0} ms ` +
      `(${loaded.chunks} chunks, ${(loaded.bytes / 2 ** 20).toFixed(1)} MiB${legacy > 0 ? `, ${legacy} users from pre-chunk JSON rows` : ""}; boards rebuilt in ${Date.now() - tBoards} ms); stream head ${head.lastSeq}`)

    const processor = new Processor(state, o.history, pos, o.feed.watchedUsers, o.partition)
    const boards = new Boards(state, pos, {
      readArchive: (b, w, p, off, lim) => Effect.runPromise(o.snapshots.readArchive(b, w, p, off, lim)),
      readArchiveOf: (b, w, p, ids) => Effect.runPromise(o.snapshots.readArchiveOf(b, w, p, ids)),
      readArchiveByKey: (b, w, p, read) => Effect.runPromise(o.snapshots.readArchiveByKey(b, w, p, read)),
      committedSeq: () => status.snapshot.lastSeq,
      now: () => Date.now(),
      feed: o.feed
    })
    boards.rollPeriods()

    // ---- snapshots ----
    const deadLetters = yield* Effect.acquireRelease(Effect.sync(o.openDeadLetters), (d) => Effect.sync(() => d.close()))
    // Read live by readiness: how many letters wait, and why.
    Object.defineProperty(status, "deadLetters", { get: () => deadLetters.health, enumerable: true })
    const snap = yield* spawnSnapshotter({
      stream: head.name,
      streamCreated,
      rulesVersion: o.history.current.rules.version,
      ...(o.projection === undefined ? {} : { projection: o.projection }),
      analytics: o.analytics,
      deadLettersSettled: deadLetters.settled,
      write: (w) => o.snapshots.write(w),
      log: o.log,
      now: () => Date.now()
    }, status.snapshot, o.latch)
    // Period archives closed since the last cut began; a cut takes those closed up to its seq.
    let archives: Array<PeriodArchive> = []
    // A pre-chunk store must be rewritten as chunks: the first cut is then a base.
    let forceBase = legacy > 0
    /** Starts a cut at the current seq (between slices); its chunks are written by the cut fiber. */
    const writeCut = Effect.gen(function*() {
      const s = status.snapshot
      // After an erasure every stored chunk may hold the erased user: a base replaces them all.
      const erased = processor.takeErasures() > 0
      const base = forceBase || erased || s.baseBytes === 0 || s.deltaBytes > s.baseBytes
      let t = performance.now()
      const dirty = processor.takeDirty()
      const uids = base ? allUsers(state.users.capacity) : dirty
      const cut = new Cut(state, pos.applied, pos.streamTimeMs, base, uids)
      const cutArchives = archives
      archives = []
      forceBase = false
      processor.observer = cut
      blocked("cut_step", t)
      // Bounded turns: a board's view never waits behind more than ~CUT_MS of encoding.
      for (;;) {
        yield* nextTurn
        t = performance.now()
        let done = false
        do done = cut.step(CUT_CHECK)
        while (!done && performance.now() - t < CUT_MS)
        blocked("cut_step", t)
        if (done) break
      }
      processor.observer = null
      t = performance.now()
      const result = cut.finish()
      blocked("cut_step", t)
      yield* snap.mailbox.send({ cut: result, archives: cutArchives, usersHeld: state.users.size })
    })

    // ---- apply the stream, a slice at a time ----
    const inbox = yield* Queue.bounded<{ readonly batch: RawBatch; readonly at: number }>(4)
    let busy = false
    const replayStart = Date.now()
    const cpSeq = pos.applied
    const stage = o.analytics.newStage?.()
    const applyBatch = (batch: RawBatch, handedAt: number) =>
      Effect.gen(function*() {
        const events = batch.events
        let i = 0
        const live = status.phase === "ready" && events.length > 0
        if (live) {
          deltaPath.observe(Math.max(0, handedAt - events[0]!.streamTimeMs) / 1000, READ)
          deltaPath.observe(Math.max(0, performance.timeOrigin + performance.now() - handedAt) / 1000, QUEUED)
        }
        while (i < events.length) {
          const sliceFrom = i
          // The slice's records go into the sink's stage as they are made (encoded at once: no
          // object per record lives through the slice); a sink without a stage takes an array.
          const out = stage !== undefined ? sliceOutputInto<RecordOut>(stage) : newSliceOutput()
          const started = performance.now()
          do {
            processor.apply(events, i, i + SLICE_CHECK, out)
            i += SLICE_CHECK
          } while (i < events.length && performance.now() - started < SLICE_MS)
          // What the slice changed goes out before anything else runs.
          const viewsAt = performance.now()
          blocked("pipeline_slice", started)
          boards.publish(state.boards.takeChanged())
          boards.rollPeriods()
          for (const a of boards.closeExpired()) archives.push(a)
          blocked("views", viewsAt)
          if (live) deltaPath.observe(Math.max(0, performance.timeOrigin + viewsAt - events[sliceFrom]!.streamTimeMs) / 1000, VIEWED)
          const outputAt = performance.now()
          for (const r of out.rejects) {
            deadLetters.publish(r.seq, r.reason, r.message, r.data)
            rejected.inc({ reason: r.reason })
          }
          if (out.notes.length > 0) o.feed.notify(out.notes)
          processed.inc(undefined, out.applied)
          if (stage !== undefined && o.analytics.submitStage !== undefined) yield* o.analytics.submitStage(stage, pos.applied)
          else yield* o.analytics.submit(out.records as Array<AnalyticsRecord>, pos.applied)
          blocked("slice_output", outputAt)
          pos.visible = pos.applied
          // A turn after every slice, the last of a batch too: the gateway hands the slice's views
          // on (its flush runs as the turn starts) and reads the socket threads' acks before the
          // next slice, even when the next batch is already queued (taking it does not yield).
          yield* nextTurn
        }
        pos.pending = batch.pending
        if (status.phase !== "ready" && pos.pending === 0 && pos.applied >= status.headAtStart) {
          status.phase = "ready"
          o.log(`caught up at seq ${pos.applied}: replayed ${pos.applied - cpSeq} events in ${Date.now() - replayStart} ms`)
        }
      })
    yield* Effect.forkScoped(
      Effect.gen(function*() {
        for (;;) {
          const { batch, at } = yield* Queue.take(inbox)
          busy = true
          yield* applyBatch(batch, at)
          busy = Queue.sizeUnsafe(inbox) > 0
        }
      }).pipe(Effect.catchCause((c) => Deferred.fail(o.latch, actorDefect("processor", c)).pipe(Effect.asVoid)))
    )

    status.phase = pos.applied >= status.headAtStart ? "ready" : "replaying"
    if (status.phase === "replaying") {
      yield* Effect.forkScoped(Effect.gen(function*() {
        for (;;) {
          yield* Effect.sleep(2_000)
          if (status.phase === "ready") return
          const done = pos.applied - cpSeq
          const total = status.headAtStart - cpSeq
          o.log(`replaying: ${done}/${total} events (${Math.round(done / Math.max(0.001, (Date.now() - replayStart) / 1000))}/s)`)
        }
      }))
    }

    // ---- consume ----
    const consumer = yield* Effect.forkScoped(
      o.events.consumeFrom(pos.applied + 1, o.batchMax, (batch) => {
        const last = batch.events[batch.events.length - 1]
        if (last !== undefined && last.seq > pos.ingested) pos.ingested = last.seq
        return Effect.runPromise(Queue.offer(inbox, { batch, at: performance.timeOrigin + performance.now() }).pipe(Effect.asVoid))
      })
        .pipe(Effect.catchCause((c) => Deferred.fail(o.latch, actorDefect("consumer", c)).pipe(Effect.asVoid)))
    )

    // ---- the stream under us: one recreated while this run consumes it (same name, new creation
    // time) never delivers again past our seq, and nothing else would notice. Failing the run
    // hands it to the supervisor, whose restart reads the checkpoint and stops on the mismatch. ----
    yield* Effect.forkScoped(Effect.forever(Effect.sleep(STREAM_CHECK_MS).pipe(
      Effect.andThen(o.events.head.pipe(Effect.map((h) => h.created), Effect.orElseSucceed(() => streamCreated))),
      Effect.flatMap((created) => created === streamCreated ? Effect.void : Deferred.fail(o.latch, actorDefect("consumer", Cause.fail(new Error(
        `stream ${head.name} was recreated under the running pipeline (created ${created}, consumed since ${streamCreated}): its new messages would never be read`
      )))).pipe(Effect.asVoid))
    )))

    // ---- snapshots on an interval: one cut in flight at a time ----
    const requestCut = Effect.gen(function*() {
      if (status.snapshot.inFlight || pos.applied <= status.snapshot.lastSeq) return
      status.snapshot.inFlight = true
      yield* writeCut
    }).pipe(Effect.catchCause((c) => Deferred.fail(o.latch, actorDefect("snapshot cut", c)).pipe(Effect.asVoid)))
    yield* Effect.forkScoped(Effect.forever(Effect.sleep(o.snapshotIntervalMs).pipe(Effect.andThen(requestCut))))

    /** Graceful stop: no more consuming, apply what is in flight, one last snapshot. */
    const drainAndSnapshot = Effect.gen(function*() {
      yield* Fiber.interrupt(consumer)
      while (busy || Queue.sizeUnsafe(inbox) > 0) yield* Effect.sleep(10)
      while (status.snapshot.inFlight) yield* Effect.sleep(10)
      const target = pos.applied
      if (target > status.snapshot.lastSeq) {
        status.snapshot.inFlight = true
        yield* writeCut
        yield* snap.whenSaved(target)
      }
      o.log(`final snapshot at seq ${status.snapshot.lastSeq}`)
    })

    return { status, boards, rules: o.history.current.rules, history: o.history, drainAndSnapshot, requestSnapshot: requestCut, streamCreated } satisfies Pipeline
  })

const allUsers = (n: number): Int32Array => {
  const a = new Int32Array(n)
  for (let i = 0; i < n; i++) a[i] = i
  return a
}
