// A column of optional short strings indexed by dense id (display names), stored as UTF-16 code
// units in one arena: no JS string per row for the garbage collector to trace. Setting a row to
// the value it holds writes nothing; rewrites leave garbage that a compaction reclaims.

import type { ByteWriter } from "./Bytes.js"

type U16 = Uint16Array<ArrayBuffer>
type I32 = Int32Array<ArrayBuffer>

/** Length marking a row that holds no string. */
const NONE = -1

export class TextColumn {
  private units: U16 = new Uint16Array(1024)
  private used = 0
  private garbage = 0
  private off: I32 = new Int32Array(64)
  private len: I32 = new Int32Array(64).fill(NONE)

  get bytes(): number {
    return this.units.byteLength + this.off.byteLength * 2
  }

  has(id: number): boolean {
    return id < this.len.length && this.len[id]! !== NONE
  }

  /** The row's string, or undefined (allocates; for reads). */
  get(id: number): string | undefined {
    if (id >= this.len.length) return undefined
    const n = this.len[id]!
    if (n === NONE) return undefined
    const o = this.off[id]!
    return String.fromCharCode.apply(null, this.units.subarray(o, o + n) as unknown as Array<number>)
  }

  /** Writes a row that holds a string as ByteWriter.utf16(get(id)) would, without making it. */
  writeTo(id: number, w: ByteWriter): void {
    w.utf16From(this.units, this.off[id]!, this.len[id]!)
  }

  /** True when the row holds exactly `s`. */
  equals(id: number, s: string): boolean {
    if (id >= this.len.length || this.len[id] !== s.length) return false
    const o = this.off[id]!
    for (let k = 0; k < s.length; k++) if (this.units[o + k] !== s.charCodeAt(k)) return false
    return true
  }

  /** Sets the row (undefined clears it). */
  set(id: number, s: string | undefined): void {
    if (id >= this.len.length) this.grow(id + 1)
    if (s === undefined) {
      if (this.len[id] !== NONE) this.garbage += this.len[id]!
      this.len[id] = NONE
      return
    }
    if (this.equals(id, s)) return
    if (this.len[id] !== NONE) this.garbage += this.len[id]!
    this.len[id] = NONE
    const n = s.length
    if (this.used + n > this.units.length) {
      if (this.garbage > this.used / 2) this.compact()
      if (this.used + n > this.units.length) {
        const next = new Uint16Array(Math.max(this.units.length * 2, this.used + n + 1024))
        next.set(this.units.subarray(0, this.used))
        this.units = next
      }
    }
    const o = this.used
    for (let k = 0; k < n; k++) this.units[o + k] = s.charCodeAt(k)
    this.off[id] = o
    this.len[id] = n
    this.used += n
  }

  private grow(min: number): void {
    const cap = Math.max(min, Math.ceil(this.len.length * 1.5) + 16)
    const off = new Int32Array(cap)
    off.set(this.off)
    const len = new Int32Array(cap).fill(NONE)
    len.set(this.len)
    this.off = off
    this.len = len
  }

  private compact(): void {
    const next = new Uint16Array(Math.max(1024, this.used - this.garbage + 1024))
    let used = 0
    for (let id = 0; id < this.len.length; id++) {
      const n = this.len[id]!
      if (n === NONE) continue
      next.set(this.units.subarray(this.off[id]!, this.off[id]! + n), used)
      this.off[id] = used
      used += n
    }
    this.units = next
    this.used = used
    this.garbage = 0
  }
}
