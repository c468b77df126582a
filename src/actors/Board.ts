// One leaderboard (board × window × period): its ranking and what its watchers last saw.
// Owned by its BoardActor; reads (REST, snapshots for new subscribers) happen between drains,
// which in a single-threaded runtime always see a whole batch applied or none of it.
import type { BoardKey, ScoreChange } from "../domain/Model.js"
import { RankIndex } from "../domain/RankIndex.js"
import type { BoardCursor, BoardView, RankedEntry } from "../ports/ReadModel.js"

/** Username and level of a user as of now (read from the owning user shard). */
export type UserLookup = (userId: string) => { readonly username: string; readonly level: number } | undefined

export class Board {
  readonly index = new RankIndex()
  /** Stream seq of the last batch reflected in this board. */
  seq = 0
  private readonly watchers = new Map<number, number>()
  private maxWatched = 0
  /** Users in the last emitted view and the key of its last entry: decides whether a drain changed the view. */
  private viewIds = new Set<string>()
  private viewLast: { score: number; seq: number } | null = null
  private viewDirty = false

  /** `lookup` is readable so the gateway's page cache can check rows' username/level (LiveBoards). */
  constructor(readonly key: BoardKey, readonly lookup: UserLookup) {}

  apply(changes: ReadonlyArray<ScoreChange>, seq: number): void {
    const idx = this.index
    for (const c of changes) {
      idx.set(c.userId, c.xp, c.seq)
      if (this.maxWatched > 0 && !this.viewDirty) this.viewDirty = this.touchesView(c)
    }
    if (seq > this.seq) this.seq = seq
  }

  private touchesView(c: ScoreChange): boolean {
    if (this.viewIds.has(c.userId) || this.viewIds.size < this.maxWatched || this.viewLast === null) return true
    const l = this.viewLast
    return c.xp > l.score || (c.xp === l.score && c.seq < l.seq)
  }

  /** Rank offset of the page after a keyset cursor: every entry at or before its (xp, seq). */
  offsetAfter(after: BoardCursor | null): number {
    return after === null ? 0 : this.index.countThrough(after.xp, after.seq)
  }

  entry(rank: number, userId: string, xp: number): RankedEntry {
    const u = this.lookup(userId)
    return { rank, user_id: userId, username: u?.username ?? userId, xp, level: u?.level ?? 1 }
  }

  top(offset: number, limit: number): RankedEntry[] {
    const out: RankedEntry[] = []
    this.index.forEachInRange(offset, limit, (userId, score, _seq, rank) => { out.push(this.entry(rank, userId, score)) })
    return out
  }

  /** The view for watchers, recording what it contained. */
  view(): BoardView {
    const entries = this.top(0, this.maxWatched)
    this.viewIds = new Set(entries.map((e) => e.user_id))
    const last = entries.length > 0 ? this.index.get(entries[entries.length - 1]!.user_id) : undefined
    this.viewLast = last === undefined ? null : { score: last.score, seq: last.seq }
    this.viewDirty = false
    return { key: this.key, seq: this.seq, entries, total: this.index.size }
  }

  /** True when the last drain changed what watchers see. */
  get needsView(): boolean {
    return this.maxWatched > 0 && this.viewDirty
  }

  watch(limit: number): void {
    this.watchers.set(limit, (this.watchers.get(limit) ?? 0) + 1)
    if (limit > this.maxWatched) { this.maxWatched = limit; this.viewDirty = true }
  }

  unwatch(limit: number): void {
    const n = (this.watchers.get(limit) ?? 0) - 1
    if (n > 0) this.watchers.set(limit, n)
    else this.watchers.delete(limit)
    this.maxWatched = Math.max(0, ...this.watchers.keys())
  }
}
