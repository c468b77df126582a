// Allocation-free acceptance check mirroring XpEventSchema (Event.ts) exactly, for the
// ~100k events/s ingest path. It only ever says "valid" or "ask the Schema": messages and
// the final word on invalid input belong to the Schema. Keep the two in lock-step.
import type { XpEvent } from "./Model.js"
import { parseRfc3339 } from "./Calendar.js"

const table = (chars: string): Uint8Array => {
  const t = new Uint8Array(128)
  const ranges = [["a", "z"], ["A", "Z"], ["0", "9"]] as const
  for (const c of chars) {
    const r = ranges.find(([lo]) => lo === c)
    if (r !== undefined) for (let x = r[0].charCodeAt(0); x <= r[1].charCodeAt(0); x++) t[x] = 1
    else t[c.charCodeAt(0)] = 1
  }
  return t
}

// "a" stands for a-z, "A" for A-Z, "0" for 0-9.
const EVENT_ID = table("aA0._:-")
const USER_ID = table("aA0._:@-")
const AGENT = table("a0-")

const idOk = (v: unknown, max: number, t: Uint8Array): boolean => {
  if (typeof v !== "string") return false
  const n = v.length
  if (n === 0 || n > max) return false
  for (let i = 0; i < n; i++) {
    const c = v.charCodeAt(i)
    if (c >= 128 || t[c] === 0) return false
  }
  return true
}

/** UTF-8 byte length of a string (lone surrogates count as U+FFFD, 3 bytes). */
export const utf8Length = (s: string): number => {
  let n = s.length
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i)
    if (c < 0x80) continue
    if (c < 0x800) n += 1
    else if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length && (s.charCodeAt(i + 1) & 0xfc00) === 0xdc00) {
      n += 2 // 2 UTF-16 units → 4 bytes
      i++
    } else n += 2
  }
  return n
}

/** Serialized size of metadata in UTF-8 bytes; Infinity if it cannot be serialized (e.g. too deep). */
export const metadataBytes = (m: unknown): number => {
  try {
    const s = JSON.stringify(m)
    return typeof s === "string" ? utf8Length(s) : Number.POSITIVE_INFINITY
  } catch {
    return Number.POSITIVE_INFINITY
  }
}

/**
 * Text Postgres can store (user state is snapshotted as JSON): no U+0000 and no lone UTF-16
 * surrogate. Either makes every later snapshot fail, so such a username is refused up front.
 */
export const storableText = (s: string): boolean => {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i)
    if (c === 0) return false
    if (c >= 0xd800 && c <= 0xdfff) {
      if (c >= 0xdc00 || i + 1 >= s.length || (s.charCodeAt(i + 1) & 0xfc00) !== 0xdc00) return false
      i++
    }
  }
  return true
}

// JSON.parse only makes plain objects; anything more exotic is left to the Schema.
const isPlainObject = (v: unknown): v is Record<string, unknown> => {
  if (typeof v !== "object" || v === null || Array.isArray(v)) return false
  const p: unknown = Object.getPrototypeOf(v)
  return p === Object.prototype || p === null
}

/**
 * Re-serializing JSON parsed from N bytes yields at most 6·N bytes: strings and structure never
 * grow (JSON.stringify only escapes what the source had to escape, never longer), and a number
 * token of L bytes prints as at most max(6·L, 24) characters ("1e20" → 21 digits; L ≥ 4 needed
 * for 24). So a payload of ≤ 682 bytes cannot carry metadata over 4096 bytes: skip the
 * re-serialization there (Event.test.ts checks the bound on random JSON).
 */
export const METADATA_EXPANSION = 6

/**
 * The event and its timestamp when `u` certainly satisfies XpEventSchema; null when unsure.
 * `payloadBytes`: size of the JSON text `u` was parsed from, if known (enables the bound above).
 */
export const fastAccept = (u: unknown, payloadBytes = Number.POSITIVE_INFINITY): { readonly ok: true; readonly event: XpEvent; readonly timeMs: number } | null => {
  if (!isPlainObject(u)) return null
  let known = 5 // the required keys, checked below
  if (!idOk(u.event_id, 128, EVENT_ID)) return null
  if (!idOk(u.user_id, 128, USER_ID)) return null
  if (!idOk(u.agent_name, 64, AGENT)) return null
  if (typeof u.action_type !== "string") return null
  const ts = u.timestamp
  if (typeof ts !== "string") return null
  const timeMs = parseRfc3339(ts)
  if (Number.isNaN(timeMs)) return null
  if ("username" in u) {
    known++
    const v = u.username
    if (typeof v !== "string" || v.length > 64 || !storableText(v)) return null
  }
  if ("base_points" in u) {
    known++
    if (!Number.isSafeInteger(u.base_points)) return null
  }
  if ("multipliers" in u) {
    known++
    const v = u.multipliers
    if (!Array.isArray(v) || v.length > 5) return null
    for (let i = 0; i < v.length; i++) if (typeof v[i] !== "string") return null
  }
  if ("metadata" in u) {
    known++
    const v = u.metadata
    if (!isPlainObject(v)) return null
    if (payloadBytes * METADATA_EXPANSION > 4096 && metadataBytes(v) > 4096) return null
  }
  // Any other own key is an unknown field: counting avoids allocating Object.keys on success.
  let keys = 0
  for (const k in u) if (Object.hasOwn(u, k)) keys++
  if (keys !== known) return null
  // Shaped as Event.ts's accepted DecodeResult, so the decoder hands it on without a copy.
  return { ok: true, event: u as unknown as XpEvent, timeMs }
}
