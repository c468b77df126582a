// Every user's state in columns indexed by a dense user id (uid), with no JS object per user:
// fixed fields in typed arrays, and each user's variable part (board scores, per-agent and
// per-action counts, unlock seqs, older streak runs) as a small block of (key, a, b) entries in
// one slab. A block is contiguous, so one user's data is a few cache lines; blocks grow by
// power-of-two size classes with a free list per class.

import { IdTable } from "./IdTable.js"
import { TextColumn } from "./TextColumn.js"

type F64 = Float64Array<ArrayBuffer>
type I32 = Int32Array<ArrayBuffer>
type U8 = Uint8Array<ArrayBuffer>
type U16 = Uint16Array<ArrayBuffer>

// An entry key is (kind << 24) | id, id < 2^24.
export const KIND_BOARD = 1 // a: xp on the board, b: seq that set it (board ids from BoardRegistry)
export const KIND_AGENT = 2 // a: events through the agent (its xp is the agent's all-time board entry)
export const KIND_ACTION = 3 // a: accepted events of the action
export const KIND_UNLOCK = 4 // a: seq that unlocked the achievement
export const KIND_RUN = 5 // an older streak run: a = first day, b = last day (the latest run is in columns)
export const KIND_VOID = 6 // a voided award of the user: a = the voided event's seq, b = the void's seq (a second void is refused)

export const MAX_KEY_ID = (1 << 24) - 1
export const entryKey = (kind: number, id: number): number => (kind << 24) | id
export const kindOf = (key: number): number => key >>> 24
export const idOfKey = (key: number): number => key & MAX_KEY_ID

/** No streak day yet (runStart/runEnd). */
export const NO_DAY = -2147483648

/** flags bits */
export const FLAG_DIRTY = 1
/** In a snapshot cut in progress that has not written it yet (actors/Cut.ts). */
export const FLAG_PENDING = 2

/** `privacy` column: the user chose visibility "private" (ARCHITECTURE §11). */
export const PRIVATE = 1
/** No streak freeze used yet (freezeMonth). */
export const NO_MONTH = -1

const MIN_CLASS = 2 // 4 entries
// A user's first event already writes about ten entries (action and agent counts, the agent's
// all-time board, six period boards, a first unlock): starting at 4 entries made every new user's
// block grow twice (copy, free, re-allocate) before its first event was done.
const NEW_CLASS = 4 // 16 entries

export class UserTable {
  readonly ids = new IdTable()
  /** Display name when it differs from the user id. */
  readonly names = new TextColumn()
  totalXp: F64 = new Float64Array(0)
  /** seq of the event that last grew totalXp (ranking tie-break: lower reached first). */
  totalSeq: F64 = new Float64Array(0)
  lastSeq: F64 = new Float64Array(0)
  events: F64 = new Float64Array(0)
  level: U8 = new Uint8Array(0)
  /** The longest run of active days ever held (profile streak.longest). */
  longest: I32 = new Int32Array(0)
  /** The highest streak an event counted (what streak achievements unlock on and progress toward). */
  reached: I32 = new Int32Array(0)
  /** The latest run of active days (older runs are KIND_RUN entries). */
  runStart: I32 = new Int32Array(0)
  runEnd: I32 = new Int32Array(0)
  /** Unlocked achievements with a name id < 32, as bits (higher ids: KIND_UNLOCK entries only). */
  unlocked: I32 = new Int32Array(0)
  flags: U8 = new Uint8Array(0)
  /** Time zone id (domain/Zones.ts; 0 = UTC): the calendar of the user's streak days. */
  zone: U16 = new Uint16Array(0)
  /** Visibility bits (PRIVATE). */
  privacy: U8 = new Uint8Array(0)
  /** Month (year * 12 + month - 1, in the user's zone) of the streak freezes counted in freezeUsed, or NO_MONTH. */
  freezeMonth: I32 = new Int32Array(0)
  freezeUsed: U8 = new Uint8Array(0)
  private bOff: I32 = new Int32Array(0)
  private bLen: I32 = new Int32Array(0)
  private bCls: U8 = new Uint8Array(0)
  // The slab of blocks.
  eKey: I32 = new Int32Array(1024)
  eA: F64 = new Float64Array(1024)
  eB: F64 = new Float64Array(1024)
  private top = 0
  private readonly free: Array<Array<number>> = []
  /** Board ids whose entries are dead (closed periods): dropped when a block is rewritten. */
  private dead: U8 = new Uint8Array(64)

  /** Users ever interned (uids are < this). */
  get capacity(): number {
    return this.ids.capacity
  }

  /** Users present. */
  get size(): number {
    return this.ids.size
  }

  get bytes(): number {
    let cols = 0
    for (const c of [this.totalXp, this.totalSeq, this.lastSeq, this.events, this.level, this.longest, this.reached, this.runStart, this.runEnd, this.unlocked, this.flags, this.zone, this.privacy, this.freezeMonth, this.freezeUsed, this.bOff, this.bLen, this.bCls]) cols += c.byteLength
    return cols + this.eKey.byteLength + this.eA.byteLength + this.eB.byteLength + this.ids.bytes + this.names.bytes
  }

  /** The uid of a user, or -1. */
  uidOf(userId: string): number {
    return this.ids.idOf(userId)
  }

  /** The uid of a user, creating an empty one (level 1, no events) when absent. */
  intern(userId: string): number {
    const uid = this.ids.intern(userId)
    if (uid >= this.level.length) this.growColumns(uid + 1)
    if (this.level[uid] === 0) this.reset(uid)
    return uid
  }

  userId(uid: number): string {
    return this.ids.nameOf(uid)
  }

  /** The display name: the username set by the latest event that named one, else the user id. */
  username(uid: number): string {
    return this.names.get(uid) ?? this.ids.nameOf(uid)
  }

  /** True when uid is this user (no allocation). */
  isUser(uid: number, userId: string): boolean {
    return this.ids.matches(uid, userId)
  }

  /** True when the user's display name is exactly `name` (no allocation). */
  hasUsername(uid: number, name: string): boolean {
    return this.names.has(uid) ? this.names.equals(uid, name) : this.ids.matches(uid, name)
  }

  /** Sets the shown name; true when it differs from the one shown before. */
  setUsername(uid: number, name: string): boolean {
    if (this.names.equals(uid, name)) return false
    if (!this.names.has(uid) && this.ids.nameOf(uid) === name) return false
    this.names.set(uid, name)
    return true
  }

  has(uid: number): boolean {
    return this.ids.has(uid)
  }

  /** Empties a user's state in place (same uid, same name): for a snapshot record replacing it. */
  clear(uid: number): void {
    this.names.set(uid, undefined)
    this.totalXp[uid] = 0
    this.totalSeq[uid] = 0
    this.lastSeq[uid] = 0
    this.events[uid] = 0
    this.level[uid] = 1
    this.longest[uid] = 0
    this.reached[uid] = 0
    this.runStart[uid] = NO_DAY
    this.runEnd[uid] = NO_DAY
    this.unlocked[uid] = 0
    this.zone[uid] = 0
    this.privacy[uid] = 0
    this.freezeMonth[uid] = NO_MONTH
    this.freezeUsed[uid] = 0
    this.bLen[uid] = 0
  }

  /** Erases a user: the uid stays allocated but empty and unknown to lookups. */
  remove(uid: number): void {
    if (!this.ids.has(uid)) return
    this.ids.remove(uid)
    this.names.set(uid, undefined)
    this.freeBlock(uid)
    this.level[uid] = 0
    this.flags[uid] = 0
  }

  markDead(boardId: number): void {
    if (boardId >= this.dead.length) {
      const d = new Uint8Array(Math.max(boardId + 1, this.dead.length * 2))
      d.set(this.dead)
      this.dead = d
    }
    this.dead[boardId] = 1
  }

  isDeadBoard(boardId: number): boolean {
    return boardId < this.dead.length && this.dead[boardId] === 1
  }

  // ---- blocks ----------------------------------------------------------------------------

  /** First slab index of the user's entries (iterate to blockEnd). */
  blockStart(uid: number): number {
    return this.bOff[uid]!
  }

  blockEnd(uid: number): number {
    return this.bOff[uid]! + this.bLen[uid]!
  }

  /** Slab index of the user's entry with this key, or -1. */
  find(uid: number, key: number): number {
    const from = this.bOff[uid]!
    const to = from + this.bLen[uid]!
    const k = this.eKey
    for (let e = from; e < to; e++) if (k[e] === key) return e
    return -1
  }

  /** Appends an entry (the key must be absent) and returns its slab index. */
  add(uid: number, key: number, a: number, b: number): number {
    let len = this.bLen[uid]!
    if (len === 1 << this.bCls[uid]!) {
      len = this.dropDead(uid)
      if (len === 1 << this.bCls[uid]!) this.growBlock(uid)
    }
    const e = this.bOff[uid]! + len
    this.eKey[e] = key
    this.eA[e] = a
    this.eB[e] = b
    this.bLen[uid] = len + 1
    return e
  }

  /** Removes the entry at slab index e (the last entry takes its place). */
  removeAt(uid: number, e: number): void {
    const last = this.bOff[uid]! + this.bLen[uid]! - 1
    if (e !== last) {
      this.eKey[e] = this.eKey[last]!
      this.eA[e] = this.eA[last]!
      this.eB[e] = this.eB[last]!
    }
    this.bLen[uid] = this.bLen[uid]! - 1
  }

  /** Drops entries of dead boards from a user's block; returns the new length. */
  dropDead(uid: number): number {
    const from = this.bOff[uid]!
    for (let e = from + this.bLen[uid]! - 1; e >= from; e--) {
      const k = this.eKey[e]!
      if (kindOf(k) === KIND_BOARD && this.isDeadBoard(idOfKey(k))) this.removeAt(uid, e)
    }
    return this.bLen[uid]!
  }

  private growBlock(uid: number): void {
    const cls = this.bCls[uid]! + 1
    const off = this.alloc(cls)
    const old = this.bOff[uid]!
    const len = this.bLen[uid]!
    this.eKey.copyWithin(off, old, old + len)
    this.eA.copyWithin(off, old, old + len)
    this.eB.copyWithin(off, old, old + len)
    this.release(this.bCls[uid]!, old)
    this.bOff[uid] = off
    this.bCls[uid] = cls
  }

  private alloc(cls: number): number {
    const list = this.free[cls]
    if (list !== undefined && list.length > 0) return list.pop()!
    const size = 1 << cls
    if (this.top + size > this.eKey.length) {
      const cap = Math.max(this.top + size, Math.ceil(this.eKey.length * 1.5))
      const k = new Int32Array(cap)
      k.set(this.eKey.subarray(0, this.top))
      const a = new Float64Array(cap)
      a.set(this.eA.subarray(0, this.top))
      const b = new Float64Array(cap)
      b.set(this.eB.subarray(0, this.top))
      this.eKey = k
      this.eA = a
      this.eB = b
    }
    const off = this.top
    this.top += size
    return off
  }

  private release(cls: number, off: number): void {
    ;(this.free[cls] ??= []).push(off)
  }

  private freeBlock(uid: number): void {
    this.release(this.bCls[uid]!, this.bOff[uid]!)
    this.bOff[uid] = this.alloc(MIN_CLASS)
    this.bLen[uid] = 0
    this.bCls[uid] = MIN_CLASS
  }

  // ---- columns ---------------------------------------------------------------------------

  private reset(uid: number): void {
    this.totalXp[uid] = 0
    this.totalSeq[uid] = 0
    this.lastSeq[uid] = 0
    this.events[uid] = 0
    this.level[uid] = 1
    this.longest[uid] = 0
    this.reached[uid] = 0
    this.runStart[uid] = NO_DAY
    this.runEnd[uid] = NO_DAY
    this.unlocked[uid] = 0
    this.flags[uid] = 0
    this.zone[uid] = 0
    this.privacy[uid] = 0
    this.freezeMonth[uid] = NO_MONTH
    this.freezeUsed[uid] = 0
    this.bOff[uid] = this.alloc(NEW_CLASS)
    this.bLen[uid] = 0
    this.bCls[uid] = NEW_CLASS
  }

  private growColumns(min: number): void {
    const cap = Math.max(min, Math.ceil(this.level.length * 1.5) + 64)
    const f = (a: F64): F64 => { const b = new Float64Array(cap); b.set(a); return b }
    const i = (a: I32): I32 => { const b = new Int32Array(cap); b.set(a); return b }
    const u = (a: U8): U8 => { const b = new Uint8Array(cap); b.set(a); return b }
    this.totalXp = f(this.totalXp)
    this.totalSeq = f(this.totalSeq)
    this.lastSeq = f(this.lastSeq)
    this.events = f(this.events)
    this.level = u(this.level)
    this.longest = i(this.longest)
    this.reached = i(this.reached)
    this.runStart = i(this.runStart)
    this.runEnd = i(this.runEnd)
    this.unlocked = i(this.unlocked)
    this.flags = u(this.flags)
    const z = new Uint16Array(cap); z.set(this.zone); this.zone = z
    this.privacy = u(this.privacy)
    this.freezeMonth = i(this.freezeMonth)
    this.freezeUsed = u(this.freezeUsed)
    this.bOff = i(this.bOff)
    this.bLen = i(this.bLen)
    this.bCls = u(this.bCls)
  }
}
