// What the pipeline hands to analytics (ClickHouse): the records of each batch, and the sink that
// takes them (actors/AnalyticsActor.ts). Snapshots wait on awaitDurable so Postgres never records a
// cut that ClickHouse does not yet hold.
import type { Effect } from "effect"
import type { AnalyticsRecord } from "../domain/Records.js"

// The records themselves are the domain's (what a stream message produces).
export type { AnalyticsRecord, RecordKind } from "../domain/Records.js"
export { seqOf } from "../domain/Records.js"

/** What the pipeline writes to: the sink actor. */
export interface AnalyticsSink {
  /** Records of the events up to and including throughSeq, in seq order; suspends while the buffer is full. */
  submit(records: ReadonlyArray<AnalyticsRecord>, throughSeq: number): Effect.Effect<void>
  /** Resolves once everything with seq <= seq is durable in ClickHouse. */
  awaitDurable(seq: number): Effect.Effect<void>
}
