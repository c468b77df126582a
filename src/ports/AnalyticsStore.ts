// The analytics store the sink writes to (implemented by adapters/clickhouse/ClickHouseAnalyticsStore.ts):
// records in the store's own encoding, written in whole seqs, with watermarks that make a retry
// exactly-once.
import type { Effect } from "effect"
import type { AnalyticsRecord, RecordKind } from "./Analytics.js"
import type { PortFailure } from "./Failure.js"

/** The sink's state, for readiness and metrics. */
export interface AnalyticsStatus {
  readonly connected: boolean
  readonly bufferedRecords: number
  readonly durableSeq: number
  readonly submittedSeq: number
  readonly lastError: string | null
}

/** What the store knows about itself: everything <= durableSeq is complete; per kind, the highest seq present. */
export interface Watermarks {
  readonly durableSeq: number
  readonly maxSeq: Readonly<Record<RecordKind, number>>
}

/** A store failure as the sink sees it (the adapter's tagged error fits this shape). */
export type StoreFailure = PortFailure

/**
 * A record in the store's own encoding, made once when it is submitted: the sink buffers these
 * byte ranges (up to `maxBuffered` of them, many records sharing one slab) instead of object
 * graphs, which the GC would otherwise trace and promote while they wait, and a flush only copies
 * them. `part` is the store's partition key (ClickHouse: the month) — inserts never mix parts.
 */
export interface EncodedRecord {
  readonly kind: RecordKind
  readonly seq: number
  readonly part: number
  /** The record is `bytes[start, end)`; the slab is shared and never written there again. */
  readonly bytes: Uint8Array
  readonly start: number
  readonly end: number
}

/** The port the ClickHouse adapter implements. */
export interface AnalyticsStore {
  /** The record as `write` takes it (pure; called on the pipeline's turn, so it must be cheap). */
  encode(record: AnalyticsRecord): EncodedRecord
  /** Make the store consistent (schema, rollups) and read its watermarks. Start and before every retry. */
  readonly recover: Effect.Effect<Watermarks, StoreFailure>
  /**
   * Write records (seq order, whole seqs, none at or below the store's watermarks), then mark
   * everything through `throughSeq` complete. Per kind, writes are atomic and in seq order.
   */
  write(records: ReadonlyArray<EncodedRecord>, throughSeq: number): Effect.Effect<void, StoreFailure>
  /**
   * Erasure (ARCHITECTURE §11): deletes every record of the messages at `seqs` (an erased user's
   * messages) and rebuilds the rollups they fed. Idempotent; the sink never runs it beside a write.
   */
  eraseSeqs(seqs: ReadonlyArray<number>): Effect.Effect<void, StoreFailure>
}
