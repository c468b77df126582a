// The oracle's reading of an erasure (ARCHITECTURE §11 "Privacy"), written from the contract and
// the README, not from src/: a message on `<prefix>.erasures`, a JSON object with
// `erasure_id` (22 characters of base64url) and `user_id`, whose Nats-Msg-Id is
// `erasure/<erasure_id>`; any other is refused as `invalid_event`. And which user a stored message
// names: an erasure takes every earlier message that names its user out of the stream (events,
// corrections, settings changes, rejected or not), so the oracle keeps, per user, the seqs that do.
// What an erasure does to the model is Oracle.erase's.

export type ErasureVerdict = { readonly ok: true; readonly erasureId: string; readonly userId: string } | { readonly ok: false; readonly reason: string }

const ERASURE_ID = /^[A-Za-z0-9_-]{22}$/
const USER = /^[A-Za-z0-9._:@-]{1,128}$/
const isObj = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v)

export const judgeErasure = (data: Uint8Array, msgId: string | undefined): ErasureVerdict => {
  const bad = { ok: false, reason: "invalid_event" } as const
  let v: unknown
  try { v = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(data)) } catch { return bad }
  if (!isObj(v)) return bad
  const id = v["erasure_id"], user = v["user_id"]
  if (typeof id !== "string" || !ERASURE_ID.test(id) || typeof user !== "string" || !USER.test(user)) return bad
  if (msgId !== `erasure/${id}`) return bad
  return { ok: true, erasureId: id, userId: user }
}

/**
 * The user a stored message names, whatever its kind and whether it was applied: its top-level
 * `user_id` (events, adjusts, settings changes, erasures), else a void's `event.user_id` (the
 * awarded user it takes XP from). Null when the bytes are no JSON object naming anyone.
 */
export const namedUser = (data: Uint8Array): string | null => {
  let v: unknown
  try { v = JSON.parse(new TextDecoder().decode(data)) } catch { return null }
  if (!isObj(v)) return null
  if (typeof v["user_id"] === "string") return v["user_id"]
  const e = v["event"]
  if (v["kind"] === "void" && isObj(e) && typeof e["user_id"] === "string") return e["user_id"]
  return null
}
