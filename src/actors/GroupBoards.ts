// Groups in memory and their boards `group:<id>`: the members ranked by their score on the global
// board of the same window and period. A group board is never a board of its own: its ranking is
// computed from the members' global entries (GroupRanking.ts: m lookups + a sort, O(m log m)) on
// read when stale; a board someone watches live is noted after each slice that moved one of its
// members (the board registry reports marked members' changes) and updated in place with its views
// at most once per coalesced turn (COALESCE_MS; c block moves + O(c log m)), within a CPU budget
// per turn; it is recomputed when the membership changed. Groups nobody reads cost nothing per event. A closed
// period is ranked on read from the global board's archive of that period (the members' rows).
import type { BoardKey } from "../domain/Model.js"
import { GLOBAL_BOARD, boardKeyOf, boardKeyString, groupBoard, groupIdOf } from "../domain/BoardKeys.js"
import type { Group, GroupInput, GroupStore, GroupsPort, PutOutcome } from "../ports/Groups.js"
import type { AroundResult, AroundSpec, BoardCursor, BoardPage, BoardView, RankedEntry } from "../ports/ReadModel.js"
import { PRIVATE } from "../domain/state/UserTable.js"
import type { Boards } from "./Boards.js"
import type { Ranking } from "./GroupRanking.js"
import { aroundShown, aroundView, moved, rankMembers, windowOf } from "./GroupRanking.js"

/** What a watched window last showed the hub: its ranks' uids and scores, and the board's size. */
interface Shown {
  readonly first: number | null
  readonly uid: Int32Array
  readonly xp: Float64Array
  readonly total: number
  /** Each shown member's PRIVATE bit: a visibility switch re-renders a row at the same score. */
  readonly priv: Uint8Array
}

/** The window as shown, with its members' privacy bits as of now. */
const shownOf = (b: Boards, w: { first: number | null; uid: Int32Array; xp: Float64Array; total: number }): Shown => {
  const priv = new Uint8Array(w.uid.length)
  for (let i = 0; i < w.uid.length; i++) priv[i] = b.state.users.privacy[w.uid[i]!]! & PRIVATE
  return { ...w, priv }
}

/** A group board someone watches: top-N limits and around-me windows (ref-counted). */
interface Live {
  readonly key: BoardKey
  readonly limits: Map<number, number>
  readonly arounds: Map<string, { readonly spec: AroundSpec; n: number; shown: Shown | null }>
  /** The top view last handed to the hub (cut at `shownLimit`); null: the next view goes out. */
  shown: Shown | null
  shownLimit: number
}

/**
 * Touched watched group boards get their views at most once per this interval (coalesced). A view
 * is the board's full state and the hub diffs it against the view it last sent, so deltas stay
 * gapless; a member's move reaches the hub within COALESCE_MS + one turn of FLUSH_BUDGET_MS (35 ms
 * when the service keeps up), inside the 50 ms a live board's delta is promised in.
 */
export const COALESCE_MS = 25
/**
 * CPU time one coalesced turn may spend on group views; what is left waits for the next turn
 * (oldest first), so at most FLUSH_BUDGET_MS / COALESCE_MS of a core goes to group views and the
 * pipeline and the other boards' views are never starved (an overloaded service sheds group view
 * frequency, not events).
 */
export const FLUSH_BUDGET_MS = 10

/** A group with its members' uids, resolved once per membership (again when new users appeared). */
interface GroupRec {
  readonly group: Group
  readonly version: number
  uids: Int32Array | null
  /** The boards and user count the uids were resolved against. */
  uidsOf: Boards | null
  uidsAt: number
}

/** Rankings kept for reads of boards nobody watches (each is recomputed when stale anyway). */
const MAX_RANKINGS = 64

export class GroupBoards implements GroupsPort {
  private readonly groups = new Map<string, GroupRec>()
  private boards: Boards | null = null
  private readonly live = new Map<string, Live>()
  private readonly rankings = new Map<string, Ranking>()
  /** Members of live groups: uid → group ids; members who have no uid yet: user id → group ids. */
  private uidGroups = new Map<number, Set<string>>()
  private unresolved = new Map<string, Set<string>>()
  /** Groups whose members are marked, with the members and uids they were marked with. */
  private readonly marked = new Map<string, { readonly members: ReadonlyArray<string>; readonly uids: Int32Array }>()
  /** Live boards per group id. */
  private readonly liveCount = new Map<string, number>()
  private seenCapacity = 0
  private nextVersion = 1
  private writes: Promise<unknown> = Promise.resolve()
  /** Live boards whose ranking lags their members' scores (the moved members; null: recompute whole). */
  private stale = new Map<Live, Set<number> | null>()
  /** Live boards whose views the hub has not had since they changed (oldest first). */
  private readonly unsent = new Set<Live>()
  private timer: ReturnType<typeof setTimeout> | null = null

  constructor(private readonly store: GroupStore, private readonly emitView: (v: BoardView) => void) {}

  /** Loads every stored group (at start); returns how many. */
  async load(): Promise<number> {
    for (const g of await this.store.loadAll()) this.groups.set(g.id, newRec(g, this.nextVersion++))
    return this.groups.size
  }

  /** The running pipeline's boards (null while there are none); live boards get fresh views. */
  attach(boards: Boards | null): void {
    this.boards = boards
    this.rankings.clear()
    this.stale.clear()
    this.unsent.clear()
    if (boards === null) return
    boards.afterPublish = () => this.publish()
    this.seenCapacity = 0
    this.rebuildMarks()
    for (const l of this.live.values()) this.emitLive(l)
  }

  // ---- the routes' side --------------------------------------------------------------------

  get(id: string): Group | null {
    return this.groups.get(id)?.group ?? null
  }

  /** Writes go one at a time, so memory applies them in the order Postgres did. */
  put(id: string, sub: string, admin: boolean, input: GroupInput): Promise<PutOutcome> {
    return this.serial(async () => {
      const out = await this.store.put(id, sub, admin, input)
      if (out.ok) this.changed(id, out.group)
      return out
    })
  }

  delete(id: string, sub: string, admin: boolean): Promise<"deleted" | "forbidden" | "missing"> {
    return this.serial(async () => {
      const out = await this.store.delete(id, sub, admin)
      if (out === "deleted") this.changed(id, null)
      return out
    })
  }

  /**
   * Erasure (§11): the groups the user owns are deleted, and they leave every other group's
   * members (stored first, then live, like any write). Idempotent.
   */
  async forgetUser(userId: string): Promise<void> {
    for (const [id, rec] of [...this.groups]) {
      const g = rec.group
      if (g.owner === userId) await this.delete(id, userId, true)
      else if (g.members.includes(userId)) await this.put(id, g.owner, true, { name: g.name, members: g.members.filter((m) => m !== userId) })
    }
  }

  private serial<A>(f: () => Promise<A>): Promise<A> {
    const next = this.writes.then(f, f)
    this.writes = next.catch(() => undefined)
    return next
  }

  /** Membership changed: live boards of the group get a view now (a delta at the same seq). */
  private changed(id: string, group: Group | null): void {
    if (group === null) this.groups.delete(id)
    else this.groups.set(id, newRec(group, this.nextVersion++))
    const lives = [...this.live.values()].filter((l) => groupIdOf(l.key.board) === id)
    if (lives.length === 0) return
    this.unmarkGroup(id)
    this.markGroup(id)
    for (const l of lives) this.emitLive(l)
  }

  /** Hands the hub every pending view now (tests; the timer does it otherwise). */
  flush(): void {
    this.flushViews(Infinity)
  }

  // ---- reads (LiveBoards delegates group boards here) ----------------------------------------

  page(key: BoardKey, after: BoardCursor | null, limit: number): BoardPage | null | Promise<BoardPage | null> {
    const r = this.ranking(key)
    if (r === null) return this.isClosed(key) ? this.closedPage(key, after, limit) : null
    let from = 0
    if (after !== null) while (from < r.uid.length && (r.xp[from]! > after.xp || (r.xp[from] === after.xp && r.at[from]! <= after.seq))) from++
    const entries: Array<RankedEntry & { reached_seq: number }> = []
    for (let i = from; i < Math.min(r.uid.length, from + limit); i++) entries.push({ ...r.boards.entry(i + 1, r.uid[i]!, r.xp[i]!), reached_seq: r.at[i]! })
    return { key, seq: r.boards.position.applied, total: r.uid.length, entries }
  }

  around(key: BoardKey, userId: string, radius: number): AroundResult | null | Promise<AroundResult | null> {
    const r = this.ranking(key)
    if (r === null) return this.isClosed(key) ? this.closedAround(key, userId, radius) : null
    const w = windowOf(r, userId, radius)
    return { key, seq: r.boards.position.applied, total: r.uid.length, user: w.entries.find((e) => e.user_id === userId) ?? null, entries: w.entries }
  }

  watch(key: BoardKey, limit: number): BoardView | null {
    const l = this.liveOf(key)
    l.limits.set(limit, (l.limits.get(limit) ?? 0) + 1)
    l.shown = null // this snapshot is newer than what was last shown: the next view goes out
    return this.topView(l)
  }

  unwatch(key: BoardKey, limit: number): void {
    const l = this.live.get(boardKeyString(key))
    if (l === undefined) return
    const n = (l.limits.get(limit) ?? 0) - 1
    if (n > 0) l.limits.set(limit, n)
    else l.limits.delete(limit)
    this.dropIfIdle(l)
  }

  watchAround(key: BoardKey, a: AroundSpec): BoardView | null {
    const l = this.liveOf(key)
    const k = `${a.radius}|${a.user_id}`
    const w = l.arounds.get(k)
    if (w === undefined) l.arounds.set(k, { spec: a, n: 1, shown: null })
    else { w.n++; w.shown = null }
    const r = this.ranking(key)
    return r === null ? null : aroundView(r, key, a)
  }

  unwatchAround(key: BoardKey, a: AroundSpec): void {
    const l = this.live.get(boardKeyString(key))
    const k = `${a.radius}|${a.user_id}`
    const w = l?.arounds.get(k)
    if (l === undefined || w === undefined) return
    if (--w.n <= 0) l.arounds.delete(k)
    this.dropIfIdle(l)
  }

  // ---- closed periods --------------------------------------------------------------------------

  /** A period of an existing group that is closed (neither all-time, current nor still open on the global board). */
  private isClosed(key: BoardKey): boolean {
    const b = this.boards
    const gid = groupIdOf(key.board)
    if (b === null || gid === null || !this.groups.has(gid) || key.window === "all" || key.period === b.currentPeriod(key.window)) return false
    return b.openId({ board: GLOBAL_BOARD, window: key.window, period: key.period }) < 0
  }

  /**
   * A closed period's ranking: the members' rows of the global board's archive of that period
   * (as archived, scrubbed of erased users; the membership is today's), ranked 1..n among them.
   * One read of the archive per request (Boards.archivedRowsOf: one Postgres statement, or the
   * closing archive in memory); null when the period was never archived.
   */
  private async closedRows(key: BoardKey): Promise<ReadonlyArray<RankedEntry & { reached_seq: number }> | null> {
    const b = this.boards
    const g = this.groups.get(groupIdOf(key.board)!)
    if (b === null || g === undefined) return null
    const rows = await b.archivedRowsOf({ board: GLOBAL_BOARD, window: key.window, period: key.period }, g.group.members)
    return rows === null ? null : rows.map((r, i) => ({ ...r, rank: i + 1 }))
  }

  private async closedPage(key: BoardKey, after: BoardCursor | null, limit: number): Promise<BoardPage | null> {
    const rows = await this.closedRows(key)
    if (rows === null) return null
    let from = 0
    if (after !== null) while (from < rows.length && (rows[from]!.xp > after.xp || (rows[from]!.xp === after.xp && rows[from]!.reached_seq <= after.seq))) from++
    return { key, seq: 0, total: rows.length, entries: rows.slice(from, from + limit) }
  }

  private async closedAround(key: BoardKey, userId: string, radius: number): Promise<AroundResult | null> {
    const rows = await this.closedRows(key)
    if (rows === null) return null
    const i = rows.findIndex((r) => r.user_id === userId)
    if (i < 0) return { key, seq: 0, total: rows.length, user: null, entries: [] }
    const entries = rows.slice(Math.max(0, i - radius), i + radius + 1).map(({ reached_seq: _, ...e }) => e)
    return { key, seq: 0, total: rows.length, user: entries.find((e) => e.user_id === userId) ?? null, entries }
  }

  // ---- live views ----------------------------------------------------------------------------

  private liveOf(key: BoardKey): Live {
    const k = boardKeyString(key)
    let l = this.live.get(k)
    if (l === undefined) {
      l = { key, limits: new Map(), arounds: new Map(), shown: null, shownLimit: 0 }
      this.live.set(k, l)
      this.rankings.delete(k)
      const gid = groupIdOf(key.board)!
      const n = this.liveCount.get(gid) ?? 0
      this.liveCount.set(gid, n + 1)
      if (n === 0) this.markGroup(gid)
    }
    return l
  }

  private dropIfIdle(l: Live): void {
    if (l.limits.size > 0 || l.arounds.size > 0) return
    const k = boardKeyString(l.key)
    this.live.delete(k)
    this.rankings.delete(k)
    this.stale.delete(l)
    this.unsent.delete(l)
    const gid = groupIdOf(l.key.board)!
    const n = (this.liveCount.get(gid) ?? 1) - 1
    if (n > 0) this.liveCount.set(gid, n)
    else {
      this.liveCount.delete(gid)
      this.unmarkGroup(gid)
    }
  }

  private topLimit(l: Live): number {
    let limit = 0
    for (const n of l.limits.keys()) limit = Math.max(limit, n)
    return limit
  }

  private topView(l: Live): BoardView | null {
    const r = this.ranking(l.key)
    if (r === null) return null
    const limit = this.topLimit(l)
    const entries: Array<RankedEntry> = []
    for (let i = 0; i < Math.min(limit, r.uid.length); i++) entries.push(r.boards.entry(i + 1, r.uid[i]!, r.xp[i]!))
    return { key: l.key, seq: r.boards.position.applied, entries, total: r.uid.length }
  }

  /**
   * Brings a live board's ranking up to its members' scores: the moved members put back in place
   * (O(m) copies + O(c log m)), or recomputed whole when the membership, the boards or the period
   * changed, or when so many moved that sorting anew is cheaper.
   */
  private refresh(l: Live, changed: ReadonlySet<number> | null): void {
    this.stale.delete(l)
    const b = this.boards
    if (b === null) return
    const k = boardKeyString(l.key)
    const old = this.rankings.get(k)
    const g = this.groups.get(groupIdOf(l.key.board)!)
    if (changed !== null && old !== undefined && g !== undefined && old.live && old.boards === b && old.version === g.version &&
      changed.size * 8 < old.uid.length + 8 &&
      old.globalId >= 0 && old.globalId === b.openId({ board: GLOBAL_BOARD, window: l.key.window, period: l.key.period })) {
      this.rankings.set(k, moved(old, changed, b.position.applied))
    } else this.rankings.delete(k)
  }

  /**
   * Hands a live board's views (top-N, around-me windows) to the hub; with `force` false a window
   * that shows the same ranks, scores and size as last time is not sent (the hub's delta would be
   * empty).
   */
  private sendLive(l: Live, force: boolean): void {
    const b = this.boards
    if (b === null) return
    const r = this.ranking(l.key)
    if (l.limits.size > 0) {
      const limit = this.topLimit(l)
      const n = r === null ? 0 : Math.min(limit, r.uid.length)
      const now = shownOf(b, r === null ? { first: null, uid: new Int32Array(0), xp: new Float64Array(0), total: 0 } : { first: 1, uid: r.uid.slice(0, n), xp: r.xp.slice(0, n), total: r.uid.length })
      if (force || l.shownLimit !== limit || !sameShown(l.shown, now)) {
        const v = this.topView(l)
        this.emitView(v ?? { key: l.key, seq: b.position.applied, entries: [], total: 0 })
        l.shown = now
        l.shownLimit = limit
      }
    }
    for (const w of l.arounds.values()) {
      const now = r === null ? null : shownOf(b, aroundShown(r, w.spec))
      if (!force && now !== null && sameShown(w.shown, now)) continue
      this.emitView(r === null ? { key: l.key, seq: b.position.applied, entries: [], total: 0, around: { ...w.spec, first_rank: null } } : aroundView(r, l.key, w.spec))
      w.shown = now
    }
  }

  /** Recomputes a live board now and hands all its views to the hub (membership change, new boards). */
  private emitLive(l: Live): void {
    this.refresh(l, null)
    this.unsent.delete(l)
    this.sendLive(l, true)
  }

  /** Sends pending views, oldest first, until `budgetMs` is spent; the rest wait for the next turn. */
  private flushViews(budgetMs: number): void {
    if (this.timer !== null) { clearTimeout(this.timer); this.timer = null }
    const t0 = performance.now()
    for (const l of this.unsent) {
      this.unsent.delete(l)
      const changed = this.stale.get(l)
      if (changed !== undefined) this.refresh(l, changed)
      this.sendLive(l, false)
      if (performance.now() - t0 >= budgetMs) break
    }
    this.schedule()
  }

  private schedule(): void {
    if (this.timer !== null || this.unsent.size === 0) return
    this.timer = setTimeout(() => { this.timer = null; this.flushViews(FLUSH_BUDGET_MS) }, COALESCE_MS)
    this.timer.unref?.()
  }

  /**
   * After each slice (Boards.publish): the live group boards whose members' global scores changed
   * are marked stale and get new views with the next coalesced turn (a read brings a stale
   * ranking up to date first). Cost per slice: the marked members' changes of the slice; nothing
   * when no group board is watched.
   */
  private publish(): void {
    const b = this.boards
    if (b === null) return
    const reg = b.state.boards
    const pairs = reg.takeTouchedUsers()
    if (this.live.size === 0) return
    // Live group boards a slice touched, with the members that moved (null: recompute it whole).
    const dirty = this.stale
    const touch = (l: Live, uid: number): void => {
      const set = dirty.get(l)
      if (set === undefined) dirty.set(l, new Set([uid]))
      else set?.add(uid)
      this.unsent.add(l)
    }
    const users = b.state.users
    // Members who were not users yet: their first score may be in this very slice.
    if (this.unresolved.size > 0 && users.capacity > this.seenCapacity) {
      for (let uid = this.seenCapacity; uid < users.capacity; uid++) {
        if (!users.has(uid)) continue
        const gs = this.unresolved.get(users.userId(uid))
        if (gs === undefined) continue
        this.unresolved.delete(users.userId(uid))
        this.uidGroups.set(uid, gs)
        reg.markUser(uid, true)
        for (const l of this.live.values()) if (gs.has(groupIdOf(l.key.board)!)) { dirty.set(l, null); this.unsent.add(l) }
      }
    }
    this.seenCapacity = users.capacity
    for (let i = 0; i < pairs.length; i += 2) {
      const ref = reg.refs[pairs[i]!]!
      if (ref.board !== GLOBAL_BOARD) continue
      const gs = this.uidGroups.get(pairs[i + 1]!)
      if (gs === undefined) continue
      for (const g of gs) {
        const l = this.live.get(boardKeyOf(groupBoard(g), ref.window, ref.period))
        if (l !== undefined) touch(l, pairs[i + 1]!)
      }
    }
    this.schedule()
  }

  /**
   * Marks exactly the members of live groups in the board registry (O(live members)): on new
   * boards only; a board watched or dropped marks or unmarks its group's members alone (O(m)).
   */
  private rebuildMarks(): void {
    const b = this.boards
    if (b === null) return
    const reg = b.state.boards
    for (const uid of this.uidGroups.keys()) reg.markUser(uid, false)
    this.uidGroups = new Map()
    this.unresolved = new Map()
    this.marked.clear()
    for (const id of this.liveCount.keys()) this.markGroup(id)
    this.seenCapacity = b.state.users.capacity
  }

  /** Marks a group's members (its first live board, or a new membership): O(m). */
  private markGroup(id: string): void {
    const b = this.boards
    const g = this.groups.get(id)
    if (b === null || g === undefined || this.marked.has(id)) return
    const reg = b.state.boards
    const members = g.group.members
    const uids = new Int32Array(members.length)
    for (let j = 0; j < members.length; j++) {
      const m = members[j]!
      const uid = (uids[j] = b.state.users.uidOf(m))
      let set = uid >= 0 ? this.uidGroups.get(uid) : this.unresolved.get(m)
      if (set === undefined) {
        set = new Set()
        if (uid >= 0) this.uidGroups.set(uid, set)
        else this.unresolved.set(m, set)
      }
      set.add(id)
      if (uid >= 0) reg.markUser(uid, true)
    }
    this.marked.set(id, { members, uids })
  }

  /** Unmarks a group's members as marked (its last live board gone, or a membership change): O(m). */
  private unmarkGroup(id: string): void {
    const b = this.boards
    const mk = this.marked.get(id)
    if (b === null || mk === undefined) return
    this.marked.delete(id)
    const reg = b.state.boards
    for (let j = 0; j < mk.members.length; j++) {
      const m = mk.members[j]!
      const pending = this.unresolved.get(m)
      if (pending !== undefined && pending.delete(id) && pending.size === 0) this.unresolved.delete(m)
      // A member who had no uid when marked may have got one since (publish moved them).
      const uid = mk.uids[j]! >= 0 ? mk.uids[j]! : b.state.users.uidOf(m)
      const set = uid >= 0 ? this.uidGroups.get(uid) : undefined
      if (set !== undefined && set.delete(id) && set.size === 0) {
        this.uidGroups.delete(uid)
        reg.markUser(uid, false)
      }
    }
  }

  // ---- rankings ------------------------------------------------------------------------------

  /** The uids of the members who are users (string lookups only when the membership or the user count changed). */
  private memberUids(g: GroupRec, b: Boards): Int32Array {
    const users = b.state.users
    if (g.uids !== null && g.uidsOf === b && g.uidsAt === users.capacity) return g.uids
    const out: Array<number> = []
    for (const m of g.group.members) {
      const uid = users.uidOf(m)
      if (uid >= 0) out.push(uid)
    }
    g.uids = Int32Array.from(out)
    g.uidsOf = b
    g.uidsAt = users.capacity
    return g.uids
  }

  /**
   * The ranking of a group board: null when the group does not exist, there are no boards, or the
   * period is closed (group boards are kept for open periods only). Reused while exact.
   */
  private ranking(key: BoardKey): Ranking | null {
    const b = this.boards
    const gid = groupIdOf(key.board)
    const g = gid === null ? undefined : this.groups.get(gid)
    if (b === null || g === undefined) return null
    const k = boardKeyString(key)
    const globalId = b.openId({ board: GLOBAL_BOARD, window: key.window, period: key.period })
    if (globalId < 0 && key.window !== "all" && key.period !== b.currentPeriod(key.window)) return null
    const l = this.live.get(k)
    if (l !== undefined) {
      const changed = this.stale.get(l)
      if (changed !== undefined) this.refresh(l, changed)
    }
    const hit = this.rankings.get(k)
    if (hit !== undefined && hit.boards === b && hit.version === g.version && hit.globalId === globalId && (hit.live || hit.seq === b.position.applied)) return hit
    const r = rankMembers(b, this.memberUids(g, b), globalId, { version: g.version, live: this.live.has(k) })
    if (!this.rankings.has(k) && this.rankings.size >= MAX_RANKINGS) {
      for (const [rk, rv] of this.rankings) if (!rv.live) { this.rankings.delete(rk); break }
    }
    this.rankings.set(k, r)
    return r
  }
}

const newRec = (group: Group, version: number): GroupRec => ({ group, version, uids: null, uidsOf: null, uidsAt: -1 })

const sameShown = (a: Shown | null, b: Shown): boolean => {
  if (a === null || a.first !== b.first || a.total !== b.total || a.uid.length !== b.uid.length) return false
  for (let i = 0; i < b.uid.length; i++) if (a.uid[i] !== b.uid[i] || a.xp[i] !== b.xp[i] || a.priv[i] !== b.priv[i]) return false
  return true
}
