// The records a stream message leaves behind for analysts: the award (the ledger entry), a level
// change, each achievement unlocked, or the rejection. Every record of one message shares its seq.
import type { CorrectionEntry, LedgerEntry, RejectReason } from "./Model.js"

export type AnalyticsRecord =
  // projection: the scoring it belongs to (ARCHITECTURE §10 "Re-projection"); absent: the one in force.
  | { kind: "award"; entry: LedgerEntry; metadata?: string | undefined; projection?: number | undefined }
  | { kind: "correction"; entry: CorrectionEntry }
  | { kind: "level_up"; seq: number; user_id: string; from: number; to: number; stream_time: string }
  | { kind: "achievement"; seq: number; user_id: string; achievement: string; bonus: number; stream_time: string }
  | { kind: "rejection"; seq: number; reason: string; message: string; event_id: string | null; stream_time: string }

export type RecordKind = AnalyticsRecord["kind"]

/** Where records go as they are made: an array, or an encoder that keeps no object per record. */
export interface RecordOut {
  push(r: AnalyticsRecord): unknown
}

/** The stream seq a record belongs to (every record of one event shares it). */
export const seqOf = (r: AnalyticsRecord): number => (r.kind === "award" || r.kind === "correction" ? r.entry.seq : r.seq)

/**
 * The event's metadata as the award row keeps it (JSON text; undefined when the event had none, so
 * an event without metadata costs nothing here).
 */
export const metadataText = (m: Readonly<Record<string, unknown>> | undefined): string | undefined =>
  m === undefined ? undefined : JSON.stringify(m)

/** An applied event's records, in order: the award (with its event's metadata), the level change (if any), each bonus. */
export const pushAwardRecords = (e: LedgerEntry, out: RecordOut, metadata?: string): void => {
  out.push({ kind: "award", entry: e, metadata })
  if (e.level_after !== e.level_before) {
    out.push({ kind: "level_up", seq: e.seq, user_id: e.user_id, from: e.level_before, to: e.level_after, stream_time: e.stream_time })
  }
  for (const b of e.bonuses) {
    out.push({ kind: "achievement", seq: e.seq, user_id: e.user_id, achievement: b.achievement, bonus: b.xp, stream_time: e.stream_time })
  }
}

/** An applied correction's records: the correction, and a level change when it raised the level. */
export const pushCorrectionRecords = (e: CorrectionEntry, out: RecordOut): void => {
  out.push({ kind: "correction", entry: e })
  if (e.level_after > e.level_before) {
    out.push({ kind: "level_up", seq: e.seq, user_id: e.user_id, from: e.level_before, to: e.level_after, stream_time: e.stream_time })
  }
}

/** A rejected message's record (the JetStream time is the record's time). */
export const rejectionRecord = (seq: number, streamTimeMs: number, reason: RejectReason, message: string, eventId: string | null): AnalyticsRecord =>
  ({ kind: "rejection", seq, reason, message, event_id: eventId, stream_time: new Date(streamTimeMs).toISOString() })
