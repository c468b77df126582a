// The shadow build of a retroactive apply (ARCHITECTURE §10 "Re-projection"), run as a child
// process of the service (`arena rules reproject <projection>`), off the live path: the very
// pipeline the service runs (same engine, boards, period closing and cuts), started from an empty
// state under the new projection's history, consumes the stream from seq 1 to the head it saw at
// its start, then writes one snapshot into the shadow tables. Its analytics records go to `records`
// (stamped with the projection; the service loads them into ClickHouse, then marks the projection
// built: Reprojections.ts). No dead letters or notifications: the live pipeline owns those.
// Voids (§10): the build reads the stream up to the head it saw at its start and no further (the
// shadow snapshot is at that seq: the live pipeline replays what follows after the switch), and
// first reads the void messages of that range (`voids`), so that each void takes back what
// its event is worth under the new rules (engine/Corrections.ts) — not what it carries.
import { Data, Deferred, Effect } from "effect"
import { startPipeline } from "./Pipeline.js"
import type { ActorDefect } from "./Actor.js"
import type { RulesHistory } from "../domain/RulesHistory.js"
import type { EngineState } from "../domain/engine/EngineState.js"
import type { AnalyticsSink } from "../ports/Analytics.js"
import type { DeadLetterPort } from "../ports/DeadLetters.js"
import type { EventSource, VoidScan } from "../ports/EventSource.js"
import type { PortFailure } from "../ports/Failure.js"
import type { LiveFeedSink } from "../ports/LiveFeed.js"
import type { ProjectionStore, ShadowRecordsOut } from "../ports/Projections.js"
import type { SnapshotStore, SnapshotWrite } from "../ports/Snapshots.js"

/** How far the build is: seq applied of the head seen at its start. */
export interface ShadowBuildProgress {
  readonly seq: number
  readonly lastSeq: number
  readonly percent: number
  readonly eventsPerSecond: number
}

export interface ReprojectOptions {
  readonly events: EventSource
  /** The void messages of the build's range, read first (absent: voids take back what they carry). */
  readonly voids?: VoidScan
  readonly store: ProjectionStore
  readonly projection: number
  readonly history: RulesHistory
  /** Where the analytics records go (absent: nowhere). */
  readonly records?: ShadowRecordsOut
  readonly onProgress: (p: ShadowBuildProgress) => void
  readonly progressEveryMs?: number
  /** ARENA_REPROJECTION_STEP_PAUSE: a pause after the shadow snapshot, before the build ends (tests kill -9 there). */
  readonly pauseMs?: number
  readonly log: (line: string) => void
}

const NO_LETTERS: DeadLetterPort = { publish: () => {}, settled: Effect.void, health: { unstored: 0, attempts: 0, lastError: null }, close: () => {} }
const NO_ANALYTICS: AnalyticsSink = { submit: () => Effect.void, awaitDurable: () => Effect.void }
const NO_FEED: LiveFeedSink = { emitView: () => {}, emitRollover: () => {}, notify: () => {}, watchedUsers: new Set() }

/**
 * Closed periods' archives without users erased since (§11): the live erasure removed them from
 * the live archive; the replay archived them when the period closed, before their erasure.
 */
const withoutErased = (w: SnapshotWrite, state: EngineState): SnapshotWrite => ({
  ...w,
  archives: w.archives.map((a) => ({ ...a, entries: a.entries.filter((e) => state.users.uidOf(e.userId) >= 0) }))
})

/** The stream lost its start: the new rules cannot re-score it from seq 1. */
export class ShadowBuildError extends Data.TaggedError("ShadowBuildError")<{ readonly message: string; readonly retryable: false }> {}

/** What a finished build left: the shadow snapshot at `seq`, the records sealed through it. */
export interface ShadowBuilt {
  readonly projection: number
  readonly seq: number
  readonly users: number
}

export const buildShadowProjection = (o: ReprojectOptions): Effect.Effect<ShadowBuilt, PortFailure | ActorDefect | ShadowBuildError> =>
  Effect.scoped(Effect.gen(function*() {
    const head = yield* o.events.head
    if (head.messages > 0 && head.firstSeq > 1) {
      return yield* Effect.fail(new ShadowBuildError({
        retryable: false,
        message: `stream ${head.name} starts at seq ${head.firstSeq} (earlier messages were removed by its limits): a re-projection needs the whole stream`
      }))
    }
    // The build's range: seq 1 to the head now. The seqs its voids name get their award recorded.
    const bound = head.lastSeq
    const worth = new Map<number, number>()
    if (o.voids !== undefined) for (const [, seq] of yield* o.voids(bound)) worth.set(seq, 0)
    o.log(`re-projection ${o.projection}: re-scoring seq 1..${bound}; ${worth.size} voided event(s) in it take back what they are worth under the new rules`)
    const latch = yield* Deferred.make<never, ActorDefect>()
    const shadow = o.store.shadow(o.projection)
    let state: EngineState | null = null
    const snapshots: SnapshotStore = { ...shadow, write: (w) => shadow.write(state === null ? w : withoutErased(w, state)) }
    const t0 = Date.now()
    const p = yield* startPipeline({
      events: upTo(o.events, bound), voids: { projection: o.projection, worth }, snapshots, openDeadLetters: () => NO_LETTERS, analytics: o.records?.sink ?? NO_ANALYTICS, feed: NO_FEED, history: o.history,
      batchMax: 4096, snapshotIntervalMs: 24 * 3600_000, latch, log: o.log
    })
    state = p.boards.state
    const target = p.status.headAtStart
    const progress = (): ShadowBuildProgress => {
      const seq = p.status.ingest.applied
      return { seq, lastSeq: target, percent: target === 0 ? 100 : Math.min(100, (100 * seq) / target), eventsPerSecond: Math.round(seq / Math.max(0.001, (Date.now() - t0) / 1000)) }
    }
    while (p.status.ingest.applied < target) {
      if (yield* Deferred.isDone(latch)) return yield* Deferred.await(latch)
      o.onProgress(progress())
      yield* Effect.sleep(o.progressEveryMs ?? 500)
    }
    o.onProgress(progress())
    yield* p.drainAndSnapshot
    const seq = p.status.snapshot.lastSeq
    // The snapshot waited for its seq's records: every record through it is in `records`.
    if (o.records !== undefined) yield* o.records.finish(seq)
    o.log(`re-projection ${o.projection}: shadow snapshot at seq ${seq} (${p.boards.state.users.size} users) in ${Date.now() - t0} ms`)
    if ((o.pauseMs ?? 0) > 0) yield* Effect.sleep(o.pauseMs!)
    return { projection: o.projection, seq, users: p.boards.state.users.size }
  }))

/** `events` as if its head were `bound`: nothing after it is delivered. */
const upTo = (events: EventSource, bound: number): EventSource => ({
  head: events.head.pipe(Effect.map((h) => ({ ...h, lastSeq: Math.min(h.lastSeq, bound) }))),
  consumeFrom: (startSeq, batchMax, onBatch) => events.consumeFrom(startSeq, batchMax, (b) => {
    const last = b.events[b.events.length - 1]
    if (last === undefined || last.seq <= bound) return onBatch(last !== undefined && last.seq === bound ? { ...b, pending: 0 } : b)
    return onBatch({ events: b.events.filter((e) => e.seq <= bound), pending: 0 })
  })
})
