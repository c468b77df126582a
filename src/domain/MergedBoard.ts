// Exact global board answers from per-partition answers (ARCHITECTURE §9, docs/scaling.md
// "Merged ranks"). Partitions hold disjoint users and the order key (xp desc, seq asc) compares
// across partitions, so:
//   rank(u)  = 1 + Σ_p (users of p ranked better than u)
//   top-N    = k-way merge of each partition's top-N
//   page     = merge of each partition's first `limit` after the cursor; first rank = 1 + Σ_p
//              (entries of p at or before the cursor)
//   around-me= the nearest r better / r worse over each partition's r better / r worse.
// Pure; the request/reply that gathers the partition answers lives in the adapters.

export interface PartEntry {
  readonly userId: string
  readonly xp: number
  /** The stream seq of the event that set this score: unique per user per board. */
  readonly seq: number
}

export interface RankedPart extends PartEntry { readonly rank: number }

/** Board order: higher xp first, then the lower seq (reached it first); user id only as a last resort. */
export const compareEntries = (a: PartEntry, b: PartEntry): number =>
  b.xp - a.xp || a.seq - b.seq || (a.userId < b.userId ? -1 : a.userId > b.userId ? 1 : 0)

/** Global rank from each partition's count of users ranked better. */
export const globalRank = (betterCounts: ReadonlyArray<number>): number => 1 + betterCounts.reduce((s, c) => s + c, 0)

/** The first `n` of the union of sorted lists (each best first), ranked from `firstRank`. */
export const mergeSorted = (lists: ReadonlyArray<ReadonlyArray<PartEntry>>, n: number, firstRank = 1): Array<RankedPart> => {
  const pos = lists.map(() => 0)
  const out: Array<RankedPart> = []
  while (out.length < n) {
    let best = -1
    for (let i = 0; i < lists.length; i++) {
      const e = lists[i]![pos[i]!]
      if (e !== undefined && (best === -1 || compareEntries(e, lists[best]![pos[best]!]!) < 0)) best = i
    }
    if (best === -1) break
    const e = lists[best]![pos[best]!]!
    pos[best]!++
    out.push({ userId: e.userId, xp: e.xp, seq: e.seq, rank: firstRank + out.length })
  }
  return out
}

/** Global top-N from each partition's top-N. */
export const mergeTop = (tops: ReadonlyArray<ReadonlyArray<PartEntry>>, n: number): Array<RankedPart> => mergeSorted(tops, n)

export interface PartPage {
  /** The partition's first `limit` entries after the cursor, best first. */
  readonly entries: ReadonlyArray<PartEntry>
  /** How many of the partition's entries rank at or before the cursor (0 with no cursor). */
  readonly throughCursor: number
  /** The partition's board size. */
  readonly size: number
}

/** A keyset page after a cursor: exact entries and ranks, and the board's total. */
export const mergePage = (parts: ReadonlyArray<PartPage>, limit: number): { readonly entries: Array<RankedPart>; readonly total: number } => ({
  entries: mergeSorted(parts.map((p) => p.entries), limit, globalRank(parts.map((p) => p.throughCursor))),
  total: parts.reduce((s, p) => s + p.size, 0)
})

export interface PartAround {
  /** Up to r of the partition's entries ranked just better than the user, best first. */
  readonly better: ReadonlyArray<PartEntry>
  /** Up to r of the partition's entries ranked just worse than the user, best first. */
  readonly worse: ReadonlyArray<PartEntry>
  /** The partition's count of entries ranked better than the user. */
  readonly betterCount: number
}

/** The user's row and up to `radius` neighbours on each side, with global ranks. */
export const mergeAround = (me: PartEntry, parts: ReadonlyArray<PartAround>, radius: number): Array<RankedPart> => {
  const rank = globalRank(parts.map((p) => p.betterCount))
  // The nearest better entries are the *worst* of the better ones: merge all, keep the last r.
  const allBetter = mergeSorted(parts.map((p) => p.better), Number.POSITIVE_INFINITY)
  const above = allBetter.slice(Math.max(0, allBetter.length - radius))
  const below = mergeSorted(parts.map((p) => p.worse), radius, rank + 1)
  return [
    ...above.map((e, i) => ({ userId: e.userId, xp: e.xp, seq: e.seq, rank: rank - above.length + i })),
    { userId: me.userId, xp: me.xp, seq: me.seq, rank },
    ...below
  ]
}
