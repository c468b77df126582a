// Interns identifiers (user ids: ASCII by the event schema) to dense integer ids 0, 1, 2, … and
// back, with no JS object per id: the characters live in one byte arena and the hash table is an
// Int32Array (open addressing, linear probing, backward-shift deletion). A million ids cost
// ~20 B each plus their characters, and the garbage collector traces none of it.

import type { ByteWriter } from "./Bytes.js"

type U8 = Uint8Array<ArrayBuffer>
type I32 = Int32Array<ArrayBuffer>

const EMPTY = -1

const hashOf = (s: string): number => {
  let h = 0x811c9dc5
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i)
    h = Math.imul(h, 0x01000193)
  }
  return h >>> 0
}

export class IdTable {
  private chars: U8 = new Uint8Array(1024)
  private charsUsed = 0
  /** Per id: offset and length of its characters (length -1: a removed id). */
  private off: I32 = new Int32Array(64)
  private len: I32 = new Int32Array(64)
  private hash: I32 = new Int32Array(64)
  private slots: I32 = new Int32Array(128).fill(EMPTY)
  private mask = 127
  private live = 0
  private high = 0
  private garbage = 0

  /** Ids handed out so far (removed ones included): every id is < this. */
  get capacity(): number {
    return this.high
  }

  /** Ids currently present. */
  get size(): number {
    return this.live
  }

  get bytes(): number {
    return this.chars.byteLength + this.off.byteLength * 3 + this.slots.byteLength
  }

  /** The id of `s`, or -1. */
  idOf(s: string): number {
    const h = hashOf(s)
    for (let i = h & this.mask; ; i = (i + 1) & this.mask) {
      const id = this.slots[i]!
      if (id === EMPTY) return -1
      if (this.hash[id] === (h | 0) && this.equals(id, s)) return id
    }
  }

  /** The id of `s`, adding it when absent. Throws on a character outside Latin-1 (ids are ASCII). */
  intern(s: string): number {
    const h = hashOf(s)
    let i = h & this.mask
    for (; ; i = (i + 1) & this.mask) {
      const id = this.slots[i]!
      if (id === EMPTY) break
      if (this.hash[id] === (h | 0) && this.equals(id, s)) return id
    }
    const id = this.high++
    if (id === this.off.length) this.growIds()
    this.store(id, s)
    this.hash[id] = h | 0
    this.slots[i] = id
    this.live++
    if (2 * this.live > this.mask) this.rehash(2 * (this.mask + 1))
    return id
  }

  /** The string of an id (allocates; for reads, not the hot path). */
  nameOf(id: number): string {
    const n = this.len[id]!
    if (n < 0) throw new RangeError(`IdTable: id ${id} was removed`)
    const o = this.off[id]!
    // Ids are short (≤ 128 by the schema): one call, no intermediate array.
    return String.fromCharCode.apply(null, this.chars.subarray(o, o + n) as unknown as Array<number>)
  }

  has(id: number): boolean {
    return id >= 0 && id < this.high && this.len[id]! >= 0
  }

  /** Writes an id as ByteWriter.latin1(nameOf(id)) would, without making the string (snapshot cuts). */
  writeTo(id: number, w: ByteWriter): void {
    const n = this.len[id]!
    if (n < 0) throw new RangeError(`IdTable: id ${id} was removed`)
    w.latin1From(this.chars, this.off[id]!, n)
  }

  /** Forgets an id (erasure): its number is never reused, its characters are dropped. */
  remove(id: number): void {
    if (!this.has(id)) return
    let i = (this.hash[id]! >>> 0) & this.mask
    while (this.slots[i] !== id) i = (i + 1) & this.mask
    // Backward-shift deletion keeps every probe chain unbroken without tombstones.
    for (let j = (i + 1) & this.mask; ; j = (j + 1) & this.mask) {
      const other = this.slots[j]!
      if (other === EMPTY) break
      const home = (this.hash[other]! >>> 0) & this.mask
      if (((j - home) & this.mask) >= ((j - i) & this.mask)) {
        this.slots[i] = other
        i = j
      }
    }
    this.slots[i] = EMPTY
    this.chars.fill(0, this.off[id]!, this.off[id]! + this.len[id]!)
    this.garbage += this.len[id]!
    this.len[id] = -1
    this.live--
    if (this.garbage > 4096 && this.garbage > this.charsUsed / 2) this.compact()
  }

  /** True when id holds exactly `s` (no allocation). */
  matches(id: number, s: string): boolean {
    return this.has(id) && this.equals(id, s)
  }

  private equals(id: number, s: string): boolean {
    const n = this.len[id]!
    if (n !== s.length) return false
    const o = this.off[id]!
    const c = this.chars
    for (let k = 0; k < n; k++) if (c[o + k] !== s.charCodeAt(k)) return false
    return true
  }

  private store(id: number, s: string): void {
    const n = s.length
    if (this.charsUsed + n > this.chars.length) {
      const next = new Uint8Array(Math.max(this.chars.length * 2, this.charsUsed + n + 1024))
      next.set(this.chars.subarray(0, this.charsUsed))
      this.chars = next
    }
    const o = this.charsUsed
    for (let k = 0; k < n; k++) {
      const c = s.charCodeAt(k)
      if (c > 255) throw new RangeError(`IdTable: ${JSON.stringify(s)} has a character outside Latin-1`)
      this.chars[o + k] = c
    }
    this.off[id] = o
    this.len[id] = n
    this.charsUsed += n
  }

  private growIds(): void {
    const cap = Math.ceil(this.off.length * 1.5) + 16
    const g = (a: I32): I32 => { const b = new Int32Array(cap); b.set(a); return b }
    this.off = g(this.off)
    this.len = g(this.len)
    this.hash = g(this.hash)
  }

  private rehash(size: number): void {
    this.slots = new Int32Array(size).fill(EMPTY)
    this.mask = size - 1
    for (let id = 0; id < this.high; id++) {
      if (this.len[id]! < 0) continue
      let i = (this.hash[id]! >>> 0) & this.mask
      while (this.slots[i] !== EMPTY) i = (i + 1) & this.mask
      this.slots[i] = id
    }
  }

  private compact(): void {
    const next = new Uint8Array(Math.max(1024, this.charsUsed - this.garbage + 1024))
    let used = 0
    for (let id = 0; id < this.high; id++) {
      const n = this.len[id]!
      if (n < 0) continue
      next.set(this.chars.subarray(this.off[id]!, this.off[id]! + n), used)
      this.off[id] = used
      used += n
    }
    this.chars = next
    this.charsUsed = used
    this.garbage = 0
  }
}
