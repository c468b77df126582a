// What the pipeline hands to analytics (ClickHouse): the records of each batch, and the sink that
// takes them (actors/AnalyticsActor.ts). Snapshots wait on awaitDurable so Postgres never records a
// cut that ClickHouse does not yet hold.
import type { Effect } from "effect"
import type { AnalyticsRecord, RecordOut } from "../domain/Records.js"

// The records themselves are the domain's (what a stream message produces).
export type { AnalyticsRecord, RecordKind, RecordOut } from "../domain/Records.js"
export { seqOf } from "../domain/Records.js"

/**
 * Records encoded as they are pushed (into columns of the store's encoding: no object kept per
 * record), handed to the sink by `submitStage`, which empties it.
 */
export interface RecordStage extends RecordOut {
  push(r: AnalyticsRecord): void
  /** Records pushed since the last submitStage. */
  readonly size: number
}

/** What the pipeline writes to: the sink actor. */
export interface AnalyticsSink {
  /** Records of the events up to and including throughSeq, in seq order; suspends while the buffer is full. */
  submit(records: ReadonlyArray<AnalyticsRecord>, throughSeq: number): Effect.Effect<void>
  /** A stage for one producer (the pipeline): push a slice's records into it as they are made. Optional: a sink without one takes arrays. */
  newStage?(): RecordStage
  /** `submit` of what `stage` holds (then emptied). */
  submitStage?(stage: RecordStage, throughSeq: number): Effect.Effect<void>
  /** Resolves once everything with seq <= seq is durable in ClickHouse. */
  awaitDurable(seq: number): Effect.Effect<void>
}
