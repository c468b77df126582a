// What the pipeline hands to analytics (ClickHouse): the records of each batch, and the sink that
// takes them (actors/AnalyticsActor.ts). Snapshots wait on awaitDurable so Postgres never records a
// cut that ClickHouse does not yet hold.
import type { Effect } from "effect"
import type { LedgerEntry } from "../domain/Model.js"

export type AnalyticsRecord =
  | { kind: "award"; entry: LedgerEntry }
  | { kind: "level_up"; seq: number; user_id: string; from: number; to: number; stream_time: string }
  | { kind: "achievement"; seq: number; user_id: string; achievement: string; bonus: number; stream_time: string }
  | { kind: "rejection"; seq: number; reason: string; message: string; event_id: string | null; stream_time: string }

export type RecordKind = AnalyticsRecord["kind"]

/** The stream seq a record belongs to (every record of one event shares it). */
export const seqOf = (r: AnalyticsRecord): number => (r.kind === "award" ? r.entry.seq : r.seq)

/** What the pipeline writes to: the sink actor. */
export interface AnalyticsSink {
  /** Records of the events up to and including throughSeq, in seq order; suspends while the buffer is full. */
  submit(records: ReadonlyArray<AnalyticsRecord>, throughSeq: number): Effect.Effect<void>
  /** Resolves once everything with seq <= seq is durable in ClickHouse. */
  awaitDurable(seq: number): Effect.Effect<void>
}
