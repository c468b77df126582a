// Leaderboard delta semantics (docs/websocket.md): what changed between two consecutive top-N
// lists, and the reference client-side apply. Pure; the live page's JS mirrors applyDelta.
import type { RankedEntry } from "../../ports/ReadModel.js"

/** One entry of the new top-N that is new to it or whose xp (or name/level) changed. */
export interface DeltaChange {
  readonly user_id: string
  readonly username: string
  readonly xp: number
  readonly level: number
  readonly rank: number
  /** Rank in the previous top-N, null if the user was not in it. */
  readonly prev_rank: number | null
}

export interface DeltaBody {
  readonly changes: ReadonlyArray<DeltaChange>
  /** Users who were in the previous top-N and are not in the new one. */
  readonly removed: ReadonlyArray<string>
}

/**
 * `prev` and `next` are both top-N lists (rank 1 first, at most `limit` long), or both windows of
 * consecutive ranks (around-me: `next` starts at rank `offset + 1`). A user whose key
 * (xp) is unchanged keeps its place relative to other unchanged users, so only the changed and the
 * departed need to be sent; ranks of unchanged users follow from their positions.
 */
export const computeDelta = (prev: ReadonlyArray<RankedEntry>, next: ReadonlyArray<RankedEntry>, offset = 0): DeltaBody => {
  const before = new Map<string, RankedEntry>()
  for (const e of prev) before.set(e.user_id, e)
  const changes: Array<DeltaChange> = []
  for (let i = 0; i < next.length; i++) {
    const e = next[i]!
    const old = before.get(e.user_id)
    if (old !== undefined) before.delete(e.user_id)
    // username/level are shown on the board, so a change of either must reach the client too.
    if (old === undefined || old.xp !== e.xp || old.username !== e.username || old.level !== e.level) {
      changes.push({
        user_id: e.user_id,
        username: e.username,
        xp: e.xp,
        level: e.level,
        rank: offset + i + 1,
        prev_rank: old === undefined ? null : old.rank
      })
    }
  }
  return { changes, removed: [...before.keys()] }
}

export const isEmptyDelta = (d: DeltaBody): boolean => d.changes.length === 0 && d.removed.length === 0

/**
 * The client's apply: drop removed and changed users, insert the changed ones at their new ranks
 * in ascending rank order, truncate to `limit`, renumber. Returns a new array.
 */
export const applyDelta = (
  entries: ReadonlyArray<RankedEntry>,
  delta: DeltaBody,
  limit: number
): Array<RankedEntry> => {
  const drop = new Set<string>(delta.removed)
  for (const c of delta.changes) drop.add(c.user_id)
  const out: Array<RankedEntry> = entries.filter((e) => !drop.has(e.user_id))
  const sorted = [...delta.changes].sort((a, b) => a.rank - b.rank)
  for (const c of sorted) {
    out.splice(c.rank - 1, 0, { rank: c.rank, user_id: c.user_id, username: c.username, xp: c.xp, level: c.level })
  }
  if (out.length > limit) out.length = limit
  for (let i = 0; i < out.length; i++) {
    const e = out[i]!
    if (e.rank !== i + 1) out[i] = { ...e, rank: i + 1 }
  }
  return out
}

/**
 * The around-me client's apply (docs/websocket.md): as applyDelta, but the list is the window of
 * ranks `firstRank`.. (null: the user has no rank, the window is empty): each change goes in at
 * index `rank - firstRank`, nothing is truncated (the result is exactly the new window).
 */
export const applyWindowDelta = (
  entries: ReadonlyArray<RankedEntry>,
  delta: DeltaBody,
  firstRank: number | null
): Array<RankedEntry> => {
  if (firstRank === null) return []
  const drop = new Set<string>(delta.removed)
  for (const c of delta.changes) drop.add(c.user_id)
  const out: Array<RankedEntry> = entries.filter((e) => !drop.has(e.user_id))
  const sorted = [...delta.changes].sort((a, b) => a.rank - b.rank)
  for (const c of sorted) out.splice(c.rank - firstRank, 0, { rank: c.rank, user_id: c.user_id, username: c.username, xp: c.xp, level: c.level })
  return out.map((e, i) => (e.rank === firstRank + i ? e : { ...e, rank: firstRank + i }))
}
