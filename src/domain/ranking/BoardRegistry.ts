// Every open board (board × window × period) by dense board id, each a RankTree over dense uids,
// and the score sink the engine writes through: a score change moves one tree entry and records
// whether it can have changed what watchers see (the board's top-`limit` view), so a batch costs
// views only for boards whose visible top moved. Period boards close in stream time.
import type { Window } from "../Model.js"
import { GLOBAL_BOARD, agentBoard, boardKeyOf } from "../BoardKeys.js"
import { closesAtMs, periodsOfDay } from "../Periods.js"
import type { DayPeriods } from "../Periods.js"
import { RankTree } from "./RankTree.js"

export interface BoardRef {
  readonly board: string
  readonly window: Window
  readonly period: string
}

/** What the engine calls for every board score it changes. */
export interface ScoreSink {
  /** uid's score on the board went from (oldXp, oldSeq) — oldXp < 0: not on it yet — to (xp, seq). */
  score(boardId: number, uid: number, oldXp: number, oldSeq: number, xp: number, seq: number): void
}

/** Board ids of one UTC day's periods, made on first use: global (day, week, month) and per agent name id. */
export interface DayBoards {
  readonly periods: DayPeriods
  readonly global: Int32Array
  agent: Int32Array
}

const WINDOW_OF: ReadonlyArray<Window> = ["day", "week", "month"]
const periodText = (p: DayPeriods, w: number): string => (w === 0 ? p.day : w === 1 ? p.week : p.month)

/** The id of the global all-time board (its scores live in the user table's columns). */
export const GLOBAL_ALL = 0

const keyOf = boardKeyOf
const DAY_CACHE_LIMIT = 1024

export class BoardRegistry implements ScoreSink {
  private readonly byKey = new Map<string, number>()
  readonly refs: Array<BoardRef> = []
  /** The ranking of each board id; null once its period closed. */
  readonly trees: Array<RankTree | null> = []
  private closesAt: Float64Array = new Float64Array(64)
  // Per board, for watchers: the largest watched limit (0: unwatched), whether a change touched
  // the view since it was last taken, and the key of the view's last entry.
  private limit: Int32Array = new Int32Array(64)
  private dirty: Uint8Array = new Uint8Array(64)
  private thr: Float64Array = new Float64Array(3 * 64)
  private full: Uint8Array = new Uint8Array(64)
  // Boards changed since takeChanged(): ids and a membership mark.
  private changed: Array<number> = []
  private changedMark: Uint8Array = new Uint8Array(64)
  // Users whose score changes are reported (takeTouchedUsers): members of live group boards. A
  // mark per uid; the hot path pays one typed-array read per score change.
  private userMark: Uint8Array = new Uint8Array(0)
  private touchedUsers: Array<number> = []
  /** agent name id → board id of agent:<name> all-time (-1: not made yet). */
  private agentAll: Int32Array = new Int32Array(16).fill(-1)
  private readonly days = new Map<number, DayBoards>()

  constructor(private readonly agentName: (agentId: number) => string, private readonly graceMs: number) {
    this.idOf(GLOBAL_BOARD, "all", "all")
  }

  get count(): number {
    return this.refs.length
  }

  /** The id of a board, making it (empty) when it does not exist yet. */
  idOf(board: string, window: Window, period: string): number {
    const k = keyOf(board, window, period)
    let id = this.byKey.get(k)
    if (id !== undefined) return id
    id = this.refs.length
    this.byKey.set(k, id)
    this.refs.push({ board, window, period })
    this.trees.push(new RankTree())
    if (id >= this.limit.length) this.grow(2 * id + 2)
    this.closesAt[id] = window === "all" ? Number.POSITIVE_INFINITY : closesAtMs(window, period, { periodGraceMs: this.graceMs })
    return id
  }

  /**
   * The id of a board whose period is still open at stream time `nowMs` (made when missing), or
   * -1: a closed period never gets a live board, which would archive an empty one over the real one.
   */
  openIdOf(board: string, window: Window, period: string, nowMs: number): number {
    const id = this.find(board, window, period)
    if (id >= 0) return this.isOpen(id) ? id : -1
    if (window !== "all" && closesAtMs(window, period, { periodGraceMs: this.graceMs }) <= nowMs) return -1
    return this.idOf(board, window, period)
  }

  /** The id of a board, or -1 when it was never made. */
  find(board: string, window: Window, period: string): number {
    return this.byKey.get(keyOf(board, window, period)) ?? -1
  }

  tree(id: number): RankTree | null {
    return this.trees[id] ?? null
  }

  isOpen(id: number): boolean {
    return this.trees[id] !== null && this.trees[id] !== undefined
  }

  closesAtOf(id: number): number {
    return this.closesAt[id]!
  }

  /** Board id of agent:<name> all-time for an agent name id. */
  agentAllTime(agentId: number): number {
    if (agentId >= this.agentAll.length) {
      const a = new Int32Array(Math.max(agentId + 1, 2 * this.agentAll.length)).fill(-1)
      a.set(this.agentAll)
      this.agentAll = a
    }
    let id = this.agentAll[agentId]!
    if (id < 0) {
      id = this.idOf(agentBoard(this.agentName(agentId)), "all", "all")
      this.agentAll[agentId] = id
    }
    return id
  }

  /** The board ids of a UTC day's periods (each made on first use: ask only for open periods). */
  dayBoards(day: number): DayBoards {
    let d = this.days.get(day)
    if (d === undefined) {
      if (this.days.size >= DAY_CACHE_LIMIT) this.days.clear()
      d = { periods: periodsOfDay(day), global: Int32Array.of(-1, -1, -1), agent: new Int32Array(0) }
      this.days.set(day, d)
    }
    return d
  }

  /** Board id of the global board for window w (0 day, 1 week, 2 month) of a day's periods. */
  globalPeriod(d: DayBoards, w: number): number {
    let id = d.global[w]!
    if (id < 0) {
      id = this.idOf(GLOBAL_BOARD, WINDOW_OF[w]!, periodText(d.periods, w))
      d.global[w] = id
    }
    return id
  }

  /** Board id of an agent's board for window w (0 day, 1 week, 2 month) of a day's periods. */
  agentPeriod(d: DayBoards, agentId: number, w: number): number {
    if (3 * agentId + 2 >= d.agent.length) {
      const a = new Int32Array(Math.max(3 * agentId + 3, 2 * d.agent.length)).fill(-1)
      a.set(d.agent)
      d.agent = a
    }
    let id = d.agent[3 * agentId + w]!
    if (id < 0) {
      id = this.idOf(agentBoard(this.agentName(agentId)), WINDOW_OF[w]!, periodText(d.periods, w))
      d.agent[3 * agentId + w] = id
    }
    return id
  }

  // ---- the score sink ---------------------------------------------------------------------

  score(boardId: number, uid: number, oldXp: number, oldSeq: number, xp: number, seq: number): void {
    const t = this.trees[boardId]!
    if (oldXp < 0) t.insert(xp, seq, uid)
    else t.move(oldXp, oldSeq, xp, seq, uid)
    this.touched(boardId, uid, oldXp, oldSeq, xp, seq)
  }

  /**
   * The user's row on the board shows something new without a score change (a new name, a level
   * reached through another board): the board counts as changed, and its view as dirty when the
   * row is inside it, so watchers get the row as REST shows it.
   */
  rowChanged(boardId: number, uid: number, xp: number, seq: number): void {
    if (this.trees[boardId] !== undefined) this.touched(boardId, uid, xp, seq, -1, 0)
  }

  /** Removes a user's entry (erasure, corrections that empty a score). */
  removeEntry(boardId: number, uid: number, xp: number, seq: number): void {
    this.trees[boardId]?.remove(xp, seq, uid)
    this.touched(boardId, uid, xp, seq, -1, 0)
  }

  /** The board changed (listed once for takeChanged); its view is dirty when uid's old or new key is inside it. */
  private touched(boardId: number, uid: number, oldXp: number, oldSeq: number, xp: number, seq: number): void {
    if (this.changedMark[boardId] === 0) {
      this.changedMark[boardId] = 1
      this.changed.push(boardId)
    }
    if (this.limit[boardId]! > 0 && this.dirty[boardId] === 0 && this.touchesView(boardId, uid, oldXp, oldSeq, xp, seq)) this.dirty[boardId] = 1
    if (uid < this.userMark.length && this.userMark[uid] !== 0) this.touchedUsers.push(boardId, uid)
  }

  /** Report (or stop reporting) this user's changes on every board through takeTouchedUsers. */
  markUser(uid: number, on: boolean): void {
    if (uid >= this.userMark.length) {
      if (!on) return
      const m = new Uint8Array(Math.max(uid + 1, 2 * this.userMark.length, 64))
      m.set(this.userMark)
      this.userMark = m
    }
    this.userMark[uid] = on ? 1 : 0
  }

  /** Marked users' changes since the last call, as flat (boardId, uid) pairs (repeats possible). */
  takeTouchedUsers(): Array<number> {
    const out = this.touchedUsers
    if (out.length > 0) this.touchedUsers = []
    return out
  }

  /** Boards changed since the last call (each once). */
  takeChanged(): Array<number> {
    const out = this.changed
    this.changed = []
    for (const id of out) this.changedMark[id] = 0
    return out
  }

  private touchesView(id: number, uid: number, oldXp: number, oldSeq: number, xp: number, seq: number): boolean {
    if (this.full[id] === 0) return true
    const ts = this.thr[3 * id]!, tq = this.thr[3 * id + 1]!, tu = this.thr[3 * id + 2]!
    const atOrAbove = (s: number, q: number) => s > ts || (s === ts && (q < tq || (q === tq && uid <= tu)))
    return (oldXp >= 0 && atOrAbove(oldXp, oldSeq)) || (xp >= 0 && atOrAbove(xp, seq))
  }

  // ---- watchers ---------------------------------------------------------------------------

  /** Sets the largest limit anyone watches on a board (0: nobody); a new limit needs a view. */
  setWatchLimit(id: number, limit: number): void {
    if (limit !== this.limit[id]) this.dirty[id] = 1
    this.limit[id] = limit
  }

  watchLimit(id: number): number {
    return this.limit[id]!
  }

  /** True when a change may have altered the top-`limit` view since the view was last taken. */
  viewDirty(id: number): boolean {
    return this.limit[id]! > 0 && this.dirty[id] === 1
  }

  /** Records that a view was just taken: later changes are compared against its last entry. */
  viewTaken(id: number): void {
    this.dirty[id] = 0
    const t = this.trees[id]
    const lim = this.limit[id]!
    if (t === null || t === undefined || t.size < lim) { this.full[id] = 0; return }
    this.full[id] = 1
    t.forEachInRange(lim - 1, 1, (u, s, q) => {
      this.thr[3 * id] = s
      this.thr[3 * id + 1] = q
      this.thr[3 * id + 2] = u
    })
  }

  // ---- periods ----------------------------------------------------------------------------

  /** Open period boards whose period has closed at stream time `nowMs`. */
  expired(nowMs: number): Array<number> {
    const out: Array<number> = []
    for (let id = 0; id < this.refs.length; id++) if (this.trees[id] !== null && this.closesAt[id]! <= nowMs) out.push(id)
    return out
  }

  /** Drops a closed board's ranking (archive it first); its user entries die with it (UserTable.markDead). */
  retire(id: number): void {
    this.trees[id] = null
    this.limit[id] = 0
    this.dirty[id] = 0
    this.days.clear()
  }

  /** Open boards, for listings. */
  open(): Array<number> {
    const out: Array<number> = []
    for (let id = 0; id < this.refs.length; id++) if (this.trees[id] !== null) out.push(id)
    return out
  }

  private grow(n: number): void {
    const f = (a: Float64Array, k: number) => { const b = new Float64Array(k * n); b.set(a); return b }
    const i = (a: Int32Array) => { const b = new Int32Array(n); b.set(a); return b }
    const u = (a: Uint8Array) => { const b = new Uint8Array(n); b.set(a); return b }
    this.closesAt = f(this.closesAt, 1)
    this.thr = f(this.thr, 3)
    this.limit = i(this.limit)
    this.dirty = u(this.dirty)
    this.full = u(this.full)
    this.changedMark = u(this.changedMark)
  }
}
