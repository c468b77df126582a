// What one stream message produces — the one home of that rule, used by the pipeline (the
// processor) and by `arena backfill`: dispatch on the message's kind (MessageKind.ts, from its
// subject), decode, check Nats-Msg-Id (event_id, correction_id, settings_id, erasure/<erasure_id>),
// then run the engine on the user table. Every outcome is an award (ledger entry, with the event's
// metadata), a correction (its ledger entry), a settings change, an erasure, a tick (partitioned
// mode: it only brings stream time, which the caller takes from every message), or a rejection
// with its reason.
import { checkPartitionSubject, checkPartitionUser } from "./Partition.js"
import { decodeCorrectionBytes } from "./Correction.js"
import { decodeErasureMessage, eraseUser } from "./Erasure.js"
import { decodeEventBytes } from "./Event.js"
import { MSG_CORRECTION, MSG_ERASURE, MSG_EVENT, MSG_SETTINGS, MSG_TICK } from "./MessageKind.js"
import type { MessageKind } from "./MessageKind.js"
import { decodeSettingsBytes } from "./Settings.js"
import { summarize } from "./Issues.js"
import { applySettings } from "./engine/SettingsChange.js"
import type { SettingsApplied } from "./engine/SettingsChange.js"
import type { CorrectionEntry, LedgerEntry, RejectReason, XpEvent } from "./Model.js"
import { metadataText, pushAwardRecords, pushCorrectionRecords, rejectionRecord } from "./Records.js"
import type { AnalyticsRecord, RecordOut } from "./Records.js"
import type { CompiledRules } from "./Rules.js"
import { applyCorrection } from "./engine/Corrections.js"
import { applyEvent } from "./engine/Engine.js"
import type { BeforeWrite } from "./engine/Engine.js"
import type { EngineState } from "./engine/EngineState.js"

/** A message the engine may see, or why it may not (its event_id when it decoded). */
export type Admission =
  | { readonly ok: true; readonly event: XpEvent; readonly timeMs: number }
  | { readonly ok: false; readonly reason: RejectReason; readonly message: string; readonly eventId: string | null }

/**
 * The refusal of a message whose Nats-Msg-Id header is missing or differs from its id field (null
 * when it matches): JetStream's duplicate window dedupes only on that header.
 */
const msgIdMismatch = (msgId: string | undefined, field: string, id: string, why: string, eventId: string | null): Admission & { ok: false } | null =>
  msgId === id ? null : {
    ok: false, reason: "msg_id_mismatch", eventId,
    message: msgId === undefined
      ? `the Nats-Msg-Id header is missing; it must equal ${field} (${why})`
      : `the Nats-Msg-Id header ${JSON.stringify(msgId)} differs from ${field} ${JSON.stringify(id)}`
  }

/**
 * Decode a message and check its Nats-Msg-Id header. JetStream's duplicate window dedupes only on
 * that header, so a message whose header is missing or differs from event_id is refused rather
 * than risking a double count.
 */
export const admitMessage = (data: Uint8Array, msgId: string | undefined): Admission => {
  const d = decodeEventBytes(data)
  if (!d.ok) return { ok: false, reason: d.rejection.reason, message: d.rejection.message, eventId: null }
  return msgIdMismatch(msgId, "event_id", d.event.event_id, "that is what makes ingest idempotent", d.event.event_id) ?? d // the accepted decode result is the admission (no copy per message)
}

/** One stored message as the rule reads it. */
export interface StoredMessage {
  readonly seq: number
  readonly streamTimeMs: number
  readonly data: Uint8Array
  readonly msgId: string | undefined
  /** By its subject; absent means an event. */
  readonly kind?: MessageKind | undefined
  /** The subject, read only by a partition's consumer (partitioned mode), for the subject check. */
  readonly subject?: string | undefined
}

/** Partitioned mode: the partition a consumer reads, of how many (an event of another user is dead-lettered). */
export interface OwnedPartition { readonly partitions: number; readonly owned: number }

/** A message that was applied, by kind (`kind` tells which field is there), or why not. */
export type MessageOutcome =
  | { readonly ok: true; readonly kind: typeof MSG_EVENT; readonly entry: LedgerEntry; readonly metadata: XpEvent["metadata"] }
  | { readonly ok: true; readonly kind: typeof MSG_CORRECTION; readonly correction: CorrectionEntry }
  | { readonly ok: true; readonly kind: typeof MSG_SETTINGS; readonly settings: SettingsApplied }
  /** An erasure (domain/Erasure.ts): `held` says whether the state had the user. */
  | { readonly ok: true; readonly kind: typeof MSG_ERASURE; readonly erasure: { readonly erasureId: string; readonly userId: string; readonly held: boolean } }
  /** A tick (partitioned mode): nothing changes but stream time, which is the message's own timestamp. */
  | { readonly ok: true; readonly kind: typeof MSG_TICK }
  | { readonly ok: false; readonly reason: RejectReason; readonly message: string; readonly eventId: string | null }

/**
 * Both steps for one message: admit it, then apply it (a rejected message writes nothing). The
 * one dispatch on the message kind; events stay the straight path.
 */
export const applyMessage = (s: EngineState, rules: CompiledRules, m: StoredMessage, beforeWrite?: BeforeWrite, partition?: OwnedPartition): MessageOutcome => {
  const kind = m.kind ?? MSG_EVENT
  if (kind !== MSG_EVENT) return applyOther(s, rules, m, kind, beforeWrite, partition)
  const a = admitMessage(m.data, m.msgId)
  if (!a.ok) return a
  if (partition !== undefined) {
    // One user's state must never be split over two partitions (Partition.ts checkPartitionSubject).
    const c = checkPartitionSubject(m.subject ?? "", a.event.user_id, partition.partitions, partition.owned)
    if (!c.ok) return { ok: false, reason: c.reason, message: c.message, eventId: a.event.event_id }
  }
  const o = applyEvent(s, a.event, a.timeMs, m, rules, beforeWrite) // the message is its own stream position
  if (o._tag === "Rejected") return { ok: false, reason: o.rejection.reason, message: o.rejection.message, eventId: a.event.event_id }
  // A shadow build re-scoring history: what a void later in its range takes back (engine/Corrections.ts).
  const worth = s.voids.worth
  if (worth !== null && worth.has(m.seq)) worth.set(m.seq, o.entry.total_awarded)
  return { ok: true, kind: MSG_EVENT, entry: o.entry, metadata: a.event.metadata }
}

const TICK: MessageOutcome = { ok: true, kind: MSG_TICK }

/** Every kind but events: one case per kind. */
const applyOther = (s: EngineState, rules: CompiledRules, m: StoredMessage, kind: MessageKind, beforeWrite?: BeforeWrite, partition?: OwnedPartition): MessageOutcome => {
  /** Partitioned mode: the user a message names must be the owned partition's (Partition.ts checkPartitionUser). */
  const foreign = (userId: string, eventId: string | null): MessageOutcome | null => {
    if (partition === undefined) return null
    const c = checkPartitionUser(m.subject ?? "", userId, partition.partitions, partition.owned)
    return c.ok ? null : { ok: false, reason: c.reason, message: c.message, eventId }
  }
  switch (kind) {
    case MSG_CORRECTION: {
      const d = decodeCorrectionBytes(m.data)
      if (!d.ok) return { ok: false, reason: "invalid_correction", message: d.message, eventId: null }
      const c = d.message
      const mismatch = msgIdMismatch(m.msgId, "correction_id", c.correction_id, "that is what makes a correction count once", null)
      if (mismatch !== null) return mismatch
      const wrong = foreign(c.kind === "void" ? c.event.user_id : c.user_id, c.kind === "void" ? c.event_id : null)
      if (wrong !== null) return wrong
      const o = applyCorrection(s, c, m, rules, beforeWrite)
      if (!o.ok) return { ok: false, reason: o.reason, message: o.message, eventId: c.kind === "void" ? c.event_id : null }
      return { ok: true, kind: MSG_CORRECTION, correction: o.entry }
    }
    case MSG_SETTINGS: {
      const d = decodeSettingsBytes(m.data)
      if (!d.ok) return { ok: false, reason: "invalid_settings", message: `invalid settings: ${summarize(d.issues)}`, eventId: null }
      const c = d.value
      const mismatch = msgIdMismatch(m.msgId, "settings_id", c.settings_id, "that is what makes a change count once", null)
      if (mismatch !== null) return mismatch
      const wrong = foreign(c.user_id, null)
      if (wrong !== null) return wrong
      return { ok: true, kind: MSG_SETTINGS, settings: applySettings(s, c, beforeWrite) }
    }
    case MSG_ERASURE:
      return applyErasure(s, m.data, m.msgId, beforeWrite, foreign)
    case MSG_TICK:
      // Whatever its body or header: it awards nothing, so there is nothing to refuse (a tick is
      // never dead-lettered), and the time it brings is JetStream's, which no publisher sets.
      return TICK
    default:
      return { ok: false, reason: "invalid_event", message: `message kind ${String(kind)} is not known to this build`, eventId: null }
  }
}

/** The records an applied message leaves for analysts, appended to `out`. */
export const pushOutcomeRecords = (o: MessageOutcome & { readonly ok: true }, out: RecordOut): void => {
  if (o.kind === MSG_EVENT) pushAwardRecords(o.entry, out, metadataText(o.metadata))
  else if (o.kind === MSG_CORRECTION) pushCorrectionRecords(o.correction, out)
  // settings, erasures and ticks leave no analytics record
}

/** An erasure (`<prefix>.erasures`): the user leaves every board and the user table at this seq. */
const applyErasure = (s: EngineState, data: Uint8Array, msgId: string | undefined, beforeWrite: BeforeWrite | undefined, foreign: (userId: string, eventId: null) => MessageOutcome | null): MessageOutcome => {
  const d = decodeErasureMessage(data, msgId)
  if (!d.ok) return { ok: false, reason: "invalid_event", message: d.message, eventId: null }
  const wrong = foreign(d.value.user_id, null)
  if (wrong !== null) return wrong
  const held = eraseUser(s, d.value.user_id, beforeWrite)
  return { ok: true, kind: MSG_ERASURE, erasure: { erasureId: d.value.erasure_id, userId: d.value.user_id, held } }
}

/** The records a message leaves for analysts, appended to `out` (what backfill writes). */
export const messageRecords = (s: EngineState, rules: CompiledRules, m: StoredMessage, out: Array<AnalyticsRecord>): void => {
  const o = applyMessage(s, rules, m)
  if (o.ok) pushOutcomeRecords(o, out)
  else out.push(rejectionRecord(m.seq, m.streamTimeMs, o.reason, o.message, o.eventId))
}
