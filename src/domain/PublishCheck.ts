// HTTP ingest's check before publishing: the same decoder and rules as the pipeline, with the
// caller's clock as "now" (time enters as data), so what is accepted here is what the pipeline applies.
import { encodeEventForPublish } from "./Event.js"
import type { Issue, RejectReason } from "./Model.js"
import { checkSemantics } from "./Rules.js"
import type { CompiledRules } from "./Rules.js"

/** The event JSON to publish, or why not. */
export type PublishCheck =
  | { ok: true; eventId: string; userId: string; json: string }
  | { ok: false; eventId: string | null; reason: RejectReason; message: string; issues: ReadonlyArray<Issue> }

export const checkForPublish = (item: unknown, rules: CompiledRules, nowMs: number): PublishCheck => {
  // The one size rule (16 KiB serialized) holds here too: `json` is exactly what gets published.
  const d = encodeEventForPublish(item)
  const id = typeof (item as { event_id?: unknown } | null)?.event_id === "string" ? (item as { event_id: string }).event_id : null
  if (!d.ok) return { ok: false, eventId: id, reason: d.rejection.reason, message: d.rejection.message, issues: d.rejection.issues }
  const r = checkSemantics(d.event, d.timeMs, rules, nowMs)
  if (r !== null) return { ok: false, eventId: d.event.event_id, reason: r.reason, message: r.message, issues: r.issues }
  return { ok: true, eventId: d.event.event_id, userId: d.event.user_id, json: d.json }
}
