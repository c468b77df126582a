// The rules history's storage (ARCHITECTURE §10): every rules version Arena has used, with its
// content hash, full text and the seq it is in force from. The Postgres adapter implements it
// (adapters/postgres/RulesStore.ts); recording a version is decided under the store's lock.
import type { Effect } from "effect"
import type { RecordedVersion } from "../domain/RulesHistory.js"
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
}

export interface RulesStore {
  /** Every recorded version in record order. */
  readonly history: Effect.Effect<ReadonlyArray<StoredRulesVersion>, PortFailure>
  /**
   * Under the store's lock (one starter at a time): reads the recorded versions, asks `decide`
   * whether to record one more (or to refuse, with a sentence), records it; returns every version
   * after that, in record order, and the refusal if any.
   */
  record(decide: (recorded: ReadonlyArray<StoredRulesVersion>) => RecordDecision): Effect.Effect<RecordOutcome, PortFailure>
}

export type RecordDecision = NewRulesVersion | null | { readonly refuse: string }

export interface RecordOutcome {
  readonly versions: ReadonlyArray<StoredRulesVersion>
  readonly recorded: NewRulesVersion | null
  readonly refused: string | null
}
