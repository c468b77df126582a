// Retroactive applies in the service (ARCHITECTURE §10 "Re-projection"), driven through the
// Postgres state machine of ProjectionStore: pending → (shadow build, a child process, while the
// live pipeline keeps serving the projection in force) → built → (the supervisor stops the
// pipeline; ONE transaction switches the snapshot and the current projection; the boards get a
// new epoch) → switched. A failed build is discarded. At a start, an open re-projection is resumed
// from its state: pending builds again from seq 1, built switches — so a crash at any moment
// leaves exactly one projection in force, and the apply completes once the service runs again.
import { Cause, Effect } from "effect"
import type { PortFailure } from "../ports/Failure.js"
import type { BuildProgress, ProjectionStore, ReprojectionBuilder, ReprojectionRow } from "../ports/Projections.js"
import type { ReprojectionView, RulesApplyOutcome } from "../ports/RulesApply.js"
import type { RulesCandidate } from "./EstablishRulesHistory.js"
import type { RestartRefused } from "./Supervisor.js"

export interface ReprojectionsDeps {
  readonly store: ProjectionStore
  readonly builder: ReprojectionBuilder
  readonly restart: <A, E>(reason: string, between: Effect.Effect<A, E>) => Effect.Effect<A, E | RestartRefused>
  /** The stream's last seq (recorded with the request). */
  readonly headSeq: Effect.Effect<number, PortFailure>
  /** The boards' next attach starts a new epoch: every WebSocket client takes a fresh snapshot. */
  readonly newEpoch: () => void
  /** ARENA_REPROJECTION_STEP_PAUSE: a pause once built, before the switch (tests kill -9 there). */
  readonly pauseMs: number
  readonly log: (line: string) => void
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

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
        this.d.log(`re-projection ${projection} discarded: ${out.error}; the projection in force is unchanged`)
        return
      }
    }
    if (row?.state !== "built") return
    this.d.log(`re-projection ${projection}: built at seq ${row.built_seq}; switching`)
    if (this.d.pauseMs > 0) await sleep(this.d.pauseMs)
    const switchOnce = this.d.store.switchTo(projection).pipe(Effect.tap((ok) => Effect.sync(() => { if (ok) this.d.newEpoch() })))
    for (;;) {
      if (this.closed) return
      const exit = await Effect.runPromise(Effect.exit(this.d.restart(`re-projection ${projection} (rules ${row.version}) is switching in`, switchOnce)))
      if (exit._tag === "Success") {
        this.d.log(exit.value
          ? `re-projection ${projection} switched: rules ${row.version} score every event from seq 1; boards have a new epoch`
          : `re-projection ${projection} was no longer built at the switch; nothing changed`)
        return
      }
      const e = Cause.squash(exit.cause) as { _tag?: string; message?: string }
      if (e._tag !== "RestartRefused") throw new Error(`the switch failed (${e.message ?? String(e)})`)
      // No pipeline running right now (starting, restarting): wait for one, then switch.
      await sleep(500)
    }
  }
}
