// The snapshot actor: writes each cut to Postgres in one transaction — only after the cut's dead
// letters are acked and ClickHouse holds its records, so a restart from it loses nothing and
// duplicates nothing. A DLQ or Postgres outage is retried with backoff, for as long as it lasts (the
// cut waits; it never commits past a letter that is not stored); processing goes on meanwhile.
import { Deferred, Effect } from "effect"
import { backoff } from "../domain/Backoff.js"
import type { AnalyticsSink } from "../ports/Analytics.js"
import type { PortFailure } from "../ports/Failure.js"
import type { PeriodArchive, SnapshotWrite } from "../ports/Snapshots.js"
import { spawn } from "./Actor.js"
import type { FailureLatch } from "./Actor.js"
import type { CutResult } from "./Cut.js"

/** A finished cut, the period archives closed up to its seq, and how many users the state holds. */
export interface SnapshotJob {
  readonly cut: CutResult
  readonly archives: ReadonlyArray<PeriodArchive>
  readonly usersHeld: number
}

export interface SnapshotStatus {
  inFlight: boolean
  lastSeq: number
  lastAtMs: number
  lastError: string | null
  /** What the last error came from: dead letters not yet stored, or Postgres refusing the write. */
  lastErrorFrom: "dead_letters" | "postgres" | null
  lastDurationMs: number
  lastUsers: number
  lastBytes: number
  /** Bytes of the stored base and of the deltas written since: a base is due once deltas outgrow it. */
  baseBytes: number
  deltaBytes: number
}

export interface SnapshotterDeps {
  readonly stream: string
  readonly streamCreated: string
  readonly rulesVersion: string
  /** The projection this pipeline scores (§10 re-projection): a write is refused once another is current. */
  readonly projection?: number
  readonly analytics: AnalyticsSink
  /** Succeeds once every dead letter published so far is stored. */
  readonly deadLettersSettled: Effect.Effect<void, PortFailure>
  readonly write: (w: SnapshotWrite) => Effect.Effect<void, PortFailure>
  readonly log: (line: string) => void
  readonly now: () => number
}

/** Postgres (or the dead-letter stream) being down delays snapshots: retried with back-off, forever. */
const RETRY = backoff(100, 5_000)

export const spawnSnapshotter = (deps: SnapshotterDeps, status: SnapshotStatus, latch: FailureLatch) => {
  const waiters: Array<{ seq: number; done: Deferred.Deferred<void> }> = []

  const run = (job: SnapshotJob) =>
    Effect.gen(function*() {
      const started = deps.now()
      const cut = job.cut
      yield* deps.deadLettersSettled.pipe(
        Effect.tapError((e) => Effect.sync(() => { status.lastError = `dead letters: ${e.message}`; status.lastErrorFrom = "dead_letters" })),
        Effect.retry(RETRY),
        Effect.orDie // unreachable: the schedule retries forever
      )
      yield* deps.analytics.awaitDurable(cut.seq)
      const baseBytes = cut.base ? cut.bytes : status.baseBytes
      const deltaBytes = cut.base ? 0 : status.deltaBytes + cut.bytes
      const write: SnapshotWrite = {
        checkpoint: {
          stream: deps.stream, streamCreated: deps.streamCreated, seq: cut.seq, streamTimeMs: cut.streamTimeMs, rulesVersion: deps.rulesVersion,
          users: job.usersHeld, baseBytes, deltaBytes,
          ...(deps.projection === undefined ? {} : { projection: deps.projection })
        },
        chunks: cut.chunks,
        base: cut.base,
        users: cut.users,
        archives: job.archives
      }
      let attempt = 0
      yield* deps.write(write).pipe(
        Effect.tapError((e) => Effect.sync(() => {
          if (status.lastError === null || attempt % 10 === 0) deps.log(`snapshot at seq ${cut.seq} failed (attempt ${attempt + 1}), retrying: ${e.message}`)
          status.lastError = e.message
          status.lastErrorFrom = "postgres"
          attempt++
        })),
        Effect.retry(RETRY),
        Effect.orDie
      )
      status.lastError = null
      status.lastErrorFrom = null
      status.lastSeq = cut.seq
      status.lastAtMs = deps.now()
      status.lastDurationMs = status.lastAtMs - started
      status.lastUsers = cut.users
      status.lastBytes = cut.bytes
      status.baseBytes = baseBytes
      status.deltaBytes = deltaBytes
      status.inFlight = false
      for (let i = waiters.length - 1; i >= 0; i--) {
        const w = waiters[i]!
        if (w.seq <= cut.seq) { waiters.splice(i, 1); yield* Deferred.succeed(w.done, undefined) }
      }
    })

  return spawn<SnapshotJob>("snapshotter", 16, latch, (jobs) => Effect.forEach(jobs, run, { discard: true })).pipe(
    Effect.map((mailbox) => ({
      mailbox,
      /** Resolves when a snapshot at or past `seq` is committed. */
      whenSaved: (seq: number) =>
        Effect.gen(function*() {
          if (status.lastSeq >= seq) return
          const done = yield* Deferred.make<void>()
          waiters.push({ seq, done })
          yield* Deferred.await(done)
        })
    }))
  )
}
