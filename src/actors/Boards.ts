// The boards of a running pipeline as the gateway reads them (pages, around-me, listings, live
// views) and as stream time moves them (period rollover, closing and archiving). Reads run between
// slices, so they always see whole slices applied; every answer carries the visible seq.
import type { BoardKey, Window } from "../domain/Model.js"
import { WINDOWS } from "../domain/Model.js"
import { periodOf } from "../domain/Periods.js"
import type { EngineState } from "../domain/engine/Engine.js"
import { boardScoreOf } from "../domain/engine/UserViews.js"
import { PRIVATE } from "../domain/state/UserTable.js"
import type { ArchiveKeyRead, ArchivedBoard, PeriodArchive } from "../ports/Snapshots.js"
import type { UserNotification } from "../ports/LiveFeed.js"
import type { LiveFeedSink } from "../ports/LiveFeed.js"
import type { AroundResult, AroundSpec, BoardCursor, BoardInfo, BoardPage, BoardView, RankedEntry } from "../ports/ReadModel.js"
import type { Position } from "./Processor.js"

export interface BoardsDeps {
  readonly readArchive: (board: string, window: string, period: string, offset: number, limit: number) => Promise<ArchivedBoard | null>
  /** The given users' archived rows of a closed period (a closed group board); without it, the archive is paged through. */
  readonly readArchiveOf?: (board: string, window: string, period: string, userIds: ReadonlyArray<string>) => Promise<ArchivedBoard | null>
  /** A closed period's archived rows by key (a keyset page, a key's neighbours); without it, the archive is paged through. */
  readonly readArchiveByKey?: (board: string, window: string, period: string, read: ArchiveKeyRead) => Promise<ArchivedBoard | null>
  /** The seq of the last snapshot committed to Postgres: archives closed up to it are stored there. */
  readonly committedSeq: () => number
  /** Wall clock, only for "the current period" before any event has been seen. */
  readonly now: () => number
  readonly feed: LiveFeedSink
}

type PageEntry = BoardPage["entries"][number]

/** Users whose id and name strings are kept for views (the cache starts over beyond this). */
const TEXT_CACHE_LIMIT = 20_000

export class Boards {
  private readonly watchers = new Map<number, Map<number, number>>()
  /** Around-me watchers: board id → user id → radius → count (one window per user and board). */
  private readonly aroundWatchers = new Map<number, Map<string, Map<number, number>>>()
  private readonly current = new Map<Window, string>()
  /** Per board, the last rank reported to each watched user (rank_changed). */
  private readonly lastRanks = new Map<number, Map<string, number>>()
  /**
   * Boards closed in memory whose archive no snapshot has committed yet, by board key: until it
   * is in Postgres (the next cut, later while Postgres is down), reads of the period come from here.
   */
  private readonly closing = new Map<string, PeriodArchive>()

  /** Runs at the end of every publish (group boards: GroupBoards.attach sets it). */
  afterPublish: (() => void) | null = null

  constructor(readonly state: EngineState, readonly position: Position, private readonly deps: BoardsDeps) {}

  // ---- reads -----------------------------------------------------------------------------

  currentPeriod(window: Window): string {
    const t = this.position.streamTimeMs
    return periodOf(window, t > 0 ? t : this.deps.now())
  }

  /** The id of an open board, or -1. */
  openId(key: BoardKey): number {
    const id = this.state.boards.find(key.board, key.window, key.period)
    return id >= 0 && this.state.boards.isOpen(id) ? id : -1
  }

  list(): ReadonlyArray<BoardInfo> {
    const b = this.state.boards
    const out: Array<BoardInfo> = []
    for (const id of b.open()) {
      const size = b.tree(id)!.size
      if (size === 0 && this.watchers.get(id) === undefined) continue
      out.push({ ...b.refs[id]!, size, closed: false })
    }
    return out.sort((x, y) => (x.board + x.window + x.period).localeCompare(y.board + y.window + y.period))
  }

  entry(rank: number, uid: number, xp: number): RankedEntry {
    const u = this.state.users
    const e: RankedEntry = { rank, user_id: this.userIdText(uid), username: this.usernameText(uid), xp, level: u.level[uid]! }
    return (u.privacy[uid]! & PRIVATE) === 0 ? e : { ...e, private: true }
  }

  // A watched board's top is rebuilt after every slice whose changes reach it (hundreds of times a
  // second under load), and the user table keeps names as bytes: without these caches each view
  // made two new strings per entry. A uid's id never changes; a cached username is checked
  // against the table (no allocation) before it is reused.
  private readonly idTexts = new Map<number, string>()
  private readonly nameTexts = new Map<number, string>()

  private userIdText(uid: number): string {
    let s = this.idTexts.get(uid)
    if (s === undefined) {
      if (this.idTexts.size >= TEXT_CACHE_LIMIT) this.idTexts.clear()
      s = this.state.users.userId(uid)
      this.idTexts.set(uid, s)
    }
    return s
  }

  private usernameText(uid: number): string {
    const u = this.state.users
    let s = this.nameTexts.get(uid)
    if (s === undefined || !u.hasUsername(uid, s)) {
      if (this.nameTexts.size >= TEXT_CACHE_LIMIT) this.nameTexts.clear()
      s = u.username(uid)
      this.nameTexts.set(uid, s)
    }
    return s
  }

  top(id: number, offset: number, limit: number): Array<RankedEntry> {
    const out: Array<RankedEntry> = []
    this.state.boards.tree(id)?.forEachInRange(offset, limit, (uid, xp, _seq, rank) => { out.push(this.entry(rank, uid, xp)) })
    return out
  }

  /** Rank offset of the page after a keyset cursor: every entry at or before its (xp, seq). */
  offsetAfter(id: number, after: BoardCursor | null): number {
    return after === null ? 0 : this.state.boards.tree(id)!.countThrough(after.xp, after.seq)
  }

  pageOf(id: number, key: BoardKey, offset: number, limit: number): BoardPage {
    const entries: Array<PageEntry> = []
    const t = this.state.boards.tree(id)!
    t.forEachInRange(offset, limit, (uid, xp, seq, rank) => { entries.push({ ...this.entry(rank, uid, xp), reached_seq: seq }) })
    return { key, seq: this.position.applied, total: t.size, entries }
  }

  page(key: BoardKey, after: BoardCursor | null, limit: number): BoardPage | null | Promise<BoardPage | null> {
    const id = this.openId(key)
    if (id >= 0) return this.pageOf(id, key, this.offsetAfter(id, after), limit)
    if (key.window === "all" || key.period === this.currentPeriod(key.window)) return { key, seq: this.position.applied, total: 0, entries: [] }
    return this.archivedPage(key, after, limit)
  }

  /** The archive of a period closed in memory and not yet committed. */
  private closingArchive(key: BoardKey): PeriodArchive | undefined {
    this.forgetCommitted()
    return this.closing.get(closingKey(key.board, key.window, key.period))
  }

  /** Drops the closing archives a committed snapshot holds (Postgres answers for them now). */
  private forgetCommitted(): void {
    if (this.closing.size === 0) return
    const committed = this.deps.committedSeq()
    for (const [k, a] of this.closing) if (a.closedAtSeq <= committed) this.closing.delete(k)
  }

  /** A closed period's page after a keyset cursor (ranks as archived, seq 0), or null when it has no archive. */
  private async archivedPage(key: BoardKey, after: BoardCursor | null, limit: number): Promise<BoardPage | null> {
    const a = await this.archivedByKey(key, { after, limit })
    if (a === null) return null
    return { key, seq: 0, total: a.entries, entries: a.rows.map((r) => this.marked({ rank: r.rank, user_id: r.user_id, username: r.username, xp: r.xp, level: r.level, reached_seq: r.reached_seq })) }
  }

  /**
   * Around-me on a closed period: the user's archived row and up to `radius` archived rows on each
   * side, at their archived ranks (seq 0, as the period's pages); user null when the user has no
   * row there; null when the period has no archive (or is open, or current). Three reads of the
   * archive (the user's row, the rows before and after its key).
   */
  async archivedAround(key: BoardKey, userId: string, radius: number): Promise<AroundResult | null> {
    const mine = await this.archivedRowsOf(key, [userId])
    if (mine === null) return null
    const me = mine[0]
    if (me === undefined) {
      const size = await this.archivedByKey(key, { after: null, limit: 0 })
      return size === null ? null : { key, seq: 0, total: size.entries, user: null, entries: [] }
    }
    const at = { xp: me.xp, seq: me.reached_seq }
    const [before, after] = await Promise.all([this.archivedByKey(key, { before: at, limit: radius }), this.archivedByKey(key, { after: at, limit: radius })])
    if (before === null || after === null) return null
    const row = (r: ArchivedBoard["rows"][number]): RankedEntry => this.marked({ rank: r.rank, user_id: r.user_id, username: r.username, xp: r.xp, level: r.level })
    const { reached_seq: _, ...user } = me
    return { key, seq: 0, total: before.entries, user, entries: [...before.rows.map(row), user, ...after.rows.map(row)] }
  }

  /**
   * A closed period's archived rows by key (`ArchiveKeyRead`: a keyset page, or the rows just
   * better than a key), `entries` its size, ranks as archived: the closing archive in memory, else
   * Postgres; null when that period has no archive here (or is open, or current). Rows unmarked
   * (no privacy applied: callers mark them).
   */
  async archivedByKey(key: BoardKey, read: ArchiveKeyRead): Promise<ArchivedBoard | null> {
    if (this.openId(key) >= 0 || key.window === "all" || key.period === this.currentPeriod(key.window)) return null
    const closing = this.closingArchive(key)
    if (closing !== undefined) {
      return byKey(closing.entries.length, closing.entries.map((e, i) => ({ rank: i + 1, user_id: e.userId, username: e.username, xp: e.xp, level: e.level, reached_seq: e.seq })), read)
    }
    if (this.deps.readArchiveByKey !== undefined) return this.deps.readArchiveByKey(key.board, key.window, key.period, read)
    const all: Array<ArchivedBoard["rows"][number]> = []
    let entries = 0
    for (let offset = 0; ; offset += 1000) {
      const a = await this.deps.readArchive(key.board, key.window, key.period, offset, 1000)
      if (a === null) return null
      entries = a.entries
      all.push(...a.rows)
      if (a.rows.length < 1000) break
    }
    return byKey(entries, all, read)
  }

  /**
   * The rows of `members` on a closed period of `key`'s board, in its rank order (ranks as
   * archived), or null when that period has no archive (or is not closed): a closing period's
   * archive from memory, else Postgres. What a closed group board is ranked from.
   */
  async archivedRowsOf(key: BoardKey, members: ReadonlyArray<string>): Promise<ReadonlyArray<PageEntry> | null> {
    if (this.openId(key) >= 0 || key.window === "all" || key.period === this.currentPeriod(key.window)) return null
    const closing = this.closingArchive(key)
    const wanted = new Set(members)
    if (closing !== undefined) {
      return closing.entries.flatMap((e, i) => wanted.has(e.userId) ? [this.marked({ rank: i + 1, user_id: e.userId, username: e.username, xp: e.xp, level: e.level, reached_seq: e.seq })] : [])
    }
    let rows: ArchivedBoard["rows"]
    if (this.deps.readArchiveOf !== undefined) {
      const a = await this.deps.readArchiveOf(key.board, key.window, key.period, members)
      if (a === null) return null
      rows = a.rows
    } else {
      const all: Array<ArchivedBoard["rows"][number]> = []
      for (let offset = 0; ; offset += 1000) {
        const a = await this.deps.readArchive(key.board, key.window, key.period, offset, 1000)
        if (a === null) return null
        for (const r of a.rows) if (wanted.has(r.user_id)) all.push(r)
        if (a.rows.length < 1000) break
      }
      rows = all
    }
    return rows.map((r) => this.marked({ rank: r.rank, user_id: r.user_id, username: r.username, xp: r.xp, level: r.level, reached_seq: r.reached_seq }))
  }

  /** An archived row, marked private when its user is private now (archives keep ids, not settings). */
  marked<E extends RankedEntry>(e: E): E {
    return this.privateNow(e.user_id) ? { ...e, private: true } : e
  }

  /** Whether `userId` is a known user whose visibility is private now (what `marked` marks an archived row by). */
  privateNow(userId: string): boolean {
    const u = this.state.users
    const uid = u.uidOf(userId)
    return uid >= 0 && (u.privacy[uid]! & PRIVATE) !== 0
  }

  /** A user's 1-based rank on an open board, or undefined. */
  rankOf(id: number, uid: number): number | undefined {
    const sc = boardScoreOf(this.state, uid, id)
    return sc === undefined ? undefined : this.state.boards.tree(id)!.countBefore(sc.xp, sc.seq, uid) + 1
  }

  around(key: BoardKey, userId: string, radius: number): AroundResult | null {
    const id = this.openId(key)
    if (id < 0) return null
    const total = this.state.boards.tree(id)!.size
    const uid = this.state.users.uidOf(userId)
    const rank = uid < 0 ? undefined : this.rankOf(id, uid)
    if (rank === undefined) return { key, seq: this.position.applied, total, user: null, entries: [] }
    const from = Math.max(0, rank - 1 - radius)
    const entries = this.top(id, from, rank - from + radius)
    return { key, seq: this.position.applied, total, user: entries.find((e) => e.user_id === userId) ?? null, entries }
  }

  // ---- live views ------------------------------------------------------------------------

  view(id: number, key: BoardKey): BoardView {
    const b = this.state.boards
    const entries = this.top(id, 0, b.watchLimit(id))
    b.viewTaken(id)
    return { key, seq: this.position.applied, entries, total: b.tree(id)!.size }
  }

  watch(key: BoardKey, limit: number): BoardView {
    // A board nobody scored on yet is made so watchers get its first deltas; a closed one never is.
    const id = this.state.boards.openIdOf(key.board, key.window, key.period, this.position.streamTimeMs)
    if (id < 0) return { key, seq: this.position.applied, entries: [], total: 0 }
    let limits = this.watchers.get(id)
    if (limits === undefined) { limits = new Map(); this.watchers.set(id, limits) }
    limits.set(limit, (limits.get(limit) ?? 0) + 1)
    this.state.boards.setWatchLimit(id, Math.max(...limits.keys()))
    return this.view(id, key)
  }

  unwatch(key: BoardKey, limit: number): void {
    const id = this.openId(key)
    if (id < 0) return
    const limits = this.watchers.get(id)
    if (limits === undefined) return
    const n = (limits.get(limit) ?? 0) - 1
    if (n > 0) limits.set(limit, n)
    else limits.delete(limit)
    if (limits.size === 0) this.watchers.delete(id)
    this.state.boards.setWatchLimit(id, limits.size === 0 ? 0 : Math.max(...limits.keys()))
  }

  /** The window of ranks around a user (radius each side) as an around-me view. */
  aroundView(id: number, key: BoardKey, userId: string, radius: number): BoardView {
    const total = this.state.boards.tree(id)!.size
    const uid = this.state.users.uidOf(userId)
    const rank = uid < 0 ? undefined : this.rankOf(id, uid)
    if (rank === undefined) return { key, seq: this.position.applied, entries: [], total, around: { user_id: userId, radius, first_rank: null } }
    const from = Math.max(0, rank - 1 - radius)
    const entries = this.top(id, from, rank - from + radius)
    return { key, seq: this.position.applied, entries, total, around: { user_id: userId, radius, first_rank: from + 1 } }
  }

  watchAround(key: BoardKey, a: AroundSpec): BoardView {
    const id = this.state.boards.openIdOf(key.board, key.window, key.period, this.position.streamTimeMs)
    if (id < 0) return { key, seq: this.position.applied, entries: [], total: 0, around: { ...a, first_rank: null } }
    let users = this.aroundWatchers.get(id)
    if (users === undefined) this.aroundWatchers.set(id, (users = new Map()))
    let radii = users.get(a.user_id)
    if (radii === undefined) users.set(a.user_id, (radii = new Map()))
    radii.set(a.radius, (radii.get(a.radius) ?? 0) + 1)
    return this.aroundView(id, key, a.user_id, a.radius)
  }

  unwatchAround(key: BoardKey, a: AroundSpec): void {
    const id = this.openId(key)
    const users = id < 0 ? undefined : this.aroundWatchers.get(id)
    const radii = users?.get(a.user_id)
    if (users === undefined || radii === undefined) return
    const n = (radii.get(a.radius) ?? 0) - 1
    if (n > 0) radii.set(a.radius, n)
    else radii.delete(a.radius)
    if (radii.size === 0) users.delete(a.user_id)
    if (users.size === 0) this.aroundWatchers.delete(id)
  }

  /**
   * Around-me views of one changed board: per watched user one rank lookup and one walk of the
   * widest watched window (O(log n + radius)); narrower radii are cut from it. Never a board scan.
   */
  private publishAround(id: number, users: Map<string, Map<number, number>>): void {
    const key = this.state.boards.refs[id]!
    for (const [userId, radii] of users) {
      let widest = 0
      for (const r of radii.keys()) widest = Math.max(widest, r)
      const w = this.aroundView(id, key, userId, widest)
      for (const r of radii.keys()) {
        if (r === widest || w.around!.first_rank === null) { this.deps.feed.emitView(r === widest ? w : { ...w, around: { user_id: userId, radius: r, first_rank: null } }); continue }
        const rank = w.entries.findIndex((e) => e.user_id === userId) + w.around!.first_rank
        const entries = w.entries.filter((e) => e.rank >= rank - r && e.rank <= rank + r)
        this.deps.feed.emitView({ ...w, entries, around: { user_id: userId, radius: r, first_rank: entries[0]!.rank } })
      }
    }
  }

  /**
   * After a slice: one view per watched board whose top changed, and rank_changed for watched
   * users on the boards that changed. `changed` lists the boards the slice moved.
   */
  publish(changed: ReadonlyArray<number>): void {
    const b = this.state.boards
    const feed = this.deps.feed
    const notes: Array<UserNotification> = []
    for (const id of changed) {
      if (!b.isOpen(id)) continue
      if (b.viewDirty(id)) feed.emitView(this.view(id, b.refs[id]!))
      const around = this.aroundWatchers.get(id)
      if (around !== undefined) this.publishAround(id, around)
      if (feed.watchedUsers.size > 0 && feed.rankChanges !== false) this.rankChanges(id, notes)
    }
    if (notes.length > 0) feed.notify(notes)
    this.afterPublish?.()
  }

  private rankChanges(id: number, notes: Array<UserNotification>): void {
    const ref = this.state.boards.refs[id]!
    let last = this.lastRanks.get(id)
    for (const u of this.deps.feed.watchedUsers) {
      const uid = this.state.users.uidOf(u)
      if (uid < 0) continue
      const rank = this.rankOf(id, uid)
      if (rank === undefined) continue
      last ??= new Map()
      const prev = last.get(u)
      if (prev !== rank) {
        last.set(u, rank)
        notes.push({ type: "rank_changed", user_id: u, seq: this.position.applied, board: ref.board, window: ref.window, period: ref.period, rank, prev_rank: prev ?? null })
      }
    }
    if (last !== undefined) this.lastRanks.set(id, last)
  }

  // ---- stream time -----------------------------------------------------------------------

  /** Emits a rollover for each window whose current period changed in stream time. */
  rollPeriods(): void {
    for (const w of WINDOWS) {
      if (w === "all") continue
      const p = this.currentPeriod(w)
      const prev = this.current.get(w)
      if (prev !== p) {
        this.current.set(w, p)
        if (prev !== undefined) this.deps.feed.emitRollover(w, p)
      }
    }
  }

  /** Closes the boards whose period closed by the current stream time; returns their archives. */
  closeExpired(): Array<PeriodArchive> {
    const b = this.state.boards
    const u = this.state.users
    const out: Array<PeriodArchive> = []
    this.forgetCommitted()
    for (const id of b.expired(this.position.streamTimeMs)) {
      const ref = b.refs[id]!
      const entries: Array<PeriodArchive["entries"][number]> = []
      b.tree(id)!.forEach((uid, xp, seq) => { entries.push({ userId: u.userId(uid), username: u.username(uid), xp, seq, level: u.level[uid]! }) })
      const archive: PeriodArchive = { board: ref.board, window: ref.window, period: ref.period, closedAtSeq: this.position.applied, entries }
      out.push(archive)
      this.closing.set(closingKey(ref.board, ref.window, ref.period), archive)
      b.retire(id)
      u.markDead(id)
      this.watchers.delete(id)
      this.aroundWatchers.delete(id)
      this.lastRanks.delete(id)
    }
    return out
  }
}

const closingKey = (board: string, window: string, period: string): string => `${board}\u0000${window}\u0000${period}`

/** `read` over a whole archived ranking held in memory (rank order), as Postgres answers it (PeriodArchives.ts). */
const byKey = (entries: number, rows: ReadonlyArray<ArchivedBoard["rows"][number]>, read: ArchiveKeyRead): ArchivedBoard => {
  const better = (r: ArchivedBoard["rows"][number], k: { xp: number; seq: number }) => r.xp > k.xp || (r.xp === k.xp && r.reached_seq < k.seq)
  if ("before" in read) {
    let to = 0
    while (to < rows.length && better(rows[to]!, read.before)) to++
    return { entries, rows: rows.slice(Math.max(0, to - read.limit), to) }
  }
  let from = 0
  const after = read.after
  if (after !== null) while (from < rows.length && (rows[from]!.xp > after.xp || (rows[from]!.xp === after.xp && rows[from]!.reached_seq <= after.seq))) from++
  return { entries, rows: rows.slice(from, from + read.limit) }
}
