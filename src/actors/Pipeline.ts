// The pipeline: load the snapshot, rebuild boards, spawn the actors, replay from seq + 1 with an
// ordered consumer, report ready once caught up; snapshot on an interval and once more at shutdown.
import { Deferred, Effect, Fiber } from "effect"
import type { Scope } from "effect"
import { consumeFrom } from "../adapters/nats/EventSource.js"
import type { NatsHandle } from "../adapters/nats/Nats.js"
import { DeadLetters } from "../adapters/nats/Publisher.js"
import type { StreamNames } from "../adapters/nats/Streams.js"
import type { Sql } from "../adapters/postgres/Db.js"
import { PgError } from "../adapters/postgres/PgError.js"
import { loadUsers, readArchive, readCheckpoint, writeSnapshot } from "../adapters/postgres/SnapshotStore.js"
import type { UserState, Window } from "../domain/model.js"
import { restoreUserState } from "../domain/Engine.js"
import { closesAtMs } from "../domain/Periods.js"
import type { CompiledRules } from "../domain/Rules.js"
import type { BoardView, UserNotification } from "../gateway/ports.js"
import { registry } from "../observability/Metrics.js"
import type { ActorDefect, FailureLatch } from "./Actor.js"
import type { AnalyticsSink } from "./AnalyticsPort.js"
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
  readonly nats: NatsHandle
  readonly sql: Sql
  readonly names: StreamNames
  readonly rules: CompiledRules
  readonly analytics: AnalyticsSink
  readonly shards: number
  readonly batchMax: number
  readonly snapshotIntervalMs: number
  readonly latch: FailureLatch
  readonly notify: (notes: ReadonlyArray<UserNotification>) => void
  readonly watchedUsers: ReadonlySet<string>
  readonly emitView: (v: BoardView) => void
  readonly emitRollover: (w: Window, p: string) => void
  readonly log: (line: string) => void
}

export type Phase = "loading" | "replaying" | "ready"

export interface PipelineStatus {
  phase: Phase
  headAtStart: number
  readonly ingest: IngestState
  readonly snapshot: SnapshotStatus
}

/** Parse a UserState.periods key: `${window}:${period}` or `${window}:${period}:${agent}`. */
const periodKey = (k: string): { window: Window; period: string; board: string } | null => {
  const [w, p, agent] = k.split(":")
  if ((w !== "day" && w !== "week" && w !== "month") || p === undefined) return null
  return { window: w, period: p, board: agent === undefined ? "global" : `agent:${agent}` }
}

export const startPipeline = (o: PipelineOptions): Effect.Effect<Pipeline, PgError | import("../adapters/nats/NatsError.js").NatsError, Scope.Scope> =>
  Effect.gen(function*() {
    const info = yield* Effect.tryPromise({
      try: () => o.nats.jsm.streams.info(o.names.events),
      catch: (e) => new PgError({ reason: "query", retryable: true, message: `stream info: ${String(e)}` })
    })
    const streamCreated = info.created
    const checkpoint = yield* readCheckpoint(o.sql)
    if (checkpoint !== null && (checkpoint.stream !== o.names.events || checkpoint.streamCreated !== streamCreated)) {
      return yield* Effect.fail(new PgError({
        reason: "snapshot_mismatch",
        retryable: false,
        message: `the snapshot in Postgres belongs to stream ${checkpoint.stream} created ${checkpoint.streamCreated}, but ${o.names.events} was created ${streamCreated}: ` +
          "the stream was recreated. Point DATABASE_URL at a fresh database (or drop this one) to rebuild from the stream."
      }))
    }
    const status: PipelineStatus = {
      phase: "loading",
      headAtStart: info.state.last_seq,
      ingest: { applied: checkpoint?.seq ?? 0, streamTimeMs: checkpoint?.streamTimeMs ?? 0, pending: 0, gaps: 0 },
      snapshot: { inFlight: false, lastSeq: checkpoint?.seq ?? 0, lastAtMs: Date.now(), lastError: null, lastDurationMs: 0, lastUsers: 0 }
    }
    const scope = yield* Effect.scope
    const shards = Array.from({ length: o.shards }, (_, i) => new UserShard(i, o.rules, o.watchedUsers))
    const lookup = (id: string) => shards[shardOf(id, o.shards)]!.users.get(id)
    const boards = new Boards({
      lookup,
      latch: o.latch,
      periodGraceMs: o.rules.periodGraceMs,
      readArchive: (b, w, p, off, lim) => Effect.runPromise(readArchive(o.sql, b, w, p, off, lim)),
      now: () => Date.now(),
      emitView: o.emitView,
      emitRollover: o.emitRollover,
      watchedUsers: o.watchedUsers,
      notify: o.notify
    }, scope)
    boards.streamTimeMs = status.ingest.streamTimeMs

    // ---- load the snapshot and rebuild the boards from user state ----
    const t0 = Date.now()
    let loaded = 0
    const cpSeq = checkpoint?.seq ?? 0
    const cpTime = checkpoint?.streamTimeMs ?? 0
    const pending: UserState[] = []
    yield* loadUsers(o.sql, (rows) => {
      for (const json of rows) pending.push(restoreUserState(JSON.parse(json) as UserState))
      loaded += rows.length
      if (loaded % 100_000 < rows.length) o.log(`loading snapshot: ${loaded} users (${Math.round(loaded / Math.max(0.001, (Date.now() - t0) / 1000))}/s)`)
    })
    // Boards are derived state: rebuilt from the users' scores (closed periods are skipped).
    const byKey = new Map<string, import("./Board.js").Board>()
    const boardFor = (board: string, window: Window, period: string) => {
      const k = `${board}|${window}|${period}`
      let b = byKey.get(k)
      if (b === undefined) { b = Effect.runSync(boards.loadBoard({ board, window, period })); byKey.set(k, b) }
      return b
    }
    const parsed = new Map<string, ReturnType<typeof periodKey>>()
    for (const s of pending) {
      shards[shardOf(s.userId, o.shards)]!.load(s)
      boardFor("global", "all", "all").index.set(s.userId, s.totalXp, s.totalSeq)
      for (const agent in s.agents) boardFor(`agent:${agent}`, "all", "all").index.set(s.userId, s.agents[agent]!.xp, s.agentSeq[agent] ?? s.totalSeq)
      for (const k in s.periods) {
        let pk = parsed.get(k)
        if (pk === undefined) {
          const p = periodKey(k)
          pk = p === null || closesAtMs(p.window, p.period, o.rules) <= cpTime ? null : p
          parsed.set(k, pk)
        }
        if (pk === null) continue
        const sc = s.periods[k]!
        boardFor(pk.board, pk.window, pk.period).index.set(s.userId, sc.xp, sc.seq)
      }
    }
    pending.length = 0
    for (const b of boards.list()) { const board = boards.get(b); if (board) board.seq = cpSeq }
    o.log(`snapshot loaded: ${loaded} users, ${boards.list().length} boards at seq ${cpSeq} in ${Date.now() - t0} ms; stream head ${info.state.last_seq}`)

    // ---- actors ----
    const deadLetters = new DeadLetters(o.nats.js, o.names.dlqSubject)
    const snap = yield* spawnSnapshotter({
      stream: o.names.events,
      streamCreated,
      rulesVersion: o.rules.version,
      analytics: o.analytics,
      deadLettersSettled: () => deadLetters.settled(),
      write: (w) => writeSnapshot(o.sql, w),
      log: o.log,
      now: () => Date.now()
    }, status.snapshot, o.latch)
    const sequencer = yield* spawnSequencer({
      shards: o.shards,
      boards,
      analytics: o.analytics,
      deadLetter: (r) => deadLetters.publish(r.seq, r.reason, r.message, r.data),
      notify: o.notify,
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
      consumeFrom(o.nats.js, o.names.events, status.ingest.applied + 1, o.batchMax, (batch) => Effect.runPromise(ingest.send({ _tag: "Raw", batch })))
        .pipe(Effect.catchCause((c) => Deferred.fail(o.latch, { actor: "consumer", detail: String(c) } as ActorDefect).pipe(Effect.asVoid)))
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
