// The ranking of one group board: its members who have a score on the global board of the same
// window and period, in rank order (typed arrays), computed from scratch (O(m log m)) or updated in
// place when some members moved (c block moves + O(c log m) comparisons); and the views cut from it.
import type { BoardKey } from "../domain/Model.js"
import { boardScoreOf } from "../domain/engine/UserViews.js"
import type { AroundSpec, BoardView, RankedEntry } from "../ports/ReadModel.js"
import type { Boards } from "./Boards.js"

/** One group board's members with a score, in rank order (xp desc, then seq, then uid). */
export interface Ranking {
  readonly boards: Boards
  readonly version: number
  /** The applied seq it was computed at; a live ranking stays exact until recomputed. */
  readonly seq: number
  readonly live: boolean
  /** The global board it was computed from (-1: none yet); a closed period makes it stale. */
  readonly globalId: number
  readonly uid: Int32Array
  readonly xp: Float64Array
  readonly at: Float64Array
}

/** Ranks the members (uids) by their score on global board `globalId` (-1: none yet, empty). */
export const rankMembers = (b: Boards, uids: Int32Array, globalId: number, o: { version: number; live: boolean }): Ranking => {
  const m = uids.length
  const xs = new Float64Array(m), ats = new Float64Array(m), us = new Int32Array(m)
  let n = 0
  if (globalId >= 0) {
    for (let i = 0; i < m; i++) {
      if (!b.state.users.has(uids[i]!)) continue // erased since the uids were resolved
      const sc = boardScoreOf(b.state, uids[i]!, globalId)
      if (sc === undefined) continue
      xs[n] = sc.xp
      ats[n] = sc.seq
      us[n++] = uids[i]!
    }
  }
  const order = Array.from({ length: n }, (_, i) => i)
  order.sort((x, y) => (before(xs[x]!, ats[x]!, us[x]!, xs[y]!, ats[y]!, us[y]!) ? -1 : 1))
  return {
    boards: b, version: o.version, seq: b.position.applied, live: o.live, globalId,
    uid: Int32Array.from(order, (i) => us[i]!), xp: Float64Array.from(order, (i) => xs[i]!), at: Float64Array.from(order, (i) => ats[i]!)
  }
}

/** Whether entry (x1, a1, u1) ranks before (x2, a2, u2): xp desc, then the seq that set it, then uid. */
const before = (x1: number, a1: number, u1: number, x2: number, a2: number, u2: number): boolean =>
  x1 > x2 || (x1 === x2 && (a1 < a2 || (a1 === a2 && u1 < u2)))

/**
 * A live ranking after some of its members moved, updated in place: each is taken out (found with
 * the typed array's indexOf) and put back at its new place (binary search), the ranks between
 * shifted by one with copyWithin (a memmove; no allocation unless the count of ranked members
 * changed). O(c log m) comparisons + O(c · m) element moves done as c block moves.
 */
export const moved = (r: Ranking, changed: ReadonlySet<number>, seq: number): Ranking => {
  const b = r.boards
  let uid = r.uid, xp = r.xp, at = r.at
  let n = uid.length
  for (const u of changed) {
    const i = uid.subarray(0, n).indexOf(u)
    if (i < 0) continue
    uid.copyWithin(i, i + 1, n)
    xp.copyWithin(i, i + 1, n)
    at.copyWithin(i, i + 1, n)
    n--
  }
  const add: Array<{ uid: number; xp: number; at: number }> = []
  for (const u of changed) {
    if (!b.state.users.has(u)) continue
    const sc = boardScoreOf(b.state, u, r.globalId)
    if (sc !== undefined) add.push({ uid: u, xp: sc.xp, at: sc.seq })
  }
  const total = n + add.length
  if (total !== uid.length) {
    const nu = new Int32Array(total), nx = new Float64Array(total), na = new Float64Array(total)
    nu.set(uid.subarray(0, n))
    nx.set(xp.subarray(0, n))
    na.set(at.subarray(0, n))
    uid = nu
    xp = nx
    at = na
  }
  for (const e of add) {
    let lo = 0, hi = n
    while (lo < hi) {
      const mid = (lo + hi) >>> 1
      if (before(xp[mid]!, at[mid]!, uid[mid]!, e.xp, e.at, e.uid)) lo = mid + 1
      else hi = mid
    }
    uid.copyWithin(lo + 1, lo, n)
    xp.copyWithin(lo + 1, lo, n)
    at.copyWithin(lo + 1, lo, n)
    uid[lo] = e.uid
    xp[lo] = e.xp
    at[lo] = e.at
    n++
  }
  return { ...r, seq, uid, xp, at }
}

/** The window of ranks around a member (radius each side); empty when they have no score. */
export const windowOf = (r: Ranking, userId: string, radius: number): { entries: Array<RankedEntry>; first: number | null } => {
  const users = r.boards.state.users
  const uid = users.uidOf(userId)
  const i = uid < 0 ? -1 : r.uid.indexOf(uid)
  if (i < 0) return { entries: [], first: null }
  const from = Math.max(0, i - radius)
  const entries: Array<RankedEntry> = []
  for (let j = from; j < Math.min(r.uid.length, i + radius + 1); j++) entries.push(r.boards.entry(j + 1, r.uid[j]!, r.xp[j]!))
  return { entries, first: from + 1 }
}

/** The ranks' uids and scores an around-me window shows, and the board's size (cheap: no entries built). */
export const aroundShown = (r: Ranking, a: AroundSpec): { first: number | null; uid: Int32Array; xp: Float64Array; total: number } => {
  const uid = r.boards.state.users.uidOf(a.user_id)
  const i = uid < 0 ? -1 : r.uid.indexOf(uid)
  if (i < 0) return { first: null, uid: new Int32Array(0), xp: new Float64Array(0), total: r.uid.length }
  const from = Math.max(0, i - a.radius), to = Math.min(r.uid.length, i + a.radius + 1)
  return { first: from + 1, uid: r.uid.slice(from, to), xp: r.xp.slice(from, to), total: r.uid.length }
}

export const aroundView = (r: Ranking, key: BoardKey, a: AroundSpec): BoardView => {
  const w = windowOf(r, a.user_id, a.radius)
  return { key, seq: r.boards.position.applied, entries: w.entries, total: r.uid.length, around: { ...a, first_rank: w.first } }
}
