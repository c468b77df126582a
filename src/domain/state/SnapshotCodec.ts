// The binary form of users in a snapshot chunk, written straight from the user table and read
// straight back into one: a header, one varint-packed record per user, and a dictionary of the
// names those records refer to (boards, agents, actions, achievements), since ids are per process.
// A later chunk's record replaces an earlier one of the same user; a tombstone erases it.
import { boardKeyString, parseBoardKeyString } from "../BoardKeys.js"
import { GLOBAL_ALL } from "../ranking/BoardRegistry.js"
import type { EngineState } from "../engine/Engine.js"
import { ByteReader, ByteWriter, FormatError } from "./Bytes.js"
import { KIND_ACTION, KIND_AGENT, KIND_BOARD, KIND_RUN, KIND_UNLOCK, KIND_VOID, NO_DAY, NO_MONTH, PRIVATE, entryKey, idOfKey, kindOf } from "./UserTable.js"
import { UTC_ZONE, zoneId, zoneName } from "../Zones.js"

const MAGIC = 0x31535241 // "ARS1" little-endian
const F_NAME = 1
const F_TOMBSTONE = 2
// Settings and freezes (added later; a chunk written before them has none of these bits, so it
// reads as UTC, public, no freeze used). Their fields follow the name, in bit order.
const F_ZONE = 4
const F_PRIVATE = 8
const F_FREEZE = 16

/** Writes users of one state into one chunk. */
export class ChunkEncoder {
  private readonly w = new ByteWriter()
  // Dictionary index + 1 of each (kind, id) already named in this chunk, by kind then id: a typed
  // lookup per entry (a cut writes ~a hundred entries per active user; a Map lookup each was most
  // of a cut's cost).
  private readonly dict: Array<Int32Array> = []
  private readonly dictKinds: Array<number> = []
  private readonly dictNames: Array<string> = []
  private count = 0

  constructor(private readonly s: EngineState) {
    this.w.u32(MAGIC)
    this.w.u32(0) // users
    this.w.u32(0) // dictionary offset
  }

  get users(): number {
    return this.count
  }

  get size(): number {
    return this.w.length
  }

  private ref(kind: number, id: number): number {
    let byId = this.dict[kind]
    if (byId === undefined || id >= byId.length) {
      const grown = new Int32Array(Math.max(64, 2 * id + 2))
      if (byId !== undefined) grown.set(byId)
      this.dict[kind] = byId = grown
    }
    const known = byId[id]!
    if (known > 0) return known - 1
    const i = this.dictNames.length
    byId[id] = i + 1
    this.dictKinds.push(kind)
    this.dictNames.push(this.nameOf(kind, id))
    return i
  }

  private nameOf(kind: number, id: number): string {
    switch (kind) {
      case KIND_BOARD: return boardKeyString(this.s.boards.refs[id]!)
      case KIND_AGENT: return this.s.agents.nameOf(id)
      case KIND_ACTION: return this.s.actions.nameOf(id)
      case KIND_UNLOCK: return this.s.achievements.nameOf(id)
      default: throw new FormatError(`no name for entry kind ${kind}`)
    }
  }

  /** Appends a user's record (entries of closed boards are left out). */
  add(uid: number): void {
    const u = this.s.users
    const w = this.w
    u.ids.writeTo(uid, w)
    const named = u.names.has(uid)
    const zone = u.zone[uid]!
    const froze = u.freezeMonth[uid] !== NO_MONTH
    w.u8((named ? F_NAME : 0) | (zone !== UTC_ZONE ? F_ZONE : 0) | ((u.privacy[uid]! & PRIVATE) !== 0 ? F_PRIVATE : 0) | (froze ? F_FREEZE : 0))
    if (named) u.names.writeTo(uid, w)
    if (zone !== UTC_ZONE) w.utf16(zoneName(zone))
    if (froze) { w.sv(u.freezeMonth[uid]!); w.u8(u.freezeUsed[uid]!) }
    w.uv(u.totalXp[uid]!)
    w.uv(u.totalSeq[uid]!)
    w.uv(u.lastSeq[uid]!)
    w.uv(u.events[uid]!)
    w.u8(u.level[uid]!)
    w.uv(u.longest[uid]!)
    w.uv(u.reached[uid]!)
    const hasRun = u.runStart[uid] !== NO_DAY
    w.u8(hasRun ? 1 : 0)
    if (hasRun) { w.sv(u.runStart[uid]!); w.sv(u.runEnd[uid]!) }
    const from = u.blockStart(uid)
    const to = u.blockEnd(uid)
    let n = 0
    for (let e = from; e < to; e++) if (this.keep(u.eKey[e]!)) n++
    w.uv(n)
    for (let e = from; e < to; e++) {
      const key = u.eKey[e]!
      if (!this.keep(key)) continue
      const kind = kindOf(key)
      w.u8(kind)
      if (kind === KIND_RUN) { w.sv(u.eA[e]!); w.sv(u.eB[e]!); continue }
      if (kind === KIND_VOID) { w.uv(u.eA[e]!); w.uv(u.eB[e]!); continue }
      w.uv(this.ref(kind, idOfKey(key)))
      w.sv(u.eA[e]!)
      w.uv(u.eB[e]!)
    }
    this.count++
  }

  /** Appends an erasure: the user is gone from every later state built from these chunks. */
  tombstone(userId: string): void {
    this.w.latin1(userId)
    this.w.u8(F_TOMBSTONE)
    this.count++
  }

  private keep(key: number): boolean {
    return kindOf(key) !== KIND_BOARD || this.s.boards.isOpen(idOfKey(key))
  }

  /** The finished chunk (a copy; the encoder must not be used afterwards). */
  finish(): Uint8Array {
    const w = this.w
    const dictAt = w.length
    w.uv(this.dictNames.length)
    for (let i = 0; i < this.dictNames.length; i++) {
      w.u8(this.dictKinds[i]!)
      w.utf16(this.dictNames[i]!)
    }
    w.patchU32(4, this.count)
    w.patchU32(8, dictAt)
    return w.bytes().slice()
  }
}

export interface LoadOptions {
  /** Stream time of the checkpoint: boards of periods closed by then are not restored. */
  readonly streamTimeMs: number
}

/**
 * Reads one chunk into the state's user table (replacing users it already holds). Board trees
 * are not touched: call rebuildBoards once every chunk is loaded. Returns the records read.
 */
export const loadChunk = (s: EngineState, bytes: Uint8Array, o: LoadOptions): number => {
  const r = new ByteReader(bytes)
  if (r.u32() !== MAGIC) throw new FormatError("not an Arena snapshot chunk (bad magic)")
  const users = r.u32()
  const dictAt = r.u32()
  if (dictAt > bytes.length) throw new FormatError(`dictionary offset ${dictAt} past the chunk's ${bytes.length} bytes`)
  // The dictionary first: entry keys of this process for each name the records refer to.
  const d = new ByteReader(bytes)
  d.pos = dictAt
  const n = d.uv()
  const keys = new Int32Array(n)
  for (let i = 0; i < n; i++) {
    const kind = d.u8()
    const name = d.utf16()
    keys[i] = dictEntryKey(s, kind, name, o)
  }
  const t = s.users
  for (let k = 0; k < users; k++) {
    const userId = r.latin1()
    const flags = r.u8()
    if ((flags & F_TOMBSTONE) !== 0) {
      const uid = t.uidOf(userId)
      if (uid >= 0) t.remove(uid)
      continue
    }
    let uid = t.uidOf(userId)
    if (uid >= 0) t.clear(uid)
    else uid = t.intern(userId)
    if ((flags & F_NAME) !== 0) t.setUsername(uid, r.utf16())
    if ((flags & F_ZONE) !== 0) {
      const name = r.utf16()
      try { t.zone[uid] = zoneId(name) } catch { throw new FormatError(`time zone ${JSON.stringify(name)} of user ${JSON.stringify(userId)} is unknown to this Node's tz database`) }
    }
    if ((flags & F_PRIVATE) !== 0) t.privacy[uid] = PRIVATE
    if ((flags & F_FREEZE) !== 0) { t.freezeMonth[uid] = r.sv(); t.freezeUsed[uid] = r.u8() }
    t.totalXp[uid] = r.uv()
    t.totalSeq[uid] = r.uv()
    t.lastSeq[uid] = r.uv()
    t.events[uid] = r.uv()
    t.level[uid] = r.u8()
    t.longest[uid] = r.uv()
    t.reached[uid] = r.uv()
    if (r.u8() === 1) { t.runStart[uid] = r.sv(); t.runEnd[uid] = r.sv() }
    const entries = r.uv()
    for (let e = 0; e < entries; e++) {
      const kind = r.u8()
      if (kind === KIND_RUN) { t.add(uid, entryKey(KIND_RUN, 0), r.sv(), r.sv()); continue }
      if (kind === KIND_VOID) { t.add(uid, entryKey(KIND_VOID, 0), r.uv(), r.uv()); continue }
      const i = r.uv()
      const a = r.sv()
      const b = r.uv()
      if (i >= n) throw new FormatError(`dictionary index ${i} out of range (${n})`)
      const key = keys[i]!
      if (key < 0) continue // a board whose period has closed
      t.add(uid, key, a, b)
      if (kind === KIND_UNLOCK && idOfKey(key) < 32) t.unlocked[uid] = t.unlocked[uid]! | (1 << idOfKey(key))
    }
  }
  if (r.pos !== dictAt) throw new FormatError(`records end at byte ${r.pos}, the dictionary starts at ${dictAt}`)
  return users
}

const dictEntryKey = (s: EngineState, kind: number, name: string, o: LoadOptions): number => {
  switch (kind) {
    case KIND_BOARD: {
      const k = parseBoardKeyString(name)
      if (k === null) throw new FormatError(`bad board key ${JSON.stringify(name)}`)
      const id = s.boards.openIdOf(k.board, k.window, k.period, o.streamTimeMs)
      if (id === GLOBAL_ALL) throw new FormatError("the global all-time score is stored in columns, not as an entry")
      return id < 0 ? -1 : entryKey(KIND_BOARD, id)
    }
    case KIND_AGENT: return entryKey(KIND_AGENT, s.agents.intern(name))
    case KIND_ACTION: return entryKey(KIND_ACTION, s.actions.intern(name))
    case KIND_UNLOCK: return entryKey(KIND_UNLOCK, s.achievements.intern(name))
    default: throw new FormatError(`unknown entry kind ${kind} in the dictionary`)
  }
}

/**
 * Rebuilds every board's ranking from the user table (boards are derived state): the global
 * all-time board from the columns, every other board from the users' board entries.
 */
export const rebuildBoards = (s: EngineState): void => {
  const t = s.users
  const cap = t.capacity
  // Count entries per board, then fill per-board arrays and bulk-load each tree.
  const counts: Array<number> = []
  let globalN = 0
  for (let uid = 0; uid < cap; uid++) {
    if (!t.has(uid)) continue
    if (t.events[uid]! > 0) globalN++
    for (let e = t.blockStart(uid), end = t.blockEnd(uid); e < end; e++) {
      const key = t.eKey[e]!
      if (kindOf(key) !== KIND_BOARD) continue
      const b = idOfKey(key)
      counts[b] = (counts[b] ?? 0) + 1
    }
  }
  const cols = new Map<number, { uids: Int32Array; scores: Float64Array; seqs: Float64Array; n: number }>()
  const colsOf = (b: number, size: number) => {
    let c = cols.get(b)
    if (c === undefined) { c = { uids: new Int32Array(size), scores: new Float64Array(size), seqs: new Float64Array(size), n: 0 }; cols.set(b, c) }
    return c
  }
  const g = colsOf(GLOBAL_ALL, globalN)
  for (let uid = 0; uid < cap; uid++) {
    if (!t.has(uid)) continue
    if (t.events[uid]! > 0) { g.uids[g.n] = uid; g.scores[g.n] = t.totalXp[uid]!; g.seqs[g.n] = t.totalSeq[uid]!; g.n++ }
    for (let e = t.blockStart(uid), end = t.blockEnd(uid); e < end; e++) {
      const key = t.eKey[e]!
      if (kindOf(key) !== KIND_BOARD) continue
      const b = idOfKey(key)
      const c = colsOf(b, counts[b]!)
      c.uids[c.n] = uid
      c.scores[c.n] = t.eA[e]!
      c.seqs[c.n] = t.eB[e]!
      c.n++
    }
  }
  for (const [b, c] of cols) s.boards.tree(b)?.load(c.uids, c.scores, c.seqs, c.n)
}
