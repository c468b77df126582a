// The analytics store the sink writes to (implemented by adapters/clickhouse/ClickHouseAnalyticsStore.ts):
// records in the store's own encoding, written in whole seqs, with watermarks that make a retry
// exactly-once.
import type { Effect } from "effect"
import type { LedgerItem } from "../domain/Model.js"
import type { AnalyticsRecord, RecordKind } from "./Analytics.js"
import type { PortFailure } from "./Failure.js"
import type { RowLog } from "./RowLog.js"

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
 * One record in the store's own encoding, as an object: for one-off writes (backfill, tests). The
 * sink keeps its records as rows of a RowLog instead (columns, no object per record: objects that
 * wait seconds for a flush get promoted and traced by the GC). `part` is the store's partition key
 * (ClickHouse: the month) — inserts never mix parts.
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
  /**
   * Appends the record's row to `rows` (pure; called on the pipeline's turn, so it must be cheap)
   * and returns its index. Made once, when the record is submitted; a flush only copies the bytes.
   */
  encodeInto(record: AnalyticsRecord, rows: RowLog): number
  /** The ledger item (award or correction) row `i` of `rows` holds, exactly as submitted; null for other kinds. */
  ledgerItemOf(rows: RowLog, i: number): LedgerItem | null
  /** The record as an object `write` takes (one-off writes: backfill, tests). */
  encode(record: AnalyticsRecord): EncodedRecord
  /** Make the store consistent (schema, rollups) and read its watermarks. Start and before every retry. */
  readonly recover: Effect.Effect<Watermarks, StoreFailure>
  /**
   * Write records (seq order, whole seqs, none at or below the store's watermarks), then mark
   * everything through `throughSeq` complete. Per kind, writes are atomic and in seq order.
   */
  write(records: ReadonlyArray<EncodedRecord>, throughSeq: number): Effect.Effect<void, StoreFailure>
  /**
   * `write` of rows [0, count) of `rows` (the sink's buffer). The rows stay untouched until the
   * effect ends; rows appended meanwhile are not part of the write.
   */
  writeRows(rows: RowLog, count: number, throughSeq: number): Effect.Effect<void, StoreFailure>
  /**
   * Erasure (ARCHITECTURE §11): deletes every record of the messages at `seqs` (an erased user's
   * messages) and rebuilds the rollups they fed. Idempotent; the sink never runs it beside a write.
   */
  eraseSeqs(seqs: ReadonlyArray<number>): Effect.Effect<void, StoreFailure>
}
