// The snapshot actor: writes each cut to Postgres in one transaction — only after the cut's dead
// letters are acked and ClickHouse holds its records, so a restart from it loses nothing and
// duplicates nothing. Postgres being down is retried with backoff; processing goes on meanwhile.
import { Deferred, Effect } from "effect"
import { backoff } from "../domain/Backoff.js"
import type { AnalyticsSink } from "../ports/Analytics.js"
import type { PortFailure } from "../ports/Failure.js"
import type { PeriodArchive, SnapshotWrite } from "../ports/Snapshots.js"
import { spawn } from "./Actor.js"
import type { FailureLatch } from "./Actor.js"
import type { SnapshotJob } from "./Sequencer.js"

export interface SnapshotStatus {
  inFlight: boolean
  lastSeq: number
  lastAtMs: number
  lastError: string | null
  lastDurationMs: number
  lastUsers: number
}

export interface SnapshotterDeps {
  readonly stream: string
  readonly streamCreated: string
  readonly rulesVersion: string
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
      yield* deps.deadLettersSettled.pipe(
        Effect.tapError((e) => Effect.sync(() => { status.lastError = `dead letters: ${e.message}` })),
        Effect.retry(RETRY),
        Effect.orDie // unreachable: the schedule retries forever
      )
      yield* deps.analytics.awaitDurable(job.seq)
      const archives: PeriodArchive[] = []
      for (const d of job.archives) archives.push(yield* Deferred.await(d))
      const write: SnapshotWrite = {
        checkpoint: { stream: deps.stream, streamCreated: deps.streamCreated, seq: job.seq, streamTimeMs: job.streamTimeMs, rulesVersion: deps.rulesVersion },
        users: job.users,
        archives
      }
      let attempt = 0
      yield* deps.write(write).pipe(
        Effect.tapError((e) => Effect.sync(() => {
          if (status.lastError === null || attempt % 10 === 0) deps.log(`snapshot at seq ${job.seq} failed (attempt ${attempt + 1}), retrying: ${e.message}`)
          status.lastError = e.message
          attempt++
        })),
        Effect.retry(RETRY),
        Effect.orDie
      )
      status.lastError = null
      status.lastSeq = job.seq
      status.lastAtMs = deps.now()
      status.lastDurationMs = status.lastAtMs - started
      status.lastUsers = job.users.length
      status.inFlight = false
      for (let i = waiters.length - 1; i >= 0; i--) {
        const w = waiters[i]!
        if (w.seq <= job.seq) { waiters.splice(i, 1); yield* Deferred.succeed(w.done, undefined) }
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
