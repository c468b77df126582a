// The around-me feed's windows on the partitioned gateway (ARCHITECTURE §7, §9): wraps the
// chain-fed live boards (MergedLiveBoards.ts) into a LeaderboardPort that also serves watchAround,
// so the single process's TopicHub (advanceWindow: deltas with first_rank, rings, epochs, resume)
// runs unchanged on top. One window per (board instance, user, radius), shared by every socket of
// it: watching one watches its board instance too (the merger follows it), and each view of that
// instance (the merged chain moved: a score in its top-K, its size or its low watermark) recomputes
// the window by request/reply to the partitions — at most one query in flight per window, and one
// more after it when the chain moved meanwhile. The query reads the user's row and its partition's
// neighbours in one answer (the partition's `around` with `userId`), then every other partition's
// neighbours of that key; its seq is the lowest seq the partitions had applied when they answered,
// so a window never claims events a partition had not applied. A failed query (a partition without
// owner) is tried again every RETRY_MS while watched.
// A window that changed while that watermark did not move (a busy partition ahead of a quiet one)
// is held until an answer at a higher one — the quiet partition's next event or tick, at most a
// second (Ticker.ts) — so its deltas move seq and a resume from any of them is exact (DeltaRing
// answers a resume at a seq some delta did not move with a snapshot). Past HOLD_MS (no ticks) it
// goes out at the same seq all the same, as the mergers' top-N chain does.
// Cost: 1 + (P - 1) requests per watched window per chain step (about one per MERGE_INTERVAL_MS
// while events flow, one a second on ticks); partitions do not push their boards yet.
import type { NatsConnection } from "@nats-io/transport-node"
import { Effect } from "effect"
import type { PartAround } from "../../domain/MergedBoard.js"
import { mergeAround } from "../../domain/MergedBoard.js"
import { boardKeyString } from "../../domain/BoardKeys.js"
import type { BoardKey } from "../../domain/Model.js"
import { partitionOfUser } from "../../domain/Partition.js"
import type { PartitionRow } from "../../ports/MergedReads.js"
import { isPartitionsUnavailable } from "../../ports/MergedReads.js"
import type { AroundSpec, BoardView, LeaderboardPort } from "../../ports/ReadModel.js"
import { rankedEntry, run } from "./MergedReads.js"
import { askPartition } from "./PartitionQueries.js"

const RETRY_MS = 500
/** How long a changed window at an unmoved watermark waits for a higher one (ticks: one a second). */
const HOLD_MS = 2_500

interface AroundAnswer extends PartAround {
  readonly better: ReadonlyArray<PartitionRow>
  readonly worse: ReadonlyArray<PartitionRow>
  readonly me: PartitionRow | null
  readonly seq: number
  readonly size: number
}

/** A window as the query found it: a BoardView with `around`, and whether its user is private (null: no row). */
export interface WindowAnswer { readonly view: BoardView; readonly userPrivate: boolean | null }

export interface WindowQueries {
  /** The window of `around` on `key` (an explicit period), with an honest seq. */
  window(key: BoardKey, around: AroundSpec): Promise<WindowAnswer>
  /** Whether the user chose "private" (false for an unknown user); asks the user's partition. */
  isPrivate(userId: string): Promise<boolean>
}

export const makeWindowQueries = (nc: NatsConnection, prefix: string, partitions: number, timeoutMs = 2_000): WindowQueries => ({
  window: (key, around) => run(Effect.gen(function*() {
    const k = partitionOfUser(around.user_id, partitions)
    const others = Array.from({ length: partitions }, (_, i) => i).filter((i) => i !== k)
    const ask = { board: key.board, window: key.window, period: key.period }
    const mine = yield* askPartition<AroundAnswer>(nc, prefix, k, "around", { ...ask, userId: around.user_id, r: around.radius }, timeoutMs)
    const me = mine.me
    // The others hold no row of this user: their answers at its key cannot contain it twice.
    const rest = yield* Effect.forEach(others, (i) => me === null
      ? askPartition<{ seq: number; size: number }>(nc, prefix, i, "page", { ...ask, at: null, limit: 0 }, timeoutMs)
      : askPartition<AroundAnswer>(nc, prefix, i, "around", { ...ask, at: { xp: me.xp, seq: me.seq }, r: around.radius }, timeoutMs), { concurrency: "unbounded" })
    const seq = Math.min(mine.seq, ...rest.map((x) => x.seq))
    const total = mine.size + rest.reduce((s, x) => s + x.size, 0)
    if (me === null) return { view: { key, seq, total, entries: [], around: { ...around, first_rank: null } }, userPrivate: null }
    const parts = [mine, ...(rest as ReadonlyArray<unknown> as ReadonlyArray<AroundAnswer>)]
    const rows = new Map<string, PartitionRow>([[me.userId, me]])
    for (const p of parts) for (const r of [...p.better, ...p.worse]) rows.set(r.userId, r)
    const entries = mergeAround(me, parts, around.radius).map((e) => rankedEntry(rows.get(e.userId)!, e.rank))
    return { view: { key, seq, total, entries, around: { ...around, first_rank: entries[0]!.rank } }, userPrivate: me.private === true }
  })),
  isPrivate: (userId) => run(askPartition<{ private: boolean } | null>(nc, prefix, partitionOfUser(userId, partitions), "visibility", { userId }, timeoutMs)
    .pipe(Effect.map((v) => v?.private === true)))
})

interface Win {
  readonly key: BoardKey
  readonly around: AroundSpec
  readonly board: string
  refs: number
  view: BoardView | null
  running: boolean
  again: boolean
  retry: ReturnType<typeof setTimeout> | undefined
  /** A changed window answered at the last view's seq, waiting for a higher watermark (HOLD_MS). */
  held: BoardView | null
  hold: ReturnType<typeof setTimeout> | undefined
  /** A failure was logged since the last answer (one warning per outage, not one per retry). */
  warned: boolean
}

const sameWindow = (a: BoardView, b: BoardView): boolean =>
  a.around?.first_rank === b.around?.first_rank && JSON.stringify(a.entries) === JSON.stringify(b.entries)

export interface MergedWindows extends LeaderboardPort {
  /** Window queries run (for tests and diagnostics). */
  readonly queries: () => number
  readonly close: () => void
}

/** `live` (the chain-fed boards) plus around-me windows recomputed on each step of their board's chain. */
export const withMergedWindows = (live: LeaderboardPort, q: WindowQueries, log: { readonly warn: (m: string) => void }): MergedWindows => {
  const wins = new Map<string, Win>()
  const byBoard = new Map<string, Set<Win>>()
  /** The privacy of watched windows' users as their last answers said (TopicHub stops such a feed). */
  const privateUsers = new Map<string, boolean>()
  const views = new Set<(v: BoardView) => void>()
  let queries = 0
  let closed = false
  const idOf = (key: BoardKey, a: AroundSpec) => `${boardKeyString(key)}|@${a.radius}|${a.user_id}`
  const alive = (w: Win) => !closed && wins.get(idOf(w.key, w.around)) === w

  const emit = (w: Win, view: BoardView): void => {
    clearTimeout(w.hold)
    w.hold = undefined
    w.held = null
    w.view = view
    for (const l of views) l(view)
  }
  const recompute = (w: Win): void => {
    if (w.running) { w.again = true; return }
    w.running = true
    w.again = false
    clearTimeout(w.retry)
    w.retry = undefined
    queries++
    q.window(w.key, w.around).then(
      (a) => {
        w.running = false
        if (!alive(w)) return
        w.warned = false
        if (a.userPrivate !== null) privateUsers.set(w.around.user_id, a.userPrivate)
        const last = w.view
        // Never back: a window answered at a lower watermark than the last one is older news.
        if (last === null || a.view.seq > last.seq) emit(w, a.view)
        else if (a.view.seq === last.seq && sameWindow(a.view, last)) {
          // Back to what was sent: nothing to hold any more.
          clearTimeout(w.hold)
          w.hold = undefined
          w.held = null
        } else if (a.view.seq === last.seq) {
          w.held = a.view
          w.hold ??= setTimeout(() => {
            w.hold = undefined
            if (w.held !== null && alive(w)) emit(w, w.held)
          }, HOLD_MS)
        }
        if (w.again) recompute(w)
      },
      (e: unknown) => {
        w.running = false
        if (!alive(w)) return
        if (!isPartitionsUnavailable(e) && !w.warned) log.warn(`around-me window ${idOf(w.key, w.around)}: ${e instanceof Error ? e.message : String(e)} (tried again every ${RETRY_MS} ms)`)
        w.warned = true
        if (w.again) return recompute(w)
        w.retry = setTimeout(() => recompute(w), RETRY_MS)
      }
    )
  }
  const stopLive = live.onView((v) => {
    for (const l of views) l(v)
    if (v.around !== undefined) return
    const set = byBoard.get(boardKeyString(v.key))
    if (set !== undefined) for (const w of set) recompute(w)
  })

  return {
    ...live,
    isPrivate: (userId) => privateUsers.get(userId) === true,
    watchAround: (key, around) => {
      const id = idOf(key, around)
      let w = wins.get(id)
      if (w === undefined) {
        w = { key, around, board: boardKeyString(key), refs: 0, view: null, running: false, again: false, retry: undefined, held: null, hold: undefined, warned: false }
        wins.set(id, w)
        const set = byBoard.get(w.board) ?? new Set<Win>()
        set.add(w)
        byBoard.set(w.board, set)
        // The board instance is watched too: its merger runs, and its chain's steps reach us.
        live.watch(key, 0)
        recompute(w)
      }
      w.refs++
      return w.view
    },
    unwatchAround: (key, around) => {
      const id = idOf(key, around)
      const w = wins.get(id)
      if (w === undefined || --w.refs > 0) return
      wins.delete(id)
      clearTimeout(w.retry)
      clearTimeout(w.hold)
      const set = byBoard.get(w.board)
      set?.delete(w)
      if (set !== undefined && set.size === 0) byBoard.delete(w.board)
      if (![...wins.values()].some((x) => x.around.user_id === around.user_id)) privateUsers.delete(around.user_id)
      live.unwatch(key, 0)
    },
    onView: (l) => { views.add(l); return () => views.delete(l) },
    queries: () => queries,
    close: () => {
      closed = true
      stopLive()
      for (const w of wins.values()) { clearTimeout(w.retry); clearTimeout(w.hold) }
      wins.clear()
      byBoard.clear()
    }
  }
}
