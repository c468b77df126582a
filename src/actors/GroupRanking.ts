// The ranking of one group board: its members who have a score on the global board of the same
// window and period, in rank order (typed arrays), computed from scratch (O(m log m)) or updated in
// place when some members moved (O(m) block copies + O(c log m)); and the views cut from it.
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
 * A live ranking after some of its members moved: they are taken out (found with the typed
 * array's indexOf) and put back at their new places (binary search), the rest copied in blocks.
 */
export const moved = (r: Ranking, changed: ReadonlySet<number>, seq: number): Ranking => {
  const b = r.boards
  const drop: Array<number> = []
  for (const uid of changed) {
    const i = r.uid.indexOf(uid)
    if (i >= 0) drop.push(i)
  }
  drop.sort((x, y) => x - y)
  const m = r.uid.length - drop.length
  const ku = new Int32Array(m), kx = new Float64Array(m), ka = new Float64Array(m)
  let n = 0, from = 0
  for (const i of [...drop, r.uid.length]) {
    ku.set(r.uid.subarray(from, i), n)
    kx.set(r.xp.subarray(from, i), n)
    ka.set(r.at.subarray(from, i), n)
    n += i - from
    from = i + 1
  }
  const add: Array<{ uid: number; xp: number; at: number }> = []
  for (const uid of changed) {
    if (!b.state.users.has(uid)) continue
    const sc = boardScoreOf(b.state, uid, r.globalId)
    if (sc !== undefined) add.push({ uid, xp: sc.xp, at: sc.seq })
  }
  add.sort((x, y) => (before(x.xp, x.at, x.uid, y.xp, y.at, y.uid) ? -1 : 1))
  const total = m + add.length
  const uid = new Int32Array(total), xp = new Float64Array(total), at = new Float64Array(total)
  let out = 0, kept = 0
  for (const e of add) {
    let lo = kept, hi = m
    while (lo < hi) {
      const mid = (lo + hi) >>> 1
      if (before(kx[mid]!, ka[mid]!, ku[mid]!, e.xp, e.at, e.uid)) lo = mid + 1
      else hi = mid
    }
    uid.set(ku.subarray(kept, lo), out)
    xp.set(kx.subarray(kept, lo), out)
    at.set(ka.subarray(kept, lo), out)
    out += lo - kept
    kept = lo
    uid[out] = e.uid
    xp[out] = e.xp
    at[out++] = e.at
  }
  uid.set(ku.subarray(kept), out)
  xp.set(kx.subarray(kept), out)
  at.set(ka.subarray(kept), out)
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
