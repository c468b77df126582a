// What one stream message produces — the one home of that rule, used by the pipeline (the
// processor) and by `arena backfill`: decode, check Nats-Msg-Id == event_id, then run the engine
// on the user table. Every outcome is an award (ledger entry) or a rejection with its reason.
import { decodeErasureMessage, eraseUser, isErasureMsgId } from "./Erasure.js"
import { decodeEventBytes } from "./Event.js"
import type { LedgerEntry, RejectReason, XpEvent } from "./Model.js"
import { metadataText, pushAwardRecords, rejectionRecord } from "./Records.js"
import type { AnalyticsRecord } from "./Records.js"
import type { CompiledRules } from "./Rules.js"
import { applyEvent } from "./engine/Engine.js"
import type { BeforeWrite } from "./engine/Engine.js"
import type { EngineState } from "./engine/EngineState.js"

/** A message the engine may see, or why it may not (its event_id when it decoded). */
export type Admission =
  | { readonly ok: true; readonly event: XpEvent; readonly timeMs: number }
  | { readonly ok: false; readonly reason: RejectReason; readonly message: string; readonly eventId: string | null }

/**
 * Decode a message and check its Nats-Msg-Id header. JetStream's duplicate window dedupes only on
 * that header, so a message whose header is missing or differs from event_id is refused rather
 * than risking a double count.
 */
export const admitMessage = (data: Uint8Array, msgId: string | undefined): Admission => {
  const d = decodeEventBytes(data)
  if (!d.ok) return { ok: false, reason: d.rejection.reason, message: d.rejection.message, eventId: null }
  if (msgId !== d.event.event_id) {
    return {
      ok: false, reason: "msg_id_mismatch", eventId: d.event.event_id,
      message: msgId === undefined
        ? "the Nats-Msg-Id header is missing; it must equal event_id (that is what makes ingest idempotent)"
        : `the Nats-Msg-Id header ${JSON.stringify(msgId)} differs from event_id ${JSON.stringify(d.event.event_id)}`
    }
  }
  return d // the accepted decode result is the admission (no copy per message)
}

/** One stored message as the rule reads it. */
export interface StoredMessage {
  readonly seq: number
  readonly streamTimeMs: number
  readonly data: Uint8Array
  readonly msgId: string | undefined
}

export type MessageOutcome =
  | { readonly ok: true; readonly entry: LedgerEntry; readonly metadata: XpEvent["metadata"] }
  /** An erasure control message (domain/Erasure.ts): `held` says whether the state had the user. */
  | { readonly ok: true; readonly entry: null; readonly erasure: { readonly erasureId: string; readonly userId: string; readonly held: boolean } }
  | { readonly ok: false; readonly reason: RejectReason; readonly message: string; readonly eventId: string | null }

/** Both steps for one message: admit it, then apply it to its user (a rejected event writes nothing). */
export const applyMessage = (s: EngineState, rules: CompiledRules, m: StoredMessage, beforeWrite?: BeforeWrite): MessageOutcome => {
  if (isErasureMsgId(m.msgId)) return applyErasure(s, m.data, m.msgId, beforeWrite)
  const a = admitMessage(m.data, m.msgId)
  if (!a.ok) return a
  const o = applyEvent(s, a.event, a.timeMs, m, rules, beforeWrite) // the message is its own stream position
  if (o._tag === "Rejected") return { ok: false, reason: o.rejection.reason, message: o.rejection.message, eventId: a.event.event_id }
  return { ok: true, entry: o.entry, metadata: a.event.metadata }
}

const applyErasure = (s: EngineState, data: Uint8Array, msgId: string, beforeWrite?: BeforeWrite): MessageOutcome => {
  const d = decodeErasureMessage(data, msgId)
  if (!d.ok) return { ok: false, reason: "invalid_event", message: d.message, eventId: null }
  const held = eraseUser(s, d.value.user_id, beforeWrite)
  return { ok: true, entry: null, erasure: { erasureId: d.value.erasure_id, userId: d.value.user_id, held } }
}

/** The records a message leaves for analysts, appended to `out` (what backfill writes). */
export const messageRecords = (s: EngineState, rules: CompiledRules, m: StoredMessage, out: Array<AnalyticsRecord>): void => {
  const o = applyMessage(s, rules, m)
  if (o.ok) {
    if (o.entry !== null) pushAwardRecords(o.entry, out, metadataText(o.metadata))
  }
  else out.push(rejectionRecord(m.seq, m.streamTimeMs, o.reason, o.message, o.eventId))
}
