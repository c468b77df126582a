// The around-me feed's windows and the group boards' live feeds on the partitioned gateway
// (ARCHITECTURE §7, §9, §11): wraps the chain-fed live boards (MergedLiveBoards.ts) into a
// LeaderboardPort that also serves watchAround, and watch/watchAround of group boards
// (`group:<id>`, which no merger builds), so the single process's TopicHub (snapshots, deltas,
// first_rank, rings, epochs, resume) runs unchanged on top. A recomputed view is one per (board
// instance, user, radius) for around-me, one per group board instance for its top-N (the largest
// watched limit), shared by every socket of it. Each is recomputed by request/reply to the
// partitions on each step of a board instance's merged chain: its own board's, or for a group board
// the global board's of the same window and period (a member's score is their global one; the
// chain steps when its top-K, size or low watermark moved) — at most one query in flight per view,
// and one more after it when the chain moved meanwhile. A group's members are read again
// (GroupMembers: Postgres) with each query, so a membership change made through any gateway shows at
// the next step. Around-me reads the user's row and its partition's neighbours in one answer (the
// partition's `around`/`groupAround` with `userId`), then every other partition's neighbours of
// that key (MergedReads.aroundUser, as REST's around-me); a group's top-N is MergedReads.groupPage. Every answer's seq is the lowest seq the
// partitions had applied when they answered, so a view never claims events a partition had not
// applied. A failed query (a partition without owner, Postgres down) is tried again every RETRY_MS
// while watched.
// A view that changed while that watermark did not move (a busy partition ahead of a quiet one, a
// membership change between events) is held until an answer at a higher one — the quiet
// partition's next event or tick, at most a second (Ticker.ts) — so its deltas move seq and a
// resume from any of them is exact (DeltaRing answers a resume at a seq some delta did not move
// with a snapshot). Past HOLD_MS (no ticks) it goes out at the same seq all the same, as the
// mergers' top-N chain does. A socket asking a group board for more entries than its view holds
// waits for the next answer, which goes out even at the same seq. A group that does not exist has
// no members: its board is empty (an empty snapshot, entries once it is created).
// Cost: 1 + (P - 1) requests per watched around-me window, P per group top-N (plus one Postgres read
// of the group per step), per chain step (about one per MERGE_INTERVAL_MS while events flow, one a
// second on ticks); partitions do not push their boards yet.
import type { NatsConnection } from "@nats-io/transport-node"
import { Effect } from "effect"
import { GLOBAL_BOARD, boardKeyString, groupIdOf } from "../../domain/BoardKeys.js"
import type { BoardKey } from "../../domain/Model.js"
import { partitionOfUser } from "../../domain/Partition.js"
import { isPartitionsUnavailable } from "../../ports/MergedReads.js"
import type { AroundSpec, BoardView, LeaderboardPort } from "../../ports/ReadModel.js"
import { aroundUser, makeMergedReads, run } from "./MergedReads.js"
import { askPartition } from "./PartitionQueries.js"

const RETRY_MS = 500
/** How long a changed view at an unmoved watermark waits for a higher one (ticks: one a second). */
const HOLD_MS = 2_500

/** A window as the query found it: a BoardView with `around`, and whether its user is private (null: no row). */
export interface WindowAnswer { readonly view: BoardView; readonly userPrivate: boolean | null }

export interface WindowQueries {
  /**
   * The window of `around` on `key` (an explicit period), with an honest seq; with `members`, on the
   * group board `key` (those members ranked by their global score of the window).
   */
  window(key: BoardKey, around: AroundSpec, members?: ReadonlyArray<string>): Promise<WindowAnswer>
  /** The top `limit` of group board `key` (an explicit period) with these members, with an honest seq. */
  groupTop(key: BoardKey, members: ReadonlyArray<string>, limit: number): Promise<BoardView>
  /** Whether the user chose "private" (false for an unknown user); asks the user's partition. */
  isPrivate(userId: string): Promise<boolean>
}

/** A group's members as stored now (null: no such group); rejects when the store cannot answer. */
export type GroupMembers = (groupId: string) => Promise<ReadonlyArray<string> | null>

export const makeWindowQueries = (nc: NatsConnection, prefix: string, partitions: number, timeoutMs = 2_000): WindowQueries => {
  const reads = makeMergedReads(nc, prefix, partitions, timeoutMs)
  const aroundOf = aroundUser(nc, prefix, partitions, timeoutMs)
  return {
    window: async (key, around, members) => {
      // The user's row and its partition's neighbours in one read, then the other partitions (MergedReads.aroundUser).
      const a = await run(aroundOf(key, around.user_id, around.radius, members ?? null))
      // A closed period has no live window (empty, as one process's watch of it): REST reads its archive.
      if (a.me === null || a.closed) return { view: { key, seq: a.seq, total: a.total, entries: [], around: { ...around, first_rank: null } }, userPrivate: null }
      return { view: { key, seq: a.seq, total: a.total, entries: a.entries, around: { ...around, first_rank: a.entries[0]!.rank } }, userPrivate: a.me.private === true }
    },
    groupTop: async (key, members, limit) => {
      const page = await reads.groupPage(key.board, members, key.window, key.period, null, limit)
      // A closed period (or one nobody holds) has no live view: empty, as one process's watch of it.
      if (page === null || page.closed === true) return { key, seq: page?.seq ?? 0, total: 0, entries: [] }
      return { key, seq: page.seq, total: page.total, entries: page.entries.map(({ reached_seq: _, ...e }) => e) }
    },
    isPrivate: (userId) => run(askPartition<{ private: boolean } | null>(nc, prefix, partitionOfUser(userId, partitions), "visibility", { userId }, timeoutMs)
      .pipe(Effect.map((v) => v?.private === true)))
  }
}

/** A view recomputed on each step of a board instance's merged chain. */
interface Win {
  readonly id: string
  /** The view's board instance. */
  readonly key: BoardKey
  /** The board instance whose merged chain steps recompute it (the view's own, or for a group board the global board's). */
  readonly chain: BoardKey
  /** Around-me: whose window; null: a group board's top-N. */
  readonly around: AroundSpec | null
  /** The group of a group board (null: any other board). */
  readonly group: string | null
  /** A group top-N's watched limits (ref-counted): it is computed for the largest. */
  readonly limits: Map<number, number>
  refs: number
  view: BoardView | null
  /** The limit `view` was computed for (group top-N). */
  viewLimit: number
  running: boolean
  again: boolean
  /** A socket waits for the next answer (a larger limit than `view` holds): it goes out even at the same seq. */
  force: boolean
  retry: ReturnType<typeof setTimeout> | undefined
  /** A changed view answered at the last view's seq, waiting for a higher watermark (HOLD_MS). */
  held: BoardView | null
  heldLimit: number
  hold: ReturnType<typeof setTimeout> | undefined
  /** A failure was logged since the last answer (one warning per outage, not one per retry). */
  warned: boolean
}

const sameWindow = (a: BoardView, b: BoardView): boolean =>
  a.around?.first_rank === b.around?.first_rank && JSON.stringify(a.entries) === JSON.stringify(b.entries)

const topLimit = (w: Win): number => {
  let n = 0
  for (const l of w.limits.keys()) n = Math.max(n, l)
  return n
}

export interface MergedWindows extends LeaderboardPort {
  /** View queries run (for tests and diagnostics). */
  readonly queries: () => number
  readonly close: () => void
}

/**
 * `live` (the chain-fed boards) plus around-me windows and group boards' views recomputed on each
 * step of their chain; `members` reads a group as stored.
 */
export const withMergedWindows = (live: LeaderboardPort, q: WindowQueries, members: GroupMembers, log: { readonly warn: (m: string) => void }): MergedWindows => {
  const wins = new Map<string, Win>()
  const byChain = new Map<string, Set<Win>>()
  /** The privacy of watched windows' users as their last answers said (TopicHub stops such a feed). */
  const privateUsers = new Map<string, boolean>()
  const views = new Set<(v: BoardView) => void>()
  /** Group reads in flight: the views of one group recomputed on the same step share one. */
  const reading = new Map<string, Promise<ReadonlyArray<string> | null>>()
  let queries = 0
  let closed = false
  const idOf = (key: BoardKey, a: AroundSpec | null) => a === null ? `${boardKeyString(key)}|top` : `${boardKeyString(key)}|@${a.radius}|${a.user_id}`
  const alive = (w: Win) => !closed && wins.get(w.id) === w
  const membersOf = (group: string): Promise<ReadonlyArray<string> | null> => {
    let r = reading.get(group)
    if (r === undefined) {
      r = members(group)
      reading.set(group, r)
      const done = () => { if (reading.get(group) === r) reading.delete(group) }
      r.then(done, done)
    }
    return r
  }
  /**
   * The view now, asked for `limit` entries. A group that does not exist (yet, or any more) has no
   * members: an empty board, asked all the same for an honest seq (docs/websocket.md: an empty
   * snapshot, its entries once the group is created; a deletion removes everyone).
   */
  const ask = async (w: Win, limit: number): Promise<WindowAnswer> => {
    const m = w.group === null ? undefined : (await membersOf(w.group)) ?? []
    if (w.around !== null) return q.window(w.key, w.around, m)
    return { view: await q.groupTop(w.key, m!, limit), userPrivate: null }
  }

  const emit = (w: Win, view: BoardView, limit: number): void => {
    clearTimeout(w.hold)
    w.hold = undefined
    w.held = null
    w.force = false
    w.view = view
    w.viewLimit = limit
    for (const l of views) l(view)
  }
  const recompute = (w: Win): void => {
    if (w.running) { w.again = true; return }
    w.running = true
    w.again = false
    clearTimeout(w.retry)
    w.retry = undefined
    queries++
    const limit = topLimit(w)
    ask(w, limit).then(
      (a) => {
        w.running = false
        if (!alive(w)) return
        w.warned = false
        if (a.userPrivate !== null && w.around !== null) privateUsers.set(w.around.user_id, a.userPrivate)
        const last = w.view
        // Asked for every watched limit: a waiting socket gets this answer whatever its seq.
        const forced = w.force && limit >= topLimit(w)
        // Never back: a view answered at a lower watermark than the last one is older news.
        if (last === null || a.view.seq > last.seq || (forced && a.view.seq === last.seq)) emit(w, a.view, limit)
        else if (a.view.seq === last.seq && sameWindow(a.view, last)) {
          // Back to what was sent: nothing to hold any more.
          clearTimeout(w.hold)
          w.hold = undefined
          w.held = null
        } else if (a.view.seq === last.seq) {
          w.held = a.view
          w.heldLimit = limit
          w.hold ??= setTimeout(() => {
            w.hold = undefined
            if (w.held !== null && alive(w)) emit(w, w.held, w.heldLimit)
          }, HOLD_MS)
        }
        if (w.again) recompute(w)
      },
      (e: unknown) => {
        w.running = false
        if (!alive(w)) return
        if (!isPartitionsUnavailable(e) && !w.warned) log.warn(`live view ${w.id}: ${e instanceof Error ? e.message : String(e)} (tried again every ${RETRY_MS} ms)`)
        w.warned = true
        if (w.again) return recompute(w)
        w.retry = setTimeout(() => recompute(w), RETRY_MS)
      }
    )
  }
  const stopLive = live.onView((v) => {
    for (const l of views) l(v)
    if (v.around !== undefined) return
    const set = byChain.get(boardKeyString(v.key))
    if (set !== undefined) for (const w of set) recompute(w)
  })

  /** The view of `key` (a top-N when `around` is null), created and first asked on its first watch. */
  const winOf = (key: BoardKey, around: AroundSpec | null): Win => {
    const id = idOf(key, around)
    let w = wins.get(id)
    if (w !== undefined) return w
    const group = groupIdOf(key.board)
    const chain = group === null ? key : { board: GLOBAL_BOARD, window: key.window, period: key.period }
    w = {
      id, key, chain, around, group, limits: new Map(), refs: 0, view: null, viewLimit: 0,
      running: false, again: false, force: false, retry: undefined, held: null, heldLimit: 0, hold: undefined, warned: false
    }
    wins.set(id, w)
    const c = boardKeyString(chain)
    const set = byChain.get(c) ?? new Set<Win>()
    set.add(w)
    byChain.set(c, set)
    // The chain's board instance is watched too: its merger runs, and its steps reach us.
    live.watch(chain, 0)
    return w
  }
  const release = (w: Win): void => {
    if (--w.refs > 0) return
    wins.delete(w.id)
    clearTimeout(w.retry)
    clearTimeout(w.hold)
    const c = boardKeyString(w.chain)
    const set = byChain.get(c)
    set?.delete(w)
    if (set !== undefined && set.size === 0) byChain.delete(c)
    const user = w.around?.user_id
    if (user !== undefined && ![...wins.values()].some((x) => x.around?.user_id === user)) privateUsers.delete(user)
    live.unwatch(w.chain, 0)
  }

  return {
    ...live,
    isPrivate: (userId) => privateUsers.get(userId) === true,
    watch: (key, limit) => {
      if (groupIdOf(key.board) === null) return live.watch(key, limit)
      const w = winOf(key, null)
      w.refs++
      w.limits.set(limit, (w.limits.get(limit) ?? 0) + 1)
      // The view holds this many entries, or the whole board.
      if (w.view !== null && (limit <= w.viewLimit || w.view.entries.length < w.viewLimit)) return w.view
      // More entries than the view holds (or none yet): the socket waits for the next answer.
      if (w.view !== null) w.force = true
      recompute(w)
      return null
    },
    unwatch: (key, limit) => {
      if (groupIdOf(key.board) === null) return live.unwatch(key, limit)
      const w = wins.get(idOf(key, null))
      if (w === undefined) return
      const n = (w.limits.get(limit) ?? 0) - 1
      if (n > 0) w.limits.set(limit, n)
      else w.limits.delete(limit)
      release(w)
    },
    watchAround: (key, around) => {
      const w = winOf(key, around)
      if (w.refs++ === 0) recompute(w)
      return w.view
    },
    unwatchAround: (key, around) => {
      const w = wins.get(idOf(key, around))
      if (w !== undefined) release(w)
    },
    onView: (l) => { views.add(l); return () => views.delete(l) },
    queries: () => queries,
    close: () => {
      closed = true
      stopLive()
      for (const w of wins.values()) { clearTimeout(w.retry); clearTimeout(w.hold) }
      wins.clear()
      byChain.clear()
    }
  }
}
