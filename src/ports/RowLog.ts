// The analytics sink's buffer as columns: each row is one record in the store's own encoding (a
// byte range of a shared slab) with its kind, seq and partition in typed arrays, so records
// waiting for a flush are a few typed arrays and 1 MiB slabs, not an object per record (objects
// that live seconds get promoted and traced by every major GC). Pure data; no I/O.
import type { RecordKind } from "../domain/Records.js"

/** Kind codes as stored in the `kind` column (and the order inserts go in). */
export const KINDS: ReadonlyArray<RecordKind> = ["award", "correction", "level_up", "achievement", "rejection"]
export const KIND_CODE: Readonly<Record<RecordKind, number>> = { award: 0, correction: 1, level_up: 2, achievement: 3, rejection: 4 }
export const KIND_AWARD = 0
export const KIND_CORRECTION = 1

/** A new slab holds this many bytes (~7k award rows); a row never spans two slabs. */
const SLAB_BYTES = 1 << 20
/** Buckets of the user index (rows of one user are found by walking their bucket's chain). */
const BUCKETS = 1 << 16
const EMPTY = new Uint8Array(0)

const grow = <T extends Float64Array | Int32Array | Uint8Array>(a: T, n: number, make: (n: number) => T): T => {
  if (n <= a.length) return a
  const b = make(Math.max(n, a.length * 2))
  b.set(a)
  return b
}

export class RowLog {
  /** Rows held: [0, length). */
  length = 0
  kind = new Uint8Array(256)
  seq = new Float64Array(256)
  /** The store's partition key (ClickHouse: YYYYMM of the stream time). */
  part = new Int32Array(256)
  slab = new Int32Array(256)
  start = new Int32Array(256)
  end = new Int32Array(256)
  /** Lookup keys the sink sets on a row (hashes of its user id and event id; 0: none). */
  userKey = new Int32Array(256)
  idKey = new Int32Array(256)
  /** Per row with a user key: the id (base + index) of the previous such row in its bucket, or -1. */
  private link = new Float64Array(256)
  private readonly heads = new Float64Array(BUCKETS).fill(-1)
  /** The id of row 0: rows dropped from the front so far (ids of rows never change, indexes do). */
  private base = 0
  private linked = false
  /** Row i's bytes are `slabs[slab[i]][start[i], end[i])`; a slab is written only past its rows. */
  readonly slabs: Array<Uint8Array> = []
  readonly views: Array<DataView> = []
  /** Per kind: the slab being written and where (rows of one table lie back to back, copied as long runs). */
  readonly cur: Int32Array = new Int32Array(KINDS.length).fill(-1)
  readonly pos: Int32Array = new Int32Array(KINDS.length)
  private readonly free: Array<number> = []

  /**
   * The slab to write a row of kind `k` of at most `bound` bytes into, from `pos[k]` (a fresh or
   * recycled one when the current has no room).
   */
  room(k: number, bound: number): number {
    const c = this.cur[k]!
    if (c >= 0 && this.pos[k]! + bound <= this.slabs[c]!.length) return c
    let id = -1
    if (bound <= SLAB_BYTES) {
      while (this.free.length > 0) {
        const f = this.free.pop()!
        if (this.slabs[f]!.length >= bound) { id = f; break }
      }
    }
    if (id < 0) {
      const bytes = new Uint8Array(Math.max(SLAB_BYTES, bound))
      id = this.slabs.indexOf(EMPTY)
      if (id < 0) { id = this.slabs.length; this.slabs.push(bytes); this.views.push(new DataView(bytes.buffer)) }
      else { this.slabs[id] = bytes; this.views[id] = new DataView(bytes.buffer) }
    }
    this.cur[k] = id
    this.pos[k] = 0
    return id
  }

  /** Appends a row whose bytes were written at slabs[slabId][start, end); returns its index. */
  push(k: number, seq: number, part: number, slabId: number, start: number, end: number): number {
    const i = this.length
    if (i === this.kind.length) {
      const n = i + 1
      this.kind = grow(this.kind, n, (m) => new Uint8Array(m))
      this.seq = grow(this.seq, n, (m) => new Float64Array(m))
      this.part = grow(this.part, n, (m) => new Int32Array(m))
      this.slab = grow(this.slab, n, (m) => new Int32Array(m))
      this.start = grow(this.start, n, (m) => new Int32Array(m))
      this.end = grow(this.end, n, (m) => new Int32Array(m))
      this.userKey = grow(this.userKey, n, (m) => new Int32Array(m))
      this.idKey = grow(this.idKey, n, (m) => new Int32Array(m))
      this.link = grow(this.link, n, (m) => new Float64Array(m))
    }
    this.kind[i] = k
    this.seq[i] = seq
    this.part[i] = part
    this.slab[i] = slabId
    this.start[i] = start
    this.end[i] = end
    this.userKey[i] = 0
    this.idKey[i] = 0
    this.link[i] = -1
    if (slabId === this.cur[k]) this.pos[k] = end
    this.length = i + 1
    return i
  }

  /** Indexes row i under its user's key (non-zero), so rowsOfUser finds it. */
  keyUser(i: number, key: number): void {
    const b = key & (BUCKETS - 1)
    this.linked = true
    this.userKey[i] = key
    this.link[i] = this.heads[b]!
    this.heads[b] = this.base + i
  }

  /** Appends to `out` the indexes of the rows keyed with `key` (keyUser), newest first. */
  rowsOfUser(key: number, out: Array<number>): void {
    let id = this.heads[key & (BUCKETS - 1)]!
    while (id >= this.base) {
      const i = id - this.base
      if (this.userKey[i] === key) out.push(i)
      id = this.link[i]!
    }
  }

  /** Appends row i of `from` (its bytes copied, its keys kept); returns its index here. */
  copyRow(from: RowLog, i: number): number {
    const k = from.kind[i]!
    const s = from.start[i]!
    const n = from.end[i]! - s
    const id = this.room(k, n)
    const at = this.pos[k]!
    this.slabs[id]!.set(from.slabs[from.slab[i]!]!.subarray(s, s + n), at)
    const j = this.push(k, from.seq[i]!, from.part[i]!, id, at, at + n)
    if (from.userKey[i] !== 0) this.keyUser(j, from.userKey[i]!)
    this.idKey[j] = from.idKey[i]!
    return j
  }

  /** Forgets every row; its slabs are written again from the start (a stage, emptied after each hand-over). */
  clear(): void {
    this.length = 0
    if (this.linked) { this.heads.fill(-1); this.linked = false }
    this.base = 0
    this.pos.fill(0)
    this.release()
  }

  /** Appends a row of prepared bytes (copied). */
  append(k: number, seq: number, part: number, bytes: Uint8Array): number {
    const id = this.room(k, bytes.length)
    const at = this.pos[k]!
    this.slabs[id]!.set(bytes, at)
    return this.push(k, seq, part, id, at, at + bytes.length)
  }

  /** The bytes of row i (a view, not a copy). */
  bytesOf(i: number): Uint8Array {
    return this.slabs[this.slab[i]!]!.subarray(this.start[i]!, this.end[i]!)
  }

  /** Keeps only the rows for which `keep(i)` holds (in order); returns how many went. */
  retain(keep: (i: number) => boolean): number {
    let w = 0
    const n = this.length
    for (let i = 0; i < n; i++) {
      if (!keep(i)) continue
      if (w !== i) {
        this.kind[w] = this.kind[i]!
        this.seq[w] = this.seq[i]!
        this.part[w] = this.part[i]!
        this.slab[w] = this.slab[i]!
        this.start[w] = this.start[i]!
        this.end[w] = this.end[i]!
        this.userKey[w] = this.userKey[i]!
        this.idKey[w] = this.idKey[i]!
      }
      w++
    }
    this.length = w
    // Indexes moved: the user index is built again.
    this.heads.fill(-1)
    this.base = 0
    for (let i = 0; i < w; i++) {
      const key = this.userKey[i]!
      if (key !== 0) this.keyUser(i, key)
      else this.link[i] = -1
    }
    this.release()
    return n - w
  }

  /** Drops rows [0, n) (written, or never needed). */
  dropFirst(n: number): void {
    if (n <= 0) return
    const rest = this.length - n
    this.kind.copyWithin(0, n, this.length)
    this.seq.copyWithin(0, n, this.length)
    this.part.copyWithin(0, n, this.length)
    this.slab.copyWithin(0, n, this.length)
    this.start.copyWithin(0, n, this.length)
    this.end.copyWithin(0, n, this.length)
    this.userKey.copyWithin(0, n, this.length)
    this.idKey.copyWithin(0, n, this.length)
    this.link.copyWithin(0, n, this.length)
    this.base += n
    this.length = rest
    this.release()
  }

  /** Slabs no row and no writer refers to any more go back to the free list (reused, not reallocated). */
  private release(): void {
    const used = new Uint8Array(this.slabs.length)
    for (let i = 0; i < this.length; i++) used[this.slab[i]!] = 1
    for (let k = 0; k < KINDS.length; k++) if (this.cur[k]! >= 0) used[this.cur[k]!] = 1
    this.free.length = 0
    for (let id = 0; id < this.slabs.length; id++) {
      if (used[id] === 1 || this.slabs[id] === EMPTY) continue
      // Keep a few for reuse; give the rest back (a burst must not pin its peak for good).
      if (this.free.length < 8) this.free.push(id)
      else { this.slabs[id] = EMPTY; this.views[id] = new DataView(EMPTY.buffer) }
    }
  }

  /** Bytes held in slabs (for metrics and tests). */
  get slabBytes(): number {
    let n = 0
    for (const s of this.slabs) n += s.length
    return n
  }
}

/** Records encoded one by one (EncodedRecord objects), as rows of a new log (their bytes copied). */
export const rowLogOf = (records: ReadonlyArray<{ readonly kind: RecordKind; readonly seq: number; readonly part: number; readonly bytes: Uint8Array; readonly start: number; readonly end: number }>): RowLog => {
  const rows = new RowLog()
  for (const r of records) rows.append(KIND_CODE[r.kind], r.seq, r.part, r.bytes.subarray(r.start, r.end))
  return rows
}

/** A non-zero 32-bit key of a string (FNV-1a over its UTF-16 units): equal strings, equal keys. */
export const keyOf = (s: string): number => {
  let h = 0x811c9dc5
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193)
  return h === 0 ? 1 : h
}
