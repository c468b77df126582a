// The rules history's storage (ARCHITECTURE §10): every rules version Arena has used, with its
// content hash, full text and the seq it is in force from. The Postgres adapter implements it
// (adapters/postgres/RulesStore.ts); recording a version is decided under the store's lock.
import type { Effect } from "effect"
import type { RecordedVersion, RulesSource } from "../domain/RulesHistory.js"
import type { PortFailure } from "./Failure.js"

/** A stored version with its text (the rules file as first given) and when it was recorded. */
export interface StoredRulesVersion extends RecordedVersion {
  readonly body: string
  /** ISO time. */
  readonly recordedAt: string
}

/** A version to record. */
export interface NewRulesVersion {
  readonly version: string
  readonly contentHash: string
  readonly body: string
  readonly effectiveFromSeq: number
  /** The stream's last seq when it was decided (the log line and the row say why that seq). */
  readonly headSeq: number
  /** Default "start". */
  readonly source?: RulesSource
}

/** Every version string ever recorded (any projection) with its content hash. */
export interface KnownRulesVersion {
  readonly version: string
  readonly contentHash: string
}

export interface RulesStore {
  /** Every recorded version of the current projection in record order. */
  readonly history: Effect.Effect<ReadonlyArray<StoredRulesVersion>, PortFailure>
  /** Every version string ever recorded, in any projection. */
  readonly known: Effect.Effect<ReadonlyArray<KnownRulesVersion>, PortFailure>
  /**
   * Under the store's lock (one starter at a time): reads the current projection's recorded
   * versions (and every version known in any projection), asks `decide` whether to record one more
   * (or to refuse, with a sentence), records it in the current projection; returns every version
   * after that, in record order, the refusal if any, and the current projection.
   */
  record(decide: (recorded: ReadonlyArray<StoredRulesVersion>, known: ReadonlyArray<KnownRulesVersion>) => RecordDecision): Effect.Effect<RecordOutcome, PortFailure>
}

export type RecordDecision = NewRulesVersion | null | { readonly refuse: string }

export interface RecordOutcome {
  readonly versions: ReadonlyArray<StoredRulesVersion>
  readonly recorded: NewRulesVersion | null
  readonly refused: string | null
  /** The projection these versions belong to (0 until a retroactive apply switched). */
  readonly projection: number
}
