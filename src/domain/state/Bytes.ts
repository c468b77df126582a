// A growable byte writer and a bounds-checked reader for Arena's binary formats (snapshot chunks):
// unsigned LEB128 varints for non-negative integers up to 2^53, zig-zag for signed ones, and
// length-prefixed strings (Latin-1 bytes or UTF-16 code units).

type U8 = Uint8Array<ArrayBuffer>

export class ByteWriter {
  private buf: U8
  private pos = 0

  constructor(initial = 64 * 1024) {
    this.buf = new Uint8Array(initial)
  }

  get length(): number {
    return this.pos
  }

  /** The bytes written so far (a view; copy it before writing more if it must outlive them). */
  bytes(): U8 {
    return this.buf.subarray(0, this.pos)
  }

  reset(): void {
    this.pos = 0
  }

  private ensure(n: number): void {
    if (this.pos + n <= this.buf.length) return
    const next = new Uint8Array(Math.max(this.buf.length * 2, this.pos + n))
    next.set(this.buf.subarray(0, this.pos))
    this.buf = next
  }

  u8(v: number): void {
    this.ensure(1)
    this.buf[this.pos++] = v
  }

  /** Overwrites 4 bytes at `at` (little-endian u32): for lengths known only later. */
  patchU32(at: number, v: number): void {
    this.buf[at] = v & 0xff
    this.buf[at + 1] = (v >>> 8) & 0xff
    this.buf[at + 2] = (v >>> 16) & 0xff
    this.buf[at + 3] = (v >>> 24) & 0xff
  }

  u32(v: number): void {
    this.ensure(4)
    this.patchU32(this.pos, v)
    this.pos += 4
  }

  /** Unsigned varint (0 ≤ v ≤ 2^53 - 1). */
  uv(v: number): void {
    this.ensure(8)
    while (v >= 128) {
      this.buf[this.pos++] = (v % 128) | 128
      v = Math.floor(v / 128)
    }
    this.buf[this.pos++] = v
  }

  /** Signed varint (zig-zag), |v| < 2^52. */
  sv(v: number): void {
    this.uv(v < 0 ? -2 * v - 1 : 2 * v)
  }

  /** A string of Latin-1 characters (ids), length-prefixed. */
  latin1(s: string): void {
    this.uv(s.length)
    this.ensure(s.length)
    for (let i = 0; i < s.length; i++) this.buf[this.pos++] = s.charCodeAt(i) & 0xff
  }

  /** Like latin1(), from bytes already held (src[from, from + n)): no string in between. */
  latin1From(src: Uint8Array, from: number, n: number): void {
    this.uv(n)
    this.ensure(n)
    for (let i = 0; i < n; i++) this.buf[this.pos++] = src[from + i]!
  }

  /** Like utf16(), from code units already held (src[from, from + n)). */
  utf16From(src: Uint16Array, from: number, n: number): void {
    this.uv(n)
    this.ensure(2 * n)
    for (let i = 0; i < n; i++) {
      const c = src[from + i]!
      this.buf[this.pos++] = c & 0xff
      this.buf[this.pos++] = c >>> 8
    }
  }

  /** Any string, as UTF-16 code units, length-prefixed. */
  utf16(s: string): void {
    this.uv(s.length)
    this.ensure(2 * s.length)
    for (let i = 0; i < s.length; i++) {
      const c = s.charCodeAt(i)
      this.buf[this.pos++] = c & 0xff
      this.buf[this.pos++] = c >>> 8
    }
  }
}

export class FormatError extends Error {}

export class ByteReader {
  pos = 0

  constructor(private readonly buf: Uint8Array, readonly end = buf.length) {}

  get done(): boolean {
    return this.pos >= this.end
  }

  private need(n: number): void {
    if (this.pos + n > this.end) throw new FormatError(`truncated data at byte ${this.pos} (needs ${n} more, ${this.end - this.pos} left)`)
  }

  u8(): number {
    this.need(1)
    return this.buf[this.pos++]!
  }

  u32(): number {
    this.need(4)
    const b = this.buf
    const p = this.pos
    this.pos += 4
    return (b[p]! | (b[p + 1]! << 8) | (b[p + 2]! << 16)) + b[p + 3]! * 0x1000000
  }

  uv(): number {
    let v = 0
    let scale = 1
    for (let i = 0; i < 8; i++) {
      this.need(1)
      const b = this.buf[this.pos++]!
      v += (b & 127) * scale
      if (b < 128) return v
      scale *= 128
    }
    throw new FormatError(`varint longer than 8 bytes at byte ${this.pos}`)
  }

  sv(): number {
    const z = this.uv()
    return z % 2 === 1 ? -(z + 1) / 2 : z / 2
  }

  latin1(): string {
    const n = this.uv()
    this.need(n)
    const s = String.fromCharCode.apply(null, this.buf.subarray(this.pos, this.pos + n) as unknown as Array<number>)
    this.pos += n
    return s
  }

  utf16(): string {
    const n = this.uv()
    this.need(2 * n)
    let s = ""
    for (let i = 0; i < n; i++) s += String.fromCharCode(this.buf[this.pos + 2 * i]! | (this.buf[this.pos + 2 * i + 1]! << 8))
    this.pos += 2 * n
    return s
  }
}
