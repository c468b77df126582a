// Projections (ARCHITECTURE §10 "Re-projection"): the Postgres-recorded state machine of a
// retroactive apply — pending (the shadow state is being built) → built (its snapshot waits in
// shadow tables) → switched (one transaction made it the current projection), or discarded — and
// the shadow snapshot the builder writes. Implemented by adapters/postgres/ProjectionStore.ts.
import type { Effect } from "effect"
import type { AnalyticsSink } from "./Analytics.js"
import type { PortFailure } from "./Failure.js"
import type { ReprojectionView } from "./RulesApply.js"
import type { SnapshotStore } from "./Snapshots.js"
import type { StoredRulesVersion } from "./RulesStore.js"

export type ReprojectionRow = Omit<ReprojectionView, "progress">

export type BeginOutcome =
  | { readonly ok: true; readonly row: ReprojectionRow }
  | { readonly ok: false; readonly conflict: string }

export interface ProjectionStore {
  /** The current projection (0 until a re-projection switched). */
  readonly current: Effect.Effect<number, PortFailure>
  /** The pending or built re-projection, if any (at most one). */
  readonly open: Effect.Effect<ReprojectionRow | null, PortFailure>
  /** The latest re-projection in any state. */
  readonly last: Effect.Effect<ReprojectionRow | null, PortFailure>
  get(projection: number): Effect.Effect<ReprojectionRow | null, PortFailure>
  /**
   * Records a retroactive apply as pending: the version (refused when its string names other
   * content, or when one is already open), a new projection whose history is that version from
   * seq 1. The projection in force is untouched.
   */
  begin(v: { readonly version: string; readonly contentHash: string; readonly body: string; readonly headSeq: number }): Effect.Effect<BeginOutcome, PortFailure>
  /** The rules history of a projection (the re-projection's: its version from seq 1). */
  history(projection: number): Effect.Effect<ReadonlyArray<StoredRulesVersion>, PortFailure>
  /** The shadow snapshot store of a pending projection: starts empty; a write is refused unless it is still pending. */
  shadow(projection: number): SnapshotStore
  /** pending → built at the shadow checkpoint's seq (refused unless pending with a shadow snapshot). */
  markBuilt(projection: number): Effect.Effect<ReprojectionRow, PortFailure>
  /**
   * built → switched in ONE transaction: the shadow snapshot replaces the live one (chunks,
   * archives, checkpoint), the projection becomes current. Returns false (and changes nothing)
   * unless it is built.
   */
  switchTo(projection: number): Effect.Effect<boolean, PortFailure>
  /** pending/built → discarded with a reason; its shadow rows go. */
  discard(projection: number, reason: string): Effect.Effect<void, PortFailure>
}

/** How far a shadow build is (the dry run's progress shape). */
export interface BuildProgress {
  readonly seq: number
  readonly last_seq: number
  readonly percent: number
  readonly events_per_second: number
}

export type BuildOutcome = { readonly ok: true } | { readonly ok: false; readonly error: string }

/** Runs a pending projection's shadow build off the live path (adapters/process/ReprojectionBuilds.ts). */
export interface ReprojectionBuilder {
  build(projection: number, onProgress: (p: BuildProgress) => void): Promise<BuildOutcome>
  close(): void
}

/**
 * Where a shadow build's analytics records go (the child cannot write to the embedded engine the
 * service holds): `sink` takes them as the pipeline makes them, stamped with the projection;
 * `finish` seals them once the shadow snapshot is at `throughSeq`.
 */
export interface ShadowRecordsOut {
  readonly sink: AnalyticsSink
  finish(throughSeq: number): Effect.Effect<void, PortFailure>
}

/** What a load did: rows inserted now, rows found there already (an earlier, interrupted load). */
export interface ProjectionRowsLoad {
  readonly throughSeq: number
  readonly inserted: number
  readonly present: number
}

/**
 * The service's side (adapters/clickhouse/ProjectionRows.ts): the sealed records of a shadow build
 * go into the analytics store as the projection's rows, before it is built; exactly once across
 * restarts. `drop` removes what the build left (once built, or discarded).
 */
export interface ProjectionRowsLoader {
  /** `skip`: seqs whose rows are not loaded (the messages of erasures under way, §11). */
  load(projection: number, skip?: ReadonlySet<number>): Effect.Effect<ProjectionRowsLoad, PortFailure>
  drop(projection: number): Effect.Effect<void>
}
