// The XP event contract (ARCHITECTURE §5): its effect/Schema (source of truth for OpenAPI and
// for error messages) and the per-event decoders. Hot path: a hand-written check that mirrors
// the Schema accepts valid events in well under a microsecond; only when it says no does the
// (slower) Schema decode run, to decide and to explain. EventFastPath.test.ts proves they agree.
import { Schema } from "effect"
import type { Issue, Rejection, XpEvent } from "./Model.js"
import { parseRfc3339 } from "./Calendar.js"
import { issuesOfExit, summarize } from "./Issues.js"
import { fastAccept, metadataBytes, storableText, utf8Length } from "./EventFastPath.js"

export const MAX_EVENT_BYTES = 16 * 1024
export const MAX_METADATA_BYTES = 4 * 1024
export const MAX_MULTIPLIERS = 5

// The `u` flag lets Schema export the pattern to JSON Schema (ECMA-262 unicode regexes).
const id = (max: number, pattern: RegExp, charset: string) =>
  Schema.String.annotate({ message: "must be a string" }).check(
    Schema.isMinLength(1, { message: "must not be empty" }),
    Schema.isMaxLength(max, { message: `must be at most ${max} characters` }),
    Schema.isPattern(pattern, { message: `must match ${charset}` })
  )

const Str = Schema.String.annotate({ message: "must be a string" })

export const EventId = id(128, /^[A-Za-z0-9._:-]+$/u, "[A-Za-z0-9._:-]")
export const UserId = id(128, /^[A-Za-z0-9._:@-]+$/u, "[A-Za-z0-9._:@-]")
export const AgentName = id(64, /^[a-z0-9-]+$/u, "[a-z0-9-]")

export const Timestamp = Str.check(
  Schema.makeFilter((s: string) => !Number.isNaN(parseRfc3339(s)) || "must be an RFC 3339 date-time with offset, e.g. 2026-11-26T09:30:00Z", {
    description: "RFC 3339 date-time (offset Z or ±hh:mm, optional fraction); the date must exist",
    toJsonSchema: () => ({ format: "date-time" })
  })
)

export const Metadata = Schema.Record(Schema.String, Schema.Unknown)
  .annotate({ message: "must be an object" })
  .check(
    Schema.makeFilter(
      (m: Readonly<Record<string, unknown>>) =>
        metadataBytes(m) <= MAX_METADATA_BYTES || `must be at most ${MAX_METADATA_BYTES} bytes when serialized as JSON`,
      { description: `free-form object, at most ${MAX_METADATA_BYTES} bytes serialized`, toJsonSchema: () => ({}) }
    )
  )

/** The event schema. Decode with EVENT_PARSE_OPTIONS (unknown keys are errors, all issues reported). */
export const XpEventSchema = Schema.Struct({
  event_id: EventId.annotate({ description: "Idempotency key (also the Nats-Msg-Id)" }),
  user_id: UserId,
  username: Schema.optionalKey(
    Str.check(
      Schema.isMaxLength(64, { message: "must be at most 64 characters" }),
      Schema.makeFilter((s: string) => storableText(s) || "must be well-formed text without NUL characters", {
        description: "no U+0000, no lone surrogates", toJsonSchema: () => ({})
      })
    ).annotate({ description: "Display name; empty keeps the previous one" })
  ),
  agent_name: AgentName.annotate({ description: "The agent (category) the XP is earned through" }),
  action_type: Str.annotate({ description: "One of the action types of the current rules (GET /v1/rules)" }),
  base_points: Schema.optionalKey(
    Schema.Number.annotate({ message: "must be a number" }).check(Schema.isInt({ message: "must be an integer" }))
      .annotate({ description: "Must equal the rules' points (or be absent), except for `custom` (1..500)" })
  ),
  multipliers: Schema.optionalKey(
    Schema.Array(Str).annotate({ message: "must be an array of strings" }).check(
      Schema.isMaxLength(MAX_MULTIPLIERS, { message: `must have at most ${MAX_MULTIPLIERS} items` })
    ).annotate({ description: "Named multipliers of the rules, each at most once" })
  ),
  timestamp: Timestamp,
  metadata: Schema.optionalKey(Metadata)
}).annotate({ title: "XpEvent", message: "must be a JSON object" })

/** Options for decoding XpEventSchema and for deriving its JSON Schema (additionalProperties: false). */
export const EVENT_PARSE_OPTIONS = { errors: "all", onExcessProperty: "error" } as const

const schemaDecode = Schema.decodeUnknownExit(XpEventSchema, EVENT_PARSE_OPTIONS)

export type DecodeResult =
  | { readonly ok: true; readonly event: XpEvent; readonly timeMs: number }
  | { readonly ok: false; readonly rejection: Rejection }

const reject = (reason: Rejection["reason"], message: string, issues: ReadonlyArray<Issue> = []): DecodeResult => ({
  ok: false,
  rejection: { reason, message, issues }
})

/**
 * §5's size limit, the one rule for every path in: the event as stored in the stream (the raw
 * payload a producer published, or the JSON that POST /v1/events publishes) is at most
 * MAX_EVENT_BYTES. Null when `bytes` is within it.
 */
const sizeRejection = (bytes: number): DecodeResult | null =>
  bytes <= MAX_EVENT_BYTES
    ? null
    : reject("oversized", `event is ${bytes} bytes serialized; the limit is ${MAX_EVENT_BYTES}`, [
      { path: "", message: `must be at most ${MAX_EVENT_BYTES} bytes when serialized as JSON (is ${bytes})` }
    ])

/**
 * Validates an already-parsed JSON value (after decodeEventBytes' JSON.parse; HTTP items go
 * through encodeEventForPublish, which adds the size of what is published).
 * `payloadBytes` (optional): the size of the JSON text it came from, which lets small events
 * skip re-serializing metadata for its size check.
 */
export const decodeEventValue = (u: unknown, payloadBytes?: number): DecodeResult => {
  const fast = fastAccept(u, payloadBytes)
  if (fast !== null) return fast
  const exit = schemaDecode(u)
  if (exit._tag === "Success") {
    // Unreachable while the fast path mirrors the Schema; the Schema stays the authority.
    return { ok: true, event: exit.value, timeMs: parseRfc3339(exit.value.timestamp) }
  }
  const issues = issuesOfExit(exit)
  return reject("invalid_event", `invalid event: ${summarize(issues)}`, issues)
}

export type EncodeResult =
  | { readonly ok: true; readonly event: XpEvent; readonly timeMs: number; readonly json: string }
  | { readonly ok: false; readonly rejection: Rejection }

/**
 * An HTTP item (already-parsed JSON): validates it and serializes it as it will be published,
 * refusing it when that JSON is over the size limit — so POST /v1/events never accepts what the
 * pipeline would dead-letter as oversized. `json` is exactly the payload to publish: its bytes
 * decode (decodeEventBytes) to the same event.
 */
export const encodeEventForPublish = (u: unknown): EncodeResult => {
  const d = decodeEventValue(u)
  if (!d.ok) return d
  const json = JSON.stringify(d.event)
  // A UTF-16 unit is at most 3 UTF-8 bytes: short JSON needs no byte count.
  const big = json.length * 3 <= MAX_EVENT_BYTES ? null : sizeRejection(utf8Length(json))
  return big !== null && !big.ok ? big : { ok: true, event: d.event, timeMs: d.timeMs, json }
}

const utf8 = new TextDecoder("utf-8", { fatal: true })

/** Decodes one raw message body (a JetStream payload): size, UTF-8, JSON, then the schema. */
export const decodeEventBytes = (bytes: Uint8Array): DecodeResult => {
  const big = sizeRejection(bytes.length)
  if (big !== null) return big
  let text: string
  try {
    text = utf8.decode(bytes)
  } catch {
    return reject("malformed_json", "payload is not valid UTF-8")
  }
  let value: unknown
  try {
    value = JSON.parse(text)
  } catch (e) {
    return reject("malformed_json", `payload is not valid JSON: ${e instanceof Error ? e.message : String(e)}`)
  }
  return decodeEventValue(value, bytes.length)
}
