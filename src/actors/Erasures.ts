// The erasure actor (ARCHITECTURE §11 "Privacy"): runs each recorded erasure through its steps
// (ports/Erasures.ts), one erasure at a time, recording each finished step in Postgres before the
// next starts. Every step is idempotent, so after a kill -9 at any point the erasures not done are
// resumed at their recorded step when the service starts. A failing step is retried with backoff.
import { Effect, Latch } from "effect"
import type { Scope } from "effect"
import { backoff } from "../domain/Backoff.js"
import { ERASURE_ID } from "../domain/Erasure.js"
import type { ErasureAnalytics, ErasurePipeline, ErasurePort, ErasureRecord, ErasureStep, ErasureStore, ErasureStream } from "../ports/Erasures.js"
import { erasureView } from "../ports/Erasures.js"

export interface ErasureDeps {
  readonly store: ErasureStore
  readonly stream: ErasureStream
  readonly analytics: ErasureAnalytics
  readonly pipeline: ErasurePipeline
  readonly log: (line: string) => void
  /** How often a waiting step looks again (the pipeline's applied seq, its snapshots). */
  readonly pollMs?: number
  /** A pause after each recorded step (0; tests kill -9 between steps with it). */
  readonly stepPauseMs?: number
  /** Groups (§11): the user's own groups go, and they leave everyone else's member lists. */
  readonly groups?: { forgetUser(userId: string): Promise<void> }
  /**
   * Lists the pending erasures again this often, besides each `request` and `wake` (partitioned
   * mode: another process, the gateway, records them; a lost wake is found so). Unset: never.
   */
  readonly rescanMs?: number
  /**
   * A step that waits this long (on the pipeline, a snapshot, the analytics store, a call that
   * does not answer) is logged, naming what it waits for, and again each time as long (30 s).
   */
  readonly slowMs?: number
}

/** The erasure actor's port, and `wake`: look at the pending erasures now (one recorded elsewhere). */
export type ErasureRunner = ErasurePort & { readonly wake: () => void }

/** GET /v1/erasures/{id}: the record to whoever asked for it or an admin; null to anyone else. */
export const readErasure = (store: ErasureStore): ErasurePort["get"] => async (id, viewer) => {
  if (!ERASURE_ID.test(id)) return null
  const r = await store.get(id)
  if (r === null) return null
  if (!viewer.admin && !store.askedBy(r, viewer.sub)) return null
  return erasureView(r)
}

const RETRY = backoff(200, 5_000)

const call = <A>(what: string, f: () => Promise<A>, log: (l: string) => void) =>
  Effect.tryPromise({ try: f, catch: (e) => new Error(`${what}: ${e instanceof Error ? e.message : String(e)}`) }).pipe(
    Effect.tapError((e) => Effect.sync(() => log(`erasure: ${e.message} (retrying)`))),
    Effect.retry(RETRY),
    Effect.orDie // unreachable: the schedule retries forever
  )

export const startErasures = (deps: ErasureDeps): Effect.Effect<ErasureRunner, never, Scope.Scope> =>
  Effect.gen(function*() {
    const pollMs = deps.pollMs ?? 50
    const wake = Latch.makeUnsafe(true)
    const log = deps.log
    const pause = deps.stepPauseMs ?? 0
    const slowMs = deps.slowMs ?? 30_000
    /** The erasure being run (named in a slow step's log line). */
    let running = ""
    /**
     * `e`, logged when it takes longer than slowMs (and again every slowMs), naming what it waits
     * for and what it sees (`state`): a wait never ends silently (CI T1: four erasures waited at
     * step clickhouse for 240 s and nothing said on what).
     */
    const noted = <A, E, R>(what: string, e: Effect.Effect<A, E, R>, state?: () => string): Effect.Effect<A, E, R> =>
      Effect.suspend(() => {
        const id = running
        const t0 = Date.now()
        const timer = setInterval(() => {
          const seen = state?.()
          log(`${id === "" ? "erasures" : `erasure ${id}`}: ${what} for ${Math.round((Date.now() - t0) / 1000)} s${seen === undefined || seen === "" ? "" : ` (${seen})`}`)
        }, slowMs)
        timer.unref?.()
        return e.pipe(Effect.ensuring(Effect.sync(() => clearInterval(timer))))
      })
    const analyticsState = () => deps.analytics.describe?.() ?? ""
    const c = <A>(what: string, f: () => Promise<A>) => noted(`still ${what}`, call(what, f, log), analyticsState)
    /** Records a finished step (then pauses, when told to). */
    const advance = (id: string, next: ErasureStep, learned?: Parameters<ErasureStore["advance"]>[2]) =>
      c(`recording step ${next}`, () => deps.store.advance(id, next, learned)).pipe(Effect.andThen(pause > 0 ? Effect.sleep(pause) : Effect.void))

    /** Polls until `ready` holds (asking for a snapshot each time when `nudge`); `what` and `seen` name the wait in the slow log. */
    const waitFor = (what: string, seen: () => string, ready: () => boolean, nudge?: () => void) =>
      noted(`waiting for ${what}`, Effect.gen(function*() {
        while (!ready()) {
          nudge?.()
          yield* Effect.sleep(pollMs)
        }
      }), seen)
    const applied = (seq: number) => waitFor(`the pipeline to apply seq ${seq}`, () => `applied: ${deps.pipeline.applied() ?? "no pipeline running"}`, () => (deps.pipeline.applied() ?? 0) >= seq)
    const snapshotPast = (seq: number) => waitFor(`a committed snapshot at seq ${seq} or later`, () => `last snapshot: ${deps.pipeline.snapshotSeq() ?? "no pipeline running"}`,
      () => (deps.pipeline.snapshotSeq() ?? 0) >= seq, () => deps.pipeline.requestSnapshot())

    /** Erasures waiting at their stream step for a re-projection: the projection their rows were deleted under. */
    const holding = new Map<string, number>()

    const runOne = (first: ErasureRecord) =>
      Effect.gen(function*() {
        const id = first.id
        running = id
        const user = first.userId!
        let seq = first.eraseSeq ?? 0
        let seqs = first.streamSeqs
        let letters = first.letterSeqs
        // Waiting for a re-projection (below) since an earlier pass: its rows are gone already.
        const held = holding.get(id)
        // The projection in force as this run starts (§10): a switch before the stream step makes it redo what it can.
        let projection = held ?? (yield* c("reading the projections", () => deps.store.projections())).current
        switch (first.step) {
          case "publish": {
            seq = yield* c("publishing the erasure message", () => deps.stream.publish({ erasure_id: id, user_id: user }))
            yield* advance(id, "apply", { eraseSeq: seq })
          }
          // falls through
          case "apply": {
            // The pipeline applied the erasure message: the user left the boards and the user table.
            yield* applied(seq)
            yield* advance(id, "snapshot")
          }
          // falls through
          case "snapshot": {
            // A snapshot past the message is committed: a base (Pipeline.writeCut), so no stored
            // chunk holds the user, and no restart replays from before the message again.
            yield* snapshotPast(seq)
            yield* advance(id, "postgres")
          }
          // falls through
          case "postgres": {
            yield* c("scrubbing Postgres", () => deps.store.scrub(user, seq))
            const groups = deps.groups
            if (groups !== undefined) yield* c("removing the user from groups", () => groups.forgetUser(user))
            yield* advance(id, "clickhouse")
          }
          // falls through
          case "clickhouse": {
            if (held === undefined) {
              yield* c(`waiting for analytics to be durable through seq ${seq}`, () => deps.analytics.awaitDurable(seq))
              if (seqs === null || letters === null) {
                // The user's messages: their awards' and corrections' seqs (from ClickHouse), their
                // settings changes (from the settings subject: they leave no row) and their rejected
                // messages (from the dead letters, all stored by now: the snapshot waited for them).
                // Recorded before the rows they were found through go.
                const awarded = yield* c("reading the user's seqs", () => deps.analytics.userSeqs(user, seq))
                const settings = yield* c("scanning the settings messages", () => deps.stream.settingsOf(user, seq))
                // (a letter after the erasure message is of a new user with the same id: kept)
                const rejected = (yield* c("scanning the dead letters", () => deps.stream.rejectedOf(user))).filter((r) => r.event < seq)
                const found = [...new Set([...awarded, ...settings, ...rejected.map((r) => r.event).filter((s) => s > 0)])].sort((a, b) => a - b)
                seqs = [...found, seq]
                letters = rejected.map((r) => r.letter)
                const learned = { streamSeqs: seqs, letterSeqs: letters }
                yield* advance(id, "clickhouse", learned)
              }
            }
            const rows = seqs!.filter((s) => s !== seq) // (the erasure message left no records)
            if (held === undefined) yield* c("deleting ClickHouse rows", () => deps.analytics.deleteSeqs(rows))
            // The stream step never overlaps an open retroactive re-projection (§10): its shadow
            // state may hold the user (snapshot before the erasure message), its rows may go into
            // ClickHouse after ours went, and its switch replays from its shadow snapshot, where
            // only the erasure message (kept until then) removes them. Until it is switched or
            // discarded this erasure waits here (the others run meanwhile); once switched, what
            // can be done again is done again on the projection in force, then the messages go.
            // (Resumed past its snapshot step after a restart: a switch may have come before it.)
            const p = yield* c("reading the projections", () => deps.store.projections())
            if (p.open) {
              if (held === undefined) log(`erasure ${id}: a re-projection is open; the user's stream messages are erased once it is switched or discarded`)
              holding.set(id, projection)
              return false
            }
            holding.delete(id)
            if ((held === undefined && (first.step === "postgres" || first.step === "clickhouse")) || p.current !== projection) {
              yield* applied(seq)
              yield* snapshotPast(seq)
              yield* c("scrubbing Postgres", () => deps.store.scrub(user, seq))
              const groups = deps.groups
              if (groups !== undefined) yield* c("removing the user from groups", () => groups.forgetUser(user))
              yield* c(`waiting for analytics to be durable through seq ${seq}`, () => deps.analytics.awaitDurable(seq))
              yield* c("deleting ClickHouse rows", () => deps.analytics.deleteSeqs(rows))
              projection = p.current
            }
            // (false: a re-projection began, or one switched, since the look above: the next pass)
            if (!(yield* c("recording step stream", () => deps.store.enterStream(id, projection)))) {
              holding.set(id, -1) // never the current projection: the next pass redoes
              return false
            }
            if (pause > 0) yield* Effect.sleep(pause)
          }
          // falls through
          case "stream": {
            const all = seqs ?? [seq]
            const dead = letters ?? []
            // The erasure message itself goes too: the committed snapshot is past it, so no replay reads it.
            yield* c("erasing stream messages", () => deps.stream.erase("events", all))
            yield* c("erasing dead letters", () => deps.stream.erase("dead_letters", dead))
            yield* c("completing", () => deps.store.complete(id, all.length + dead.length))
            log(`erasure ${id} done: ${all.length} stream messages and ${dead.length} dead letters erased (erasure message at seq ${seq})`)
            break
          }
          case "done":
            break
        }
        return true
      })

    yield* Effect.forkScoped(Effect.forever(Effect.gen(function*() {
      yield* wake.await
      wake.closeUnsafe()
      running = ""
      const pending = yield* c("listing pending erasures", () => deps.store.pending())
      if (pending.length > 0) log(`erasures: ${pending.length} to run (${pending.map((p) => `${p.id} at ${p.step}`).join(", ")})`)
      let held = false
      for (const r of pending) if (!(yield* runOne(r))) held = true
      if (held) {
        // An erasure waits for a re-projection: looked at again shortly (the others ran meanwhile).
        yield* Effect.sleep(Math.max(pollMs, 250))
        wake.openUnsafe()
      }
    })))

    const rescan = deps.rescanMs
    if (rescan !== undefined) yield* Effect.forkScoped(Effect.forever(Effect.sleep(rescan).pipe(Effect.andThen(Effect.sync(() => wake.openUnsafe())))))

    return {
      request: async (userId, sub) => {
        const r = await deps.store.create(userId, sub)
        wake.openUnsafe()
        return erasureView(r)
      },
      get: readErasure(deps.store),
      wake: () => wake.openUnsafe()
    } satisfies ErasureRunner
  })
