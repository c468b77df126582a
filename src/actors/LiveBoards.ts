// The gateway's LeaderboardPort over whichever pipeline is running: it keeps the watchers'
// registrations and listeners across pipeline restarts, re-applying them to the new boards, and
// remembers the last page served per (board, offset, limit) so an unchanged page is the same object
// (the route reuses its serialized body; see pageBody in gateway/routes/leaderboards.ts).
import type { BoardKey, Window } from "../domain/Model.js"
import type { AroundResult, AroundSpec, BoardCursor, BoardInfo, BoardPage, BoardView, LeaderboardPort } from "../ports/ReadModel.js"
import { periodOf } from "../domain/Periods.js"
import { PRIVATE } from "../domain/state/UserTable.js"
import type { Boards } from "./Boards.js"
import { boardKeyString, groupIdOf } from "../domain/BoardKeys.js"
import { GroupBoards } from "./GroupBoards.js"
import type { GroupStore } from "../ports/Groups.js"

const NO_GROUP_STORE: GroupStore = {
  loadAll: () => Promise.resolve([]),
  put: () => Promise.reject(new Error("no group store")),
  delete: () => Promise.reject(new Error("no group store"))
}

/** Pages remembered at most (first pages of every board, plus the cursors clients follow). */
const MAX_CACHED_PAGES = 1024

interface CachedPage {
  readonly boards: Boards
  readonly id: number
  readonly page: BoardPage
}

export class LiveBoards implements LeaderboardPort {
  private boards: Boards | null = null
  private why = "the pipeline is starting: loading its snapshot"
  private readonly watches = new Map<string, { key: BoardKey; limits: Map<number, number> }>()
  /** Around-me watches (board key × user × radius → count), re-applied to a restarted pipeline. */
  private readonly aroundWatches = new Map<string, { key: BoardKey; around: AroundSpec; n: number }>()
  private readonly viewListeners = new Set<(v: BoardView) => void>()
  private readonly rollListeners = new Set<(w: Window, p: string) => void>()
  private readonly resetListeners = new Set<() => void>()
  /** Set by a re-projection's switch: the next boards attached are a new history (a new epoch). */
  private resetOnAttach = false
  private readonly pages = new Map<string, CachedPage>()
  /** Group boards (`group:<id>`) are answered by GroupBoards, never by a board of the pipeline. */
  private groups: GroupBoards | null = null

  constructor(private readonly now: () => number = Date.now) {}

  /**
   * Called with the boards of a (re)started pipeline: re-register every watcher, push fresh views
   * (a topic opened meanwhile gets its first view, hence its snapshot, here). `why`: the sentence
   * reads answer with while there are none.
   */
  /** Serve `group:<id>` boards from these groups (App.ts, once, before the pipeline starts). */
  useGroups(groups: GroupBoards): void {
    this.groups = groups
    groups.attach(this.boards)
  }

  attach(boards: Boards | null, why?: string): void {
    this.boards = boards
    if (why !== undefined) this.why = why
    this.pages.clear()
    this.groups?.attach(boards)
    if (boards === null) return
    if (this.resetOnAttach) {
      this.resetOnAttach = false
      for (const l of this.resetListeners) l()
    }
    for (const w of this.watches.values()) {
      let view: BoardView | null = null
      for (const [limit, n] of w.limits) for (let i = 0; i < n; i++) view = boards.watch(w.key, limit)
      if (view !== null) this.emitView(view)
    }
    for (const w of this.aroundWatches.values()) {
      let view: BoardView | null = null
      for (let i = 0; i < w.n; i++) view = boards.watchAround(w.key, w.around)
      if (view !== null) this.emitView(view)
    }
  }

  emitView = (v: BoardView): void => { for (const l of this.viewListeners) l(v) }
  emitRollover = (w: Window, p: string): void => { for (const l of this.rollListeners) l(w, p) }

  isPrivate(userId: string): boolean {
    return this.boards?.privateNow(userId) ?? false
  }

  unavailable(): string | null {
    return this.boards === null ? this.why : null
  }

  currentPeriod(window: Window): string {
    return this.boards?.currentPeriod(window) ?? periodOf(window, this.now())
  }

  list(): ReadonlyArray<BoardInfo> {
    return this.boards?.list() ?? []
  }

  /**
   * Boards.page, except that a page whose rows (user, xp, reached seq, username, level) are all
   * unchanged keeps its entries array, and one whose seq and total are unchanged too is returned
   * as the very same object. Checking the rows costs a walk of `limit` index entries and user
   * lookups (no allocation); building them anew costs objects per row and their serialization.
   */
  page(key: BoardKey, after: BoardCursor | null, limit: number): BoardPage | null | Promise<BoardPage | null> {
    const boards = this.boards
    if (boards === null) return null
    const groups = this.groupsFor(key)
    if (groups !== null) return groups.page(key, after, limit)
    const id = boards.openId(key)
    if (id < 0) return boards.page(key, after, limit) // empty current board or an archive
    const offset = boards.offsetAfter(id, after) // where Boards.page starts too
    const ck = `${boardKeyString(key)}|${offset}|${limit}`
    const hit = this.pages.get(ck)
    const seq = boards.position.applied
    const total = boards.state.boards.tree(id)!.size
    if (hit !== undefined && hit.boards === boards && hit.id === id && sameRows(boards, id, offset, limit, hit.page.entries)) {
      const p = hit.page
      if (p.seq === seq && p.total === total) return p
      const page: BoardPage = { key: p.key, seq, total, entries: p.entries }
      this.pages.set(ck, { boards, id, page })
      return page
    }
    const page = boards.pageOf(id, key, offset, limit)
    if (hit === undefined && this.pages.size >= MAX_CACHED_PAGES) this.pages.delete(this.pages.keys().next().value!)
    this.pages.set(ck, { boards, id, page })
    return page
  }

  around(key: BoardKey, userId: string, radius: number): AroundResult | null | Promise<AroundResult | null> {
    const groups = this.groupsFor(key)
    if (groups !== null) return this.boards === null ? null : groups.around(key, userId, radius)
    const b = this.boards
    // An open board from memory; a closed period from its archive (null: never archived, 404).
    return b === null ? null : b.around(key, userId, radius) ?? b.archivedAround(key, userId, radius)
  }

  /**
   * The group boards when `key` is a group board, else null. Without groups (a LiveBoards nobody
   * gave any) a group board is an empty registry: unknown group, never a board of the pipeline.
   */
  private groupsFor(key: BoardKey): GroupBoards | null {
    if (groupIdOf(key.board) === null) return null
    if (this.groups === null) this.useGroups(new GroupBoards(NO_GROUP_STORE, this.emitView))
    return this.groups
  }

  watch(key: BoardKey, limit: number): BoardView | null {
    const groups = this.groupsFor(key)
    if (groups !== null) return groups.watch(key, limit)
    const k = boardKeyString(key)
    let w = this.watches.get(k)
    if (w === undefined) { w = { key, limits: new Map() }; this.watches.set(k, w) }
    w.limits.set(limit, (w.limits.get(limit) ?? 0) + 1)
    return this.boards?.watch(key, limit) ?? null
  }

  unwatch(key: BoardKey, limit: number): void {
    const groups = this.groupsFor(key)
    if (groups !== null) return groups.unwatch(key, limit)
    const k = boardKeyString(key)
    const w = this.watches.get(k)
    if (w !== undefined) {
      const n = (w.limits.get(limit) ?? 0) - 1
      if (n > 0) w.limits.set(limit, n)
      else w.limits.delete(limit)
      if (w.limits.size === 0) this.watches.delete(k)
    }
    this.boards?.unwatch(key, limit)
  }

  watchAround(key: BoardKey, around: AroundSpec): BoardView | null {
    const groups = this.groupsFor(key)
    if (groups !== null) return groups.watchAround(key, around)
    const k = aroundKey(key, around)
    const w = this.aroundWatches.get(k)
    if (w === undefined) this.aroundWatches.set(k, { key, around, n: 1 })
    else w.n++
    return this.boards?.watchAround(key, around) ?? null
  }

  unwatchAround(key: BoardKey, around: AroundSpec): void {
    const groups = this.groupsFor(key)
    if (groups !== null) return groups.unwatchAround(key, around)
    const k = aroundKey(key, around)
    const w = this.aroundWatches.get(k)
    if (w !== undefined && --w.n <= 0) this.aroundWatches.delete(k)
    this.boards?.unwatchAround(key, around)
  }

  onView(listener: (view: BoardView) => void): () => void {
    this.viewListeners.add(listener)
    return () => { this.viewListeners.delete(listener) }
  }

  onRollover(listener: (window: Window, period: string) => void): () => void {
    this.rollListeners.add(listener)
    return () => { this.rollListeners.delete(listener) }
  }

  onReset(listener: () => void): () => void {
    this.resetListeners.add(listener)
    return () => { this.resetListeners.delete(listener) }
  }

  /** The boards attached next replace the history (a re-projection switched in): their feeds get a new epoch. */
  newEpochOnNextAttach(): void {
    this.resetOnAttach = true
  }
}

const aroundKey = (key: BoardKey, a: AroundSpec): string => `${boardKeyString(key)}|${a.user_id}|${a.radius}`

/** True when ranks offset+1.. of board `id` hold exactly `rows` (as Boards.pageOf would build them now). */
const sameRows = (b: Boards, id: number, offset: number, limit: number, rows: BoardPage["entries"]): boolean => {
  let i = 0
  let same = true
  const u = b.state.users
  const visited = b.state.boards.tree(id)!.forEachInRange(offset, limit, (uid, score, seq) => {
    if (!same) return
    const r = rows[i++]
    if (r === undefined || r.xp !== score || r.reached_seq !== seq || !u.isUser(uid, r.user_id)) { same = false; return }
    if (!u.hasUsername(uid, r.username) || r.level !== u.level[uid] || (r.private === true) !== ((u.privacy[uid]! & PRIVATE) !== 0)) same = false
  })
  return same && visited === rows.length
}
