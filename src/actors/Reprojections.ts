// Retroactive applies in the service (ARCHITECTURE §10 "Re-projection"), driven through the
// Postgres state machine of ProjectionStore: pending → (shadow build, a child process, while the
// live pipeline keeps serving the projection in force; then its analytics records go into
// ClickHouse as the projection's rows) → built → (the supervisor stops the pipeline; ONE
// transaction switches the snapshot and the current projection; the sink reads and writes the new
// projection; the boards get a new epoch) → switched. A failed build is discarded. At a start, an
// open re-projection is resumed from its state: pending builds again from seq 1 (its rows already
// in ClickHouse are not inserted twice), built switches — so a crash at any moment leaves exactly
// one projection in force, and the apply completes once the service runs again.
import { Cause, Effect } from "effect"
import { backoff } from "../domain/Backoff.js"
import type { PortFailure } from "../ports/Failure.js"
import type { BuildProgress, ProjectionRowsLoader, ProjectionStore, ReprojectionBuilder, ReprojectionRow } from "../ports/Projections.js"
import type { ReprojectionView, RulesApplyOutcome } from "../ports/RulesApply.js"
import type { RulesCandidate } from "./EstablishRulesHistory.js"
import type { RestartRefused } from "./Supervisor.js"

export interface ReprojectionsDeps {
  readonly store: ProjectionStore
  readonly builder: ReprojectionBuilder
  /** The build's records into the analytics store as the projection's rows (before `built`). */
  readonly rows: ProjectionRowsLoader
  /**
   * Erasures (§11) win over a re-projection: the seqs of the messages of erasures under way (their
   * stream step waits for the switch, so every erasure not done is in this set or still to find
   * its rows, which it then deletes from every projection), skipped by the load; and the deletion
   * of rows at seqs an erasure recorded while the load ran.
   */
  readonly erasingSeqs: () => Promise<ReadonlySet<number>>
  readonly eraseRows: (seqs: ReadonlyArray<number>) => Promise<void>
  /**
   * Inside the switch, once Postgres switched (no pipeline running): the analytics sink and the
   * reads take the new projection's rows from here on.
   */
  readonly useProjection: (projection: number) => Effect.Effect<void>
  readonly restart: <A, E>(reason: string, between: Effect.Effect<A, E>) => Effect.Effect<A, E | RestartRefused>
  /** The stream's last seq (recorded with the request). */
  readonly headSeq: Effect.Effect<number, PortFailure>
  /** The boards' next attach starts a new epoch: every WebSocket client takes a fresh snapshot. */
  readonly newEpoch: () => void
  /** ARENA_REPROJECTION_STEP_PAUSE: a pause once the rows are in, before `built`, and once built, before the switch (tests kill -9 there). */
  readonly pauseMs: number
  readonly log: (line: string) => void
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))
/** A load ClickHouse refused (retryable): tried again 20 times, then the next start builds again. */
const LOAD_RETRY = backoff(200, 5000)

export class Reprojections {
  private progress: { projection: number; p: BuildProgress } | null = null
  private driving: number | null = null
  private closed = false

  constructor(private readonly d: ReprojectionsDeps) {}

  private run<A>(e: Effect.Effect<A, PortFailure>): Promise<A> {
    return Effect.runPromise(e)
  }

  private withProgress(r: ReprojectionRow): ReprojectionView {
    const p = this.progress?.projection === r.projection && r.state === "pending" ? this.progress.p : null
    return { ...r, progress: p }
  }

  async open(): Promise<ReprojectionView | null> {
    const r = await this.run(this.d.store.open)
    return r === null ? null : this.withProgress(r)
  }

  async last(): Promise<ReprojectionView | null> {
    const r = await this.run(this.d.store.last)
    return r === null ? null : this.withProgress(r)
  }

  /** Records the apply (pending) and drives it in the background; 202 with its row. */
  async start(c: RulesCandidate): Promise<RulesApplyOutcome> {
    const head = await this.run(this.d.headSeq)
    const b = await this.run(this.d.store.begin({ version: c.rules.version, contentHash: c.contentHash, body: c.body, headSeq: head }))
    if (!b.ok) return { ok: false, status: 409, code: b.conflict.startsWith("rules version") ? "rules_version_conflict" : "apply_running", message: b.conflict, details: [] }
    this.d.log(`re-projection ${b.row.projection}: rules ${c.rules.version} re-score the stream from seq 1 in a shadow state (stream head ${head}); the rules in force keep serving`)
    this.drive(b.row.projection)
    return { ok: true, status: 202, body: this.withProgress(b.row) }
  }

  /** At a start: an open re-projection carries on from its state. */
  async resume(): Promise<void> {
    const r = await this.run(this.d.store.open)
    if (r === null) return
    this.d.log(`re-projection ${r.projection} (rules ${r.version}) was ${r.state} when the service stopped: ${r.state === "pending" ? "building it again from seq 1" : "switching to it"}`)
    this.drive(r.projection)
  }

  close(): void {
    this.closed = true
    this.d.builder.close()
  }

  private drive(projection: number): void {
    if (this.driving !== null) return
    this.driving = projection
    this.steps(projection).catch((e: unknown) => this.d.log(`re-projection ${projection}: ${e instanceof Error ? e.message : String(e)}; it resumes at the next start`))
      .finally(() => { this.driving = null })
  }

  private async steps(projection: number): Promise<void> {
    let row = await this.run(this.d.store.get(projection))
    if (row?.state === "pending") {
      const out = await this.d.builder.build(projection, (p) => { this.progress = { projection, p } })
      if (this.closed) return
      row = await this.run(this.d.store.get(projection))
      if (!out.ok && row?.state === "pending") {
        await this.run(this.d.store.discard(projection, out.error))
        await this.run(this.d.rows.drop(projection))
        this.d.log(`re-projection ${projection} discarded: ${out.error}; the projection in force is unchanged`)
        return
      }
      if (out.ok && row?.state === "pending") {
        // Its rows go in before it is built: a crash here leaves it pending (built again, and the
        // rows already in are not inserted twice); once built, all of them are there.
        const erasing = await this.d.erasingSeqs()
        const l = await this.run(this.d.rows.load(projection, erasing).pipe(Effect.retry({ schedule: LOAD_RETRY, times: 20, while: (e) => e.retryable && !this.closed })))
        this.d.log(`re-projection ${projection}: its rows through seq ${l.throughSeq} are in ClickHouse as projection ${projection} (${l.inserted} inserted now, ${l.present} there already)`)
        // An erasure that found its seqs while the rows went in may have deleted before some landed.
        const late = [...await this.d.erasingSeqs()].filter((s) => !erasing.has(s))
        if (late.length > 0) {
          await this.d.eraseRows(late)
          this.d.log(`re-projection ${projection}: rows at ${late.length} seqs of erasures recorded during the load deleted`)
        }
        if (this.d.pauseMs > 0) await sleep(this.d.pauseMs)
        if (this.closed) return
        row = await this.run(this.d.store.markBuilt(projection))
        await this.run(this.d.rows.drop(projection))
      }
    }
    if (row?.state !== "built") return
    this.d.log(`re-projection ${projection}: built at seq ${row.built_seq}; switching`)
    if (this.d.pauseMs > 0) await sleep(this.d.pauseMs)
    const switchOnce = this.d.store.switchTo(projection).pipe(Effect.tap((ok) => ok ? this.d.useProjection(projection).pipe(Effect.andThen(Effect.sync(() => this.d.newEpoch()))) : Effect.void))
    for (;;) {
      if (this.closed) return
      const exit = await Effect.runPromise(Effect.exit(this.d.restart(`re-projection ${projection} (rules ${row.version}) is switching in`, switchOnce)))
      if (exit._tag === "Success") {
        this.d.log(exit.value
          ? `re-projection ${projection} switched: rules ${row.version} score every event from seq 1; boards have a new epoch`
          : `re-projection ${projection} was no longer built at the switch; nothing changed`)
        await this.run(this.d.rows.drop(projection)) // left by a crash between built and its removal
        return
      }
      const e = Cause.squash(exit.cause) as { _tag?: string; message?: string }
      if (e._tag !== "RestartRefused") throw new Error(`the switch failed (${e.message ?? String(e)})`)
      // No pipeline running right now (starting, restarting): wait for one, then switch.
      await sleep(500)
    }
  }
}
