// What one stream message produces — the one home of that rule, used by the pipeline (the ingest
// actor admits, the user shard applies) and by `arena backfill` (both, in one call): decode, check
// Nats-Msg-Id == event_id, then run the engine on the user's state.
import { applyEvent, newUserState } from "./Engine.js"
import { decodeEventBytes } from "./Event.js"
import type { ApplyOutcome, RejectReason, StreamPosition, UserState, XpEvent } from "./Model.js"
import { pushAwardRecords, rejectionRecord } from "./Records.js"
import type { AnalyticsRecord } from "./Records.js"
import type { CompiledRules } from "./Rules.js"

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
  return { ok: true, event: d.event, timeMs: d.timeMs }
}

/**
 * The engine on a map of users: a user seen for the first time gets a fresh state, kept only once
 * an event of theirs is applied (a rejected first event leaves no user behind).
 */
export const applyToUsers = (
  users: Map<string, UserState>, ev: XpEvent, timeMs: number, pos: StreamPosition, rules: CompiledRules
): ApplyOutcome => {
  const known = users.get(ev.user_id)
  const state = known ?? newUserState(ev.user_id, ev.username)
  const out = applyEvent(state, ev, timeMs, pos, rules)
  if (out._tag === "Applied" && known === undefined) users.set(ev.user_id, state)
  return out
}

/** Both steps for one message, appending its analytics records to `out` (what backfill writes). */
export const messageRecords = (
  users: Map<string, UserState>, rules: CompiledRules, seq: number, streamTimeMs: number, data: Uint8Array, msgId: string | undefined,
  out: Array<AnalyticsRecord>
): void => {
  const a = admitMessage(data, msgId)
  if (!a.ok) { out.push(rejectionRecord(seq, streamTimeMs, a.reason, a.message, a.eventId)); return }
  const o = applyToUsers(users, a.event, a.timeMs, { seq, streamTimeMs }, rules)
  if (o._tag === "Rejected") { out.push(rejectionRecord(seq, streamTimeMs, o.rejection.reason, o.rejection.message, a.event.event_id)); return }
  pushAwardRecords(o.entry, out)
}
