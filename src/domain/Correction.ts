// The correction contract (ARCHITECTURE §10): the body of POST /v1/corrections, the message it
// becomes on `<prefix>.corrections` (the request, who asked, and — for a void — the facts of the
// voided award, read from the ledger at the door so a replay needs nothing but the stream), and
// their decoders with one issue per bad field.
import { Schema } from "effect"
import type { Exit } from "effect"
import type { Issue } from "./Model.js"
import { AgentName, EventId, Timestamp, UserId } from "./Event.js"
import { storableText } from "./EventFastPath.js"
import { issuesOfExit, summarize } from "./Issues.js"

/** An adjustment moves a user by at most this much XP either way. */
export const MAX_ADJUST_XP = 1_000_000
export const MAX_REASON_CHARS = 500
/** A correction message is small: anything bigger is not one Arena wrote. */
export const MAX_CORRECTION_BYTES = 4 * 1024

const Str = Schema.String.annotate({ message: "must be a string" })
const Int = Schema.Number.annotate({ message: "must be a number" }).check(Schema.isInt({ message: "must be an integer" }))

export const CorrectionId = EventId.annotate({ description: "Idempotency key of the correction (also its Nats-Msg-Id)" })

const Reason = Str.check(
  Schema.isMinLength(1, { message: "must not be empty" }),
  Schema.isMaxLength(MAX_REASON_CHARS, { message: `must be at most ${MAX_REASON_CHARS} characters` }),
  Schema.makeFilter((s: string) => storableText(s) || "must be well-formed text without NUL characters", {
    description: "no U+0000, no lone surrogates", toJsonSchema: () => ({})
  })
).annotate({ description: "Why: shown in the ledger entry the correction leaves" })

const AdjustXp = Int.check(
  Schema.makeFilter((n: number) => n !== 0 || "must not be 0", { description: "non-zero", toJsonSchema: () => ({ not: { const: 0 } }) }),
  Schema.isGreaterThanOrEqualTo(-MAX_ADJUST_XP, { message: `must be at least -${MAX_ADJUST_XP}` }),
  Schema.isLessThanOrEqualTo(MAX_ADJUST_XP, { message: `must be at most ${MAX_ADJUST_XP}` })
).annotate({ description: `XP to add (negative: to take away), non-zero, |xp| ≤ ${MAX_ADJUST_XP}` })

export const VoidRequestSchema = Schema.Struct({
  correction_id: CorrectionId,
  kind: Schema.Literal("void").annotate({ message: "must be \"void\" or \"adjust\"" }),
  event_id: EventId.annotate({ description: "The applied event whose award is removed" }),
  reason: Reason
}).annotate({ title: "VoidCorrection", message: "must be a JSON object" })

export const AdjustRequestSchema = Schema.Struct({
  correction_id: CorrectionId,
  kind: Schema.Literal("adjust").annotate({ message: "must be \"void\" or \"adjust\"" }),
  user_id: UserId,
  xp: AdjustXp,
  agent_name: Schema.optionalKey(AgentName.annotate({ description: "Also moves the user on this agent's boards" })),
  reason: Reason
}).annotate({ title: "AdjustCorrection", message: "must be a JSON object" })

export type VoidRequest = typeof VoidRequestSchema.Type
export type AdjustRequest = typeof AdjustRequestSchema.Type
export type CorrectionRequest = VoidRequest | AdjustRequest

/** The voided award as the ledger holds it: what the processor takes away, and from which boards. */
export const VoidedAwardSchema = Schema.Struct({
  seq: Int.check(Schema.isGreaterThan(0, { message: "must be positive" })),
  user_id: UserId,
  agent_name: AgentName,
  /** total_awarded of the ledger entry: xp plus bonuses. */
  xp: Int.check(Schema.isGreaterThanOrEqualTo(0, { message: "must not be negative" })),
  /** The event's own timestamp: its day, week and month boards. */
  event_time: Timestamp,
  /**
   * The projection (§10 re-projection) whose ledger `xp` was read from. A void is applied only
   * where that projection is in force (engine/Corrections.ts); absent in messages written before
   * it existed (then: the projection current when they were asked).
   */
  projection: Schema.optionalKey(Int.check(Schema.isGreaterThanOrEqualTo(0, { message: "must not be negative" })))
})
export type VoidedAward = typeof VoidedAwardSchema.Type

const By = Schema.optionalKey(Str.check(Schema.isMaxLength(128, { message: "must be at most 128 characters" })))

export const VoidMessageSchema = Schema.Struct({ ...VoidRequestSchema.fields, by: By, event: VoidedAwardSchema })
export const AdjustMessageSchema = Schema.Struct({ ...AdjustRequestSchema.fields, by: By })
export type VoidMessage = typeof VoidMessageSchema.Type
export type AdjustMessage = typeof AdjustMessageSchema.Type
export type CorrectionMessage = VoidMessage | AdjustMessage

const PARSE = { errors: "all", onExcessProperty: "error" } as const
const decodeVoidRequest = Schema.decodeUnknownExit(VoidRequestSchema, PARSE)
const decodeAdjustRequest = Schema.decodeUnknownExit(AdjustRequestSchema, PARSE)
const decodeVoidMessage = Schema.decodeUnknownExit(VoidMessageSchema, PARSE)
const decodeAdjustMessage = Schema.decodeUnknownExit(AdjustMessageSchema, PARSE)

export type Decoded<T> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly issues: ReadonlyArray<Issue> }

const byKind = <V, A>(u: unknown, v: (u: unknown) => Exit.Exit<V, Schema.SchemaError>, a: (u: unknown) => Exit.Exit<A, Schema.SchemaError>): Decoded<V | A> => {
  if (typeof u !== "object" || u === null || Array.isArray(u)) return { ok: false, issues: [{ path: "", message: "must be a JSON object" }] }
  const kind = (u as { kind?: unknown }).kind
  if (kind === undefined) return { ok: false, issues: [{ path: "kind", message: "is required" }] }
  if (kind !== "void" && kind !== "adjust") return { ok: false, issues: [{ path: "kind", message: "must be \"void\" or \"adjust\"" }] }
  const exit = kind === "void" ? v(u) : a(u)
  return exit._tag === "Success" ? { ok: true, value: exit.value } : { ok: false, issues: issuesOfExit(exit) }
}

/** The body of POST /v1/corrections, field by field. */
export const decodeCorrectionRequest = (u: unknown): Decoded<CorrectionRequest> => byKind(u, decodeVoidRequest, decodeAdjustRequest)

/** A correction message's payload (as published), or why it is not one. */
export const decodeCorrectionMessage = (u: unknown): Decoded<CorrectionMessage> => byKind(u, decodeVoidMessage, decodeAdjustMessage)

const utf8 = new TextDecoder("utf-8", { fatal: true })

/** A raw correction payload: size, UTF-8, JSON, schema; the message, or a sentence saying why not. */
export const decodeCorrectionBytes = (bytes: Uint8Array): { readonly ok: true; readonly message: CorrectionMessage } | { readonly ok: false; readonly message: string } => {
  if (bytes.length > MAX_CORRECTION_BYTES) return { ok: false, message: `correction is ${bytes.length} bytes; the limit is ${MAX_CORRECTION_BYTES}` }
  let value: unknown
  try {
    value = JSON.parse(utf8.decode(bytes))
  } catch (e) {
    return { ok: false, message: `payload is not valid JSON: ${e instanceof Error ? e.message : String(e)}` }
  }
  const d = decodeCorrectionMessage(value)
  return d.ok ? { ok: true, message: d.value } : { ok: false, message: `invalid correction: ${summarize(d.issues)}` }
}

/** The seq of the event a stored void message names, or null (not a void, or not a message Arena wrote). */
export const voidedEventSeq = (bytes: Uint8Array): number | null => {
  const d = decodeCorrectionBytes(bytes)
  return d.ok && d.message.kind === "void" ? d.message.event.seq : null
}
