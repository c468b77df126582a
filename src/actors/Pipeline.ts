// The pipeline: load the snapshot, rebuild boards, spawn the actors, replay from seq + 1 with an
// ordered consumer, report ready once caught up; snapshot on an interval and once more at shutdown.
import { Data, Deferred, Effect, Fiber } from "effect"
import type { Scope } from "effect"
import { boardKeyOf } from "../domain/BoardKeys.js"
import { forEachScore, restoreUserState } from "../domain/Engine.js"
import type { UserState, Window } from "../domain/Model.js"
import type { CompiledRules } from "../domain/Rules.js"
import { registry } from "../observability/Metrics.js"
import type { AnalyticsSink } from "../ports/Analytics.js"
import type { DeadLetterPort } from "../ports/DeadLetters.js"
import type { EventSource } from "../ports/EventSource.js"
import type { PortFailure } from "../ports/Failure.js"
import type { LiveFeedSink } from "../ports/LiveFeed.js"
import type { SnapshotStore } from "../ports/Snapshots.js"
import { actorDefect } from "./Actor.js"
import type { FailureLatch } from "./Actor.js"
import type { Board } from "./Board.js"
import { Boards } from "./Boards.js"
import { spawnIngest } from "./Ingest.js"
import type { IngestState } from "./Ingest.js"
import { spawnSequencer } from "./Sequencer.js"
import { spawnSnapshotter } from "./Snapshotter.js"
import type { SnapshotStatus } from "./Snapshotter.js"
import { UserShard, shardOf, spawnShard } from "./UserShard.js"

const processed = registry.counter("arena_events_processed_total", "Events applied (XP awarded)")
const rejected = registry.counter("arena_events_rejected_total", "Events dead-lettered, by reason")
registry.gauge("process_resident_memory_bytes", "Resident set size", (g) => g.set(process.memoryUsage.rss()))
registry.gauge("nodejs_heap_used_bytes", "V8 heap in use", (g) => g.set(process.memoryUsage().heapUsed))

export interface PipelineOptions {
  /** The stream (its head at start, then consumed from the checkpoint on). */
  readonly events: EventSource
  readonly snapshots: SnapshotStore
  /** A dead-letter publisher for this run (its pending letters belong to this run's cuts). */
  readonly openDeadLetters: () => DeadLetterPort
  readonly analytics: AnalyticsSink
  /** Board views, rollovers and notifications go here; watched users come from here. */
  readonly feed: LiveFeedSink
  readonly rules: CompiledRules
  readonly shards: number
  readonly batchMax: number
  readonly snapshotIntervalMs: number
  readonly latch: FailureLatch
  readonly log: (line: string) => void
}

/** The snapshot in Postgres belongs to another incarnation of the stream: starting would mix them. */
export class SnapshotMismatch extends Data.TaggedError("SnapshotMismatch")<{ readonly message: string; readonly retryable: false }> {}

export type Phase = "loading" | "replaying" | "ready"

export interface PipelineStatus {
  phase: Phase
  headAtStart: number
  readonly ingest: IngestState
  readonly snapshot: SnapshotStatus
}

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
      ingest: { applied: checkpoint?.seq ?? 0, streamTimeMs: checkpoint?.streamTimeMs ?? 0, pending: 0, gaps: 0 },
      snapshot: { inFlight: false, lastSeq: checkpoint?.seq ?? 0, lastAtMs: Date.now(), lastError: null, lastDurationMs: 0, lastUsers: 0 }
    }
    const scope = yield* Effect.scope
    const shards = Array.from({ length: o.shards }, (_, i) => new UserShard(i, o.rules, o.feed.watchedUsers))
    const lookup = (id: string) => shards[shardOf(id, o.shards)]!.users.get(id)
    const { emitView, emitRollover, notify, watchedUsers } = o.feed
    const boards = new Boards({
      emitView, emitRollover, notify, watchedUsers,
      lookup,
      latch: o.latch,
      periodGraceMs: o.rules.periodGraceMs,
      readArchive: (b, w, p, off, lim) => Effect.runPromise(o.snapshots.readArchive(b, w, p, off, lim)),
      now: () => Date.now()
    }, scope)
    boards.streamTimeMs = status.ingest.streamTimeMs

    // ---- load the snapshot and rebuild the boards from user state ----
    const t0 = Date.now()
    let loaded = 0
    const cpSeq = checkpoint?.seq ?? 0
    const cpTime = checkpoint?.streamTimeMs ?? 0
    const pending: UserState[] = []
    yield* o.snapshots.loadUsers((rows) => {
      for (const json of rows) pending.push(restoreUserState(JSON.parse(json) as UserState))
      loaded += rows.length
      if (loaded % 100_000 < rows.length) o.log(`loading snapshot: ${loaded} users (${Math.round(loaded / Math.max(0.001, (Date.now() - t0) / 1000))}/s)`)
    })
    // Boards are derived state: rebuilt from the users' scores by the engine's own rule (periods
    // closed at the checkpoint's stream time are skipped).
    const byKey = new Map<string, Board>()
    const boardFor = (board: string, window: Window, period: string) => {
      const k = boardKeyOf(board, window, period)
      let b = byKey.get(k)
      if (b === undefined) { b = Effect.runSync(boards.loadBoard({ board, window, period })); byKey.set(k, b) }
      return b
    }
    const openAt = { streamTimeMs: cpTime, periodGraceMs: o.rules.periodGraceMs }
    for (const s of pending) {
      shards[shardOf(s.userId, o.shards)]!.load(s)
      const userId = s.userId
      forEachScore(s, openAt, (board, window, period, xp, seq) => { boardFor(board, window, period).index.set(userId, xp, seq) })
    }
    pending.length = 0
    for (const b of boards.list()) { const board = boards.get(b); if (board) board.seq = cpSeq }
    o.log(`snapshot loaded: ${loaded} users, ${boards.list().length} boards at seq ${cpSeq} in ${Date.now() - t0} ms; stream head ${head.lastSeq}`)

    // ---- actors ----
    const deadLetters = o.openDeadLetters()
    const snap = yield* spawnSnapshotter({
      stream: head.name,
      streamCreated,
      rulesVersion: o.rules.version,
      analytics: o.analytics,
      deadLettersSettled: deadLetters.settled,
      write: (w) => o.snapshots.write(w),
      log: o.log,
      now: () => Date.now()
    }, status.snapshot, o.latch)
    const sequencer = yield* spawnSequencer({
      shards: o.shards,
      boards,
      analytics: o.analytics,
      deadLetter: (r) => deadLetters.publish(r.seq, r.reason, r.message, r.data),
      notify: o.feed.notify,
      onApplied: (_seq, applied, rejects) => {
        processed.inc(undefined, applied)
        for (const r of rejects) rejected.inc({ reason: r.reason })
      },
      snapshots: (job) => { Effect.runFork(snap.mailbox.send(job)) }
    }, o.latch)
    const shardBoxes = []
    for (const s of shards) shardBoxes.push(yield* spawnShard(s, o.latch, sequencer))
    const replayStart = Date.now()
    const ingest = yield* spawnIngest(status.ingest, shardBoxes, sequencer, o.latch, (st) => {
      if (status.phase !== "ready" && st.pending === 0 && st.applied >= status.headAtStart) {
        status.phase = "ready"
        const n = st.applied - cpSeq
        o.log(`caught up at seq ${st.applied}: replayed ${n} events in ${Date.now() - replayStart} ms`)
      }
    })
    status.phase = status.ingest.applied >= status.headAtStart ? "ready" : "replaying"
    if (status.phase === "replaying") {
      yield* Effect.forkScoped(Effect.gen(function*() {
        for (;;) {
          yield* Effect.sleep(2_000)
          if (status.phase === "ready") return
          const done = status.ingest.applied - cpSeq
          const total = status.headAtStart - cpSeq
          o.log(`replaying: ${done}/${total} events (${Math.round(done / Math.max(0.001, (Date.now() - replayStart) / 1000))}/s)`)
        }
      }))
    }

    // ---- consume ----
    const consumer = yield* Effect.forkScoped(
      o.events.consumeFrom(status.ingest.applied + 1, o.batchMax, (batch) => Effect.runPromise(ingest.send({ _tag: "Raw", batch })))
        .pipe(Effect.catchCause((c) => Deferred.fail(o.latch, actorDefect("consumer", c)).pipe(Effect.asVoid)))
    )

    // ---- snapshots on an interval: one cut in flight at a time ----
    const requestCut = Effect.gen(function*() {
      if (status.snapshot.inFlight || status.ingest.applied <= status.snapshot.lastSeq) return false
      status.snapshot.inFlight = true
      yield* ingest.send({ _tag: "Cut" })
      return true
    })
    yield* Effect.forkScoped(Effect.forever(Effect.sleep(o.snapshotIntervalMs).pipe(Effect.andThen(requestCut))))

    /** Graceful stop: no more consuming, drain what is in flight, one last snapshot. */
    const drainAndSnapshot = Effect.gen(function*() {
      yield* Fiber.interrupt(consumer)
      while (ingest.size() > 0) yield* Effect.sleep(10)
      while (status.snapshot.inFlight) yield* Effect.sleep(10)
      const target = status.ingest.applied
      if (target > status.snapshot.lastSeq) {
        status.snapshot.inFlight = true
        yield* ingest.send({ _tag: "Cut" })
        yield* snap.whenSaved(target)
      }
      o.log(`final snapshot at seq ${status.snapshot.lastSeq}`)
    })

    return { status, boards, shards, lookup, drainAndSnapshot, streamCreated } satisfies Pipeline
  })

export interface Pipeline {
  readonly status: PipelineStatus
  readonly boards: Boards
  readonly shards: ReadonlyArray<UserShard>
  readonly lookup: (userId: string) => UserState | undefined
  readonly drainAndSnapshot: Effect.Effect<void>
  readonly streamCreated: string
}
