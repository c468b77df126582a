// Erasure of a user (ARCHITECTURE §11 "Privacy") as the stream carries it: a message of its own
// kind on `<prefix>.erasures` (MessageKind.ts), `{"erasure_id","user_id"}`, whose Nats-Msg-Id is
// `erasure/<erasure_id>` (an event_id cannot hold a `/`, so JetStream's dedupe, which spans the
// stream's subjects, never takes an erasure for an event's re-send), and what applying it does to the state — the user
// leaves every open board and the user table at that seq. Because it travels through the stream,
// a replay from any older snapshot drops the user at the same seq, whatever was erased since.
import { GLOBAL_ALL } from "./ranking/BoardRegistry.js"
import type { EngineState } from "./engine/EngineState.js"
import { KIND_BOARD, idOfKey, kindOf } from "./state/UserTable.js"

export const ERASURE_MSG_PREFIX = "erasure/"
/** Erasure ids: 22 characters of base64url (128 random bits), like share ids. */
export const ERASURE_ID = /^[A-Za-z0-9_-]{22}$/
const USER_ID = /^[A-Za-z0-9._:@-]{1,128}$/

export interface ErasureMessage {
  readonly erasure_id: string
  readonly user_id: string
}

/** The Nats-Msg-Id of an erasure's control message (JetStream dedupes a re-publish on it). */
export const erasureMsgId = (erasureId: string): string => ERASURE_MSG_PREFIX + erasureId

export const encodeErasureMessage = (m: ErasureMessage): string => JSON.stringify({ erasure_id: m.erasure_id, user_id: m.user_id })

const utf8 = new TextDecoder("utf-8", { fatal: true })

/** The erasure a control message asks for, or why it cannot be applied. */
export const decodeErasureMessage = (data: Uint8Array, msgId: string | undefined): { ok: true; value: ErasureMessage } | { ok: false; message: string } => {
  let v: unknown
  try {
    v = JSON.parse(utf8.decode(data))
  } catch {
    return { ok: false, message: "erasure message is not UTF-8 JSON" }
  }
  if (typeof v !== "object" || v === null) return { ok: false, message: "erasure message must be a JSON object" }
  const { erasure_id: id, user_id: user } = v as Record<string, unknown>
  if (typeof id !== "string" || !ERASURE_ID.test(id)) return { ok: false, message: "erasure_id must be 22 characters of [A-Za-z0-9_-]" }
  if (typeof user !== "string" || !USER_ID.test(user)) return { ok: false, message: "user_id must be a user id" }
  if (msgId !== erasureMsgId(id)) {
    return { ok: false, message: msgId === undefined ? `the Nats-Msg-Id header is missing; it must be erasure/${id}` : `the Nats-Msg-Id header ${JSON.stringify(msgId)} differs from erasure/${id}` }
  }
  return { ok: true, value: { erasure_id: id, user_id: user } }
}

/**
 * Removes a user from every open board and from the user table; false when the state does not
 * hold them. `beforeWrite` sees the uid first (a snapshot cut in progress writes its pre-image).
 * The uid is never reused; an event for the same user_id later makes a new, empty user.
 */
export const eraseUser = (s: EngineState, userId: string, beforeWrite?: (uid: number) => void): boolean => {
  const u = s.users
  const uid = u.uidOf(userId)
  if (uid < 0) return false
  beforeWrite?.(uid)
  // On the global all-time board once its first event set totalSeq (Engine: seqBefore === 0 inserts).
  if (u.totalSeq[uid]! > 0) s.boards.removeEntry(GLOBAL_ALL, uid, u.totalXp[uid]!, u.totalSeq[uid]!)
  for (let e = u.blockStart(uid), end = u.blockEnd(uid); e < end; e++) {
    const key = u.eKey[e]!
    if (kindOf(key) !== KIND_BOARD) continue
    const id = idOfKey(key)
    if (s.boards.isOpen(id)) s.boards.removeEntry(id, uid, u.eA[e]!, u.eB[e]!)
  }
  u.remove(uid)
  return true
}
