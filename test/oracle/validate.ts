// The oracle's reading of one stored message (ARCHITECTURE §5 and §3): size, UTF-8, JSON, the
// event fields, Nats-Msg-Id = event_id, then the rules (action, base points, multipliers, skew).
// The reasons are the DLQ reasons the service documents; one check per line, in that order.
import { parseTimestamp } from "./calendar.js"
import { CUSTOM, DEFAULT_TABLES, MAX_EVENT_BYTES, MAX_METADATA_BYTES } from "./rules.js"
import type { OracleRules } from "./rules.js"

export interface OracleEvent {
  readonly event_id: string
  readonly user_id: string
  readonly username?: string
  readonly agent_name: string
  readonly action_type: string
  readonly base_points?: number
  readonly multipliers?: ReadonlyArray<string>
  readonly timestamp: string
}

export type Verdict =
  | { readonly ok: true; readonly event: OracleEvent; readonly timeMs: number; readonly base: number }
  | { readonly ok: false; readonly reason: string }

const KEYS = new Set(["event_id", "user_id", "username", "agent_name", "action_type", "base_points", "multipliers", "timestamp", "metadata"])
const storable = (s: string): boolean => !s.includes("\u0000") && Buffer.from(s, "utf8").toString("utf8") === s
const isObject = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v)
const idLike = (v: unknown, max: number, re: RegExp): boolean => typeof v === "string" && v.length >= 1 && v.length <= max && re.test(v)

const fieldsOk = (o: Record<string, unknown>): boolean => {
  for (const k of Object.keys(o)) if (!KEYS.has(k)) return false
  if (!idLike(o["event_id"], 128, /^[A-Za-z0-9._:-]+$/)) return false
  if (!idLike(o["user_id"], 128, /^[A-Za-z0-9._:@-]+$/)) return false
  if (!idLike(o["agent_name"], 64, /^[a-z0-9-]+$/)) return false
  if (typeof o["action_type"] !== "string") return false
  // A display name is text Postgres can store: no U+0000, no lone surrogates (see poison.test.ts).
  if ("username" in o && !(typeof o["username"] === "string" && o["username"].length <= 64 && storable(o["username"]))) return false
  // An integer JSON can carry exactly: beyond 2^53 a number is no longer a definite integer.
  if ("base_points" in o && !Number.isSafeInteger(o["base_points"])) return false
  const ms = o["multipliers"]
  if ("multipliers" in o && !(Array.isArray(ms) && ms.length <= 5 && ms.every((x) => typeof x === "string"))) return false
  if (typeof o["timestamp"] !== "string" || Number.isNaN(parseTimestamp(o["timestamp"]))) return false
  if ("metadata" in o) {
    const md = o["metadata"]
    if (!isObject(md)) return false
    let size: number
    try {
      size = Buffer.byteLength(JSON.stringify(md), "utf8")
    } catch {
      return false // too deep to serialize: certainly not "at most 4 KiB serialized"
    }
    if (size > MAX_METADATA_BYTES) return false
  }
  return true
}

/** Decides one stored message at stream time `streamMs` (its JetStream timestamp) under the rules version `rules` (§10: the one in force at its seq). */
export const judge = (data: Uint8Array, msgId: string | undefined, streamMs: number, rules: OracleRules = DEFAULT_TABLES): Verdict => {
  if (data.length > MAX_EVENT_BYTES) return { ok: false, reason: "oversized" }
  let text: string
  try {
    text = new TextDecoder("utf-8", { fatal: true }).decode(data)
  } catch {
    return { ok: false, reason: "malformed_json" }
  }
  let value: unknown
  try {
    value = JSON.parse(text)
  } catch {
    return { ok: false, reason: "malformed_json" }
  }
  if (!isObject(value) || !fieldsOk(value)) return { ok: false, reason: "invalid_event" }
  const ev = value as unknown as OracleEvent
  if (msgId !== ev.event_id) return { ok: false, reason: "msg_id_mismatch" }
  const table = Object.hasOwn(rules.points, ev.action_type) ? rules.points[ev.action_type] : undefined
  if (table === undefined && (ev.action_type !== CUSTOM || rules.custom === null)) return { ok: false, reason: "unknown_action" }
  let base: number
  if (table !== undefined) {
    if (ev.base_points !== undefined && ev.base_points !== table) return { ok: false, reason: "invalid_base_points" }
    base = table
  } else {
    if (ev.base_points === undefined || ev.base_points < rules.custom!.min || ev.base_points > rules.custom!.max) return { ok: false, reason: "invalid_base_points" }
    base = ev.base_points
  }
  const names = ev.multipliers ?? []
  if (names.some((n, i) => !Object.hasOwn(rules.multipliers, n) || names.indexOf(n) !== i)) return { ok: false, reason: "invalid_multiplier" }
  const timeMs = parseTimestamp(ev.timestamp)
  if (timeMs > streamMs + rules.futureSkewMs) return { ok: false, reason: "future_timestamp" }
  return { ok: true, event: ev, timeMs, base }
}
