// Snapshot chunks in and out of Postgres as raw bytes: `COPY … (FORMAT binary)` over postgres.js's
// copy streams, not bytea parameters and results. A bytea parameter travels as text: postgres.js
// turns each 256 KiB chunk into a 512 KiB hex string and copies it into its write buffer, and a
// bytea result comes back as hex to be decoded. At 2,000 events/s those strings were the service's
// largest allocation (≈ 1.8 MB/s, more than the NATS client's), made once per cut and dead right
// after it. (They were not what paced the full GCs: those stayed at ~22 a minute without them; see
// HEAP_GROWING_PERCENT in cli/serveCommand.ts.) Binary COPY writes the chunk's bytes once and reads
// them as they are.
//
// Format (PostgreSQL, "COPY … Binary Format"): a 19-byte header, then per row an int16 field count
// and per field an int32 length (-1: NULL) and the value in its binary send format, then an int16 -1.
import { Readable } from "node:stream"
import type { Writable } from "node:stream"
import { pipeline } from "node:stream/promises"

/** The binary send formats this writer knows: the columns of Arena's chunk tables. */
export type CopyColumn = "int2" | "int4" | "int8" | "bool" | "bytea"
export type CopyValue = number | boolean | Uint8Array

const SIGNATURE = [0x50, 0x47, 0x43, 0x4f, 0x50, 0x59, 0x0a, 0xff, 0x0d, 0x0a, 0x00] // "PGCOPY\n\377\r\n\0"
/** Signature, flags (int32 0: no OIDs), header extension length (int32 0). */
const HEADER = Buffer.from([...SIGNATURE, 0, 0, 0, 0, 0, 0, 0, 0])
const TRAILER = Buffer.from([0xff, 0xff])

const fixedSize = (c: CopyColumn): number => (c === "int2" ? 2 : c === "int4" ? 4 : c === "int8" ? 8 : c === "bool" ? 1 : 0)

/** A value's bytes in the stream: a bytea's own length, else its column's fixed size (the value checked first). */
const sizeOf = (c: CopyColumn, v: CopyValue, i: number): number => {
  if (c === "bytea") {
    if (!(v instanceof Uint8Array)) throw new TypeError(`COPY column ${i} is bytea, got ${typeof v}`)
    return v.byteLength
  }
  if (c === "bool") {
    if (typeof v !== "boolean") throw new TypeError(`COPY column ${i} is bool, got ${typeof v}`)
    return 1
  }
  if (typeof v !== "number" || !Number.isSafeInteger(v)) throw new TypeError(`COPY column ${i} is ${c}, got ${String(v)}`)
  return fixedSize(c)
}

/**
 * One row as one buffer (one socket write: small writes cost a syscall each, and the copy of a
 * chunk is cheap beside it), led by the stream's header when `first`, ended by its trailer when `last`.
 */
const encodeRow = (columns: ReadonlyArray<CopyColumn>, row: ReadonlyArray<CopyValue>, first: boolean, last: boolean): Buffer => {
  if (row.length !== columns.length) throw new TypeError(`COPY row has ${row.length} values for ${columns.length} columns`)
  let size = (first ? HEADER.length : 0) + 2 + (last ? TRAILER.length : 0)
  for (let i = 0; i < columns.length; i++) size += 4 + sizeOf(columns[i]!, row[i]!, i)
  const b = Buffer.allocUnsafe(size)
  let o = first ? HEADER.copy(b, 0) : 0
  o = b.writeInt16BE(columns.length, o)
  for (let i = 0; i < columns.length; i++) {
    const c = columns[i]!
    const v = row[i]!
    o = b.writeInt32BE(c === "bytea" ? (v as Uint8Array).byteLength : fixedSize(c), o) // checked by sizeOf above
    if (c === "bytea") { b.set(v as Uint8Array, o); o += (v as Uint8Array).byteLength }
    else if (c === "bool") o = b.writeUInt8(v ? 1 : 0, o)
    else if (c === "int2") o = b.writeInt16BE(v as number, o)
    else if (c === "int4") o = b.writeInt32BE(v as number, o)
    else o = b.writeBigInt64BE(BigInt(v as number), o)
  }
  if (last) TRAILER.copy(b, o)
  return b
}

/** The stream, one buffer per row (no rows: just its header and trailer). */
function* encodeRows(columns: ReadonlyArray<CopyColumn>, rows: ReadonlyArray<ReadonlyArray<CopyValue>>): Generator<Buffer> {
  if (rows.length === 0) yield Buffer.concat([HEADER, TRAILER])
  for (let r = 0; r < rows.length; r++) yield encodeRow(columns, rows[r]!, r === 0, r === rows.length - 1)
}

/** The bytes `COPY … FROM STDIN (FORMAT binary)` takes for these rows, whole (copyIn streams them row by row). */
export const encodeCopy = (columns: ReadonlyArray<CopyColumn>, rows: ReadonlyArray<ReadonlyArray<CopyValue>>): Buffer =>
  Buffer.concat([...encodeRows(columns, rows)])

/**
 * Writes `rows` with `copy`, a `COPY table (columns) FROM STDIN (FORMAT binary)` statement of `tx`
 * whose columns have the binary formats `columns`. Resolves once Postgres has stored them (its
 * CommandComplete); rejects with Postgres's error (the transaction is then aborted), or the
 * connection's when it is lost meanwhile. Nothing to write: no statement.
 */
export const copyIn = async (
  copy: { writable(): Promise<Writable> },
  columns: ReadonlyArray<CopyColumn>,
  rows: ReadonlyArray<ReadonlyArray<CopyValue>>
): Promise<void> => {
  if (rows.length === 0) return
  const sink = await copy.writable()
  await pipeline(Readable.from(encodeRows(columns, rows), { objectMode: false }), sink)
}

/**
 * Reads the first column (a bytea) of every row `copy` (a `COPY (query) TO STDOUT (FORMAT binary)`
 * of `tx`) sends, in order, handing each value to `onValue` as it arrives (a view of the stream's
 * buffer when a value came whole in one message: copy it to keep it). Returns the rows and value bytes read.
 */
export const copyOutFirst = async (
  copy: { readable(): Promise<Readable> },
  onValue: (bytes: Uint8Array) => void
): Promise<{ readonly rows: number; readonly bytes: number }> => {
  const source = await copy.readable()
  const parser = new CopyParser(onValue)
  for await (const part of source as AsyncIterable<Uint8Array>) parser.push(part)
  parser.end()
  return { rows: parser.rows, bytes: parser.bytes }
}

/** An incremental parser of a binary COPY stream (any split into parts): the first field of each row. */
export class CopyParser {
  rows = 0
  /** Bytes of the values handed on. */
  bytes = 0
  private pending: Buffer = Buffer.alloc(0)
  private headerSeen = false
  private done = false

  constructor(private readonly onValue: (bytes: Uint8Array) => void) {}

  push(part: Uint8Array): void {
    let buf = this.pending.length === 0 ? Buffer.from(part.buffer, part.byteOffset, part.byteLength) : Buffer.concat([this.pending, part])
    let o = 0
    if (!this.headerSeen) {
      if (buf.length < HEADER.length) { this.pending = Buffer.from(buf); return }
      for (let i = 0; i < SIGNATURE.length; i++) if (buf[i] !== SIGNATURE[i]) throw new Error("COPY binary stream: bad signature")
      const ext = buf.readInt32BE(15)
      if (buf.length < HEADER.length + ext) { this.pending = Buffer.from(buf); return }
      o = HEADER.length + ext
      this.headerSeen = true
    }
    for (;;) {
      if (this.done) { if (o < buf.length) throw new Error("COPY binary stream: bytes after its trailer"); break }
      if (buf.length - o < 2) break
      const fields = buf.readInt16BE(o)
      if (fields === -1) { this.done = true; o += 2; continue }
      // The whole row must be here to read it: walk its field lengths first.
      let p = o + 2
      let whole = true
      for (let f = 0; f < fields; f++) {
        if (buf.length - p < 4) { whole = false; break }
        const len = buf.readInt32BE(p)
        p += 4 + Math.max(0, len)
        if (p > buf.length) { whole = false; break }
      }
      if (!whole) break
      const len = buf.readInt32BE(o + 2)
      if (len < 0) throw new Error("COPY binary stream: NULL where a value was expected")
      this.onValue(buf.subarray(o + 6, o + 6 + len))
      this.rows++
      this.bytes += len
      o = p
    }
    // Keep the unread tail (copied: the part it views may be reused by the stream).
    buf = buf.subarray(o)
    this.pending = buf.length === 0 ? Buffer.alloc(0) : Buffer.from(buf)
  }

  end(): void {
    if (!this.done || this.pending.length > 0) throw new Error("COPY binary stream ended before its trailer")
  }
}
