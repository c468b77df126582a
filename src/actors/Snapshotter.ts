// The snapshot actor: writes each cut to Postgres in one transaction — only after the cut's dead
// letters are acked and ClickHouse holds its records, so a restart from it loses nothing and
// duplicates nothing. Postgres being down is retried with backoff; processing goes on meanwhile.
import { Deferred, Effect } from "effect"
import type { PeriodArchive, SnapshotWrite } from "../ports/Snapshots.js"
import type { PgError } from "../adapters/postgres/PgError.js"
import { spawn } from "./Actor.js"
import type { FailureLatch } from "./Actor.js"
import type { AnalyticsSink } from "../ports/Analytics.js"
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
  readonly deadLettersSettled: () => Promise<void>
  readonly write: (w: SnapshotWrite) => Effect.Effect<void, PgError>
  readonly log: (line: string) => void
  readonly now: () => number
}

export const spawnSnapshotter = (deps: SnapshotterDeps, status: SnapshotStatus, latch: FailureLatch) => {
  const waiters: Array<{ seq: number; done: Deferred.Deferred<void> }> = []

  const run = (job: SnapshotJob) =>
    Effect.gen(function*() {
      const started = deps.now()
      yield* Effect.promise(() => retryForever(deps.deadLettersSettled, (e) => { status.lastError = `dead letters: ${String(e)}` }))
      yield* deps.analytics.awaitDurable(job.seq)
      const archives: PeriodArchive[] = []
      for (const d of job.archives) archives.push(yield* Deferred.await(d))
      const write: SnapshotWrite = {
        checkpoint: { stream: deps.stream, streamCreated: deps.streamCreated, seq: job.seq, streamTimeMs: job.streamTimeMs, rulesVersion: deps.rulesVersion },
        users: job.users,
        archives
      }
      for (let attempt = 0; ; attempt++) {
        const r = yield* Effect.exit(deps.write(write))
        if (r._tag === "Success") break
        const msg = r.cause.toString().split("\n")[0] ?? "unknown"
        if (status.lastError === null || attempt % 10 === 0) deps.log(`snapshot at seq ${job.seq} failed (attempt ${attempt + 1}), retrying: ${msg}`)
        status.lastError = msg
        yield* Effect.sleep(Math.min(5_000, 100 * 2 ** Math.min(attempt, 6)))
      }
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

const retryForever = async (f: () => Promise<void>, onError: (e: unknown) => void): Promise<void> => {
  for (let attempt = 0; ; attempt++) {
    try { return await f() } catch (e) {
      onError(e)
      await new Promise((r) => setTimeout(r, Math.min(5_000, 100 * 2 ** Math.min(attempt, 6))))
    }
  }
}
