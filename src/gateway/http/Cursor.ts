// Opaque keyset cursors: base64url of "<xp>.<seq>" (the last entry of the previous page), and of a
// share list position. Decoding is strict: anything a server did not produce is rejected.
import type { BoardCursor } from "../../ports/ReadModel.js"

const B64URL = /^[A-Za-z0-9_-]{1,64}$/
const NUMS = /^(0|[1-9]\d{0,15})\.(0|[1-9]\d{0,15})$/
const NUM = /^(0|[1-9]\d{0,15})$/

const toText = (cursor: string): string | null => {
  if (!B64URL.test(cursor)) return null
  const text = Buffer.from(cursor, "base64url").toString("latin1")
  // Round-trip check rejects non-canonical encodings (padding bits, trailing junk).
  return Buffer.from(text, "latin1").toString("base64url") === cursor ? text : null
}

export const encodeBoardCursor = (c: BoardCursor): string => Buffer.from(`${c.xp}.${c.seq}`, "latin1").toString("base64url")

/** null when the cursor is not one this server produced. */
export const decodeBoardCursor = (cursor: string): BoardCursor | null => {
  const text = toText(cursor)
  const m = text === null ? null : NUMS.exec(text)
  if (m === null) return null
  const xp = Number(m[1]), seq = Number(m[2])
  return Number.isSafeInteger(xp) && Number.isSafeInteger(seq) ? { xp, seq } : null
}

export const encodeSeqCursor = (seq: number): string => Buffer.from(String(seq), "latin1").toString("base64url")

export const decodeSeqCursor = (cursor: string): number | null => {
  const text = toText(cursor)
  if (text === null || !NUM.test(text)) return null
  const n = Number(text)
  return Number.isSafeInteger(n) ? n : null
}
