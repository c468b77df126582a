// A re-projection's rows (ARCHITECTURE §10 "Re-projection"): the shadow build (a child process,
// which cannot open the embedded engine the service holds) writes every record it makes, as this
// store's RowBinary rows stamped with its projection, to `<data dir>/reprojection/<N>/records.bin`
// (frames: kind u8, seq f64, month i32, length u32, row), then `done.json` with the seq its
// snapshot is at. The service loads them into ClickHouse before it marks the projection built,
// exactly once like the sink: per kind, rows at or below projection N's own watermark are already
// there (inserts are atomic parts, in seq order, whole seqs per batch, with deduplication tokens
// naming the projection), and a `sink_progress` row of N through that seq is written last.
import type { ClickHouseClient } from "@clickhouse/client"
import { Effect } from "effect"
import * as fs from "node:fs"
import * as path from "node:path"
import type { AnalyticsRecord, AnalyticsSink } from "../../ports/Analytics.js"
import type { ProjectionRowsLoad, ProjectionRowsLoader, ShadowRecordsOut } from "../../ports/Projections.js"
import { KINDS, RowLog } from "../../ports/RowLog.js"
import { blocksOf, insertBlock, readWatermarks } from "./ClickHouseAnalyticsStore.js"
import { chTry } from "./ClickHouseClient.js"
import { ClickHouseError } from "./ClickHouseError.js"
import { writeRow } from "./RowBinary.js"
import { toChTime } from "./Rows.js"

/** Where projection N's records wait for the service. */
export const projectionRowsDir = (dataDir: string, projection: number): string => path.join(dataDir, "reprojection", String(projection))

const RECORDS = "records.bin"
const DONE = "done.json"
const HEADER = 1 + 8 + 4 + 4
/** Rows per insert of a load (the sink's batch size). */
const BATCH = 50_000

interface Done { readonly projection: number; readonly throughSeq: number; readonly records: number }

/** The shadow build's analytics sink: records appended to the file as they are submitted; `finish` seals it. */
export const makeShadowRecordsFile = (dir: string, projection: number): ShadowRecordsOut => {
  fs.rmSync(dir, { recursive: true, force: true })
  fs.mkdirSync(dir, { recursive: true })
  const fd = fs.openSync(path.join(dir, RECORDS), "w")
  const rows = new RowLog()
  let submitted = 0
  let records = 0
  let sealed = false
  const append = (rs: ReadonlyArray<AnalyticsRecord>, throughSeq: number): void => {
    if (throughSeq > submitted) submitted = throughSeq
    if (sealed) return // applied after the shadow snapshot (the pipeline runs until the build ends): not N's rows
    for (const r of rs) writeRow(r, rows, projection)
    let size = 0
    for (let i = 0; i < rows.length; i++) size += HEADER + rows.end[i]! - rows.start[i]!
    const buf = Buffer.allocUnsafe(size)
    let at = 0
    for (let i = 0; i < rows.length; i++) {
      const bytes = rows.bytesOf(i)
      buf.writeUInt8(rows.kind[i]!, at)
      buf.writeDoubleLE(rows.seq[i]!, at + 1)
      buf.writeInt32LE(rows.part[i]!, at + 9)
      buf.writeUInt32LE(bytes.length, at + 13)
      buf.set(bytes, at + HEADER)
      at += HEADER + bytes.length
    }
    for (let off = 0; off < size;) off += fs.writeSync(fd, buf, off, size - off)
    records += rows.length
    rows.clear()
  }
  const sink: AnalyticsSink = {
    submit: (rs, throughSeq) => Effect.sync(() => append(rs, throughSeq)),
    // Written at submit: "durable" once submitted (a snapshot waits for its seq's records).
    awaitDurable: (seq) => Effect.gen(function*() { while (submitted < seq) yield* Effect.sleep(10) })
  }
  return {
    sink,
    finish: (throughSeq) => chTry(`sealing projection ${projection}'s records`, async () => {
      sealed = true
      fs.fsyncSync(fd)
      fs.closeSync(fd)
      const done: Done = { projection, throughSeq, records }
      fs.writeFileSync(path.join(dir, DONE + ".tmp"), JSON.stringify(done))
      fs.renameSync(path.join(dir, DONE + ".tmp"), path.join(dir, DONE))
    })
  }
}

/** Frames of the records file, read in 8 MiB pieces (a frame may span two). */
function* framesOf(file: string): Generator<{ kind: number; seq: number; part: number; bytes: Uint8Array }> {
  const fd = fs.openSync(file, "r")
  try {
    let carry = Buffer.alloc(0)
    const piece = Buffer.allocUnsafe(8 << 20)
    for (;;) {
      const n = fs.readSync(fd, piece, 0, piece.length, null)
      if (n === 0) break
      const buf = carry.length === 0 ? piece.subarray(0, n) : Buffer.concat([carry, piece.subarray(0, n)])
      let at = 0
      while (at + HEADER <= buf.length) {
        const len = buf.readUInt32LE(at + 13)
        if (at + HEADER + len > buf.length) break
        yield { kind: buf.readUInt8(at), seq: buf.readDoubleLE(at + 1), part: buf.readInt32LE(at + 9), bytes: buf.subarray(at + HEADER, at + HEADER + len) }
        at += HEADER + len
      }
      carry = Buffer.from(buf.subarray(at))
    }
    if (carry.length > 0) throw new Error(`${file} ends inside a record`)
  } finally {
    fs.closeSync(fd)
  }
}

/**
 * The service's side. `exclusively` runs one insert under the sink's lock (never beside its
 * writes or an erasure's rollup rebuild).
 */
export const makeProjectionRowsLoader = (o: {
  readonly client: ClickHouseClient
  readonly dataDir: string
  readonly exclusively: <A, E>(e: Effect.Effect<A, E>) => Effect.Effect<A, E>
}): ProjectionRowsLoader => {
  const insert = (projection: number, rows: RowLog, n: number) =>
    o.exclusively(chTry(`inserting projection ${projection}'s rows`, async () => {
      for (const b of blocksOf(rows, n)) await insertBlock(o.client, b, projection)
    }))
  return {
    load: (projection, skip) => Effect.gen(function*() {
      const dir = projectionRowsDir(o.dataDir, projection)
      const done = yield* chTry(`reading projection ${projection}'s records`, async () => {
        try {
          return JSON.parse(fs.readFileSync(path.join(dir, DONE), "utf8")) as Done
        } catch (e) {
          throw new ClickHouseError({ reason: "query", retryable: false, message: `the shadow build of projection ${projection} left no records in ${dir} (${e instanceof Error ? e.message : String(e)})` })
        }
      })
      const w = yield* chTry("reading watermarks", () => readWatermarks(o.client, projection))
      const out: ProjectionRowsLoad = { throughSeq: done.throughSeq, inserted: 0, present: 0 }
      if (w.durableSeq >= done.throughSeq) return { ...out, present: done.records }
      const t = KINDS.map((k) => Math.max(w.maxSeq[k], w.durableSeq))
      const rows = new RowLog()
      let inserted = 0
      let present = 0
      for (const f of framesOf(path.join(dir, RECORDS))) {
        if (f.seq > done.throughSeq) continue // applied after the shadow snapshot: the live pipeline scores it after the switch
        if (f.seq <= t[f.kind]!) { present++; continue }
        if (skip?.has(f.seq) === true) continue // a message of a user being erased: its rows never go in
        // Whole seqs per insert: a kind's watermark must never fall inside a seq.
        if (rows.length >= BATCH && f.seq !== rows.seq[rows.length - 1]) {
          yield* insert(projection, rows, rows.length)
          inserted += rows.length
          rows.clear()
        }
        rows.append(f.kind, f.seq, f.part, f.bytes)
      }
      if (rows.length > 0) yield* insert(projection, rows, rows.length)
      inserted += rows.length
      yield* o.exclusively(chTry(`completing projection ${projection}'s rows`, () =>
        o.client.insert({
          table: "sink_progress",
          columns: ["through_seq", "records", "written_at", "projection"],
          values: [[done.throughSeq, inserted, toChTime(new Date().toISOString()), projection]],
          format: "JSONCompactEachRow"
        }).then(() => undefined)))
      return { throughSeq: done.throughSeq, inserted, present }
    }),
    drop: (projection) => Effect.sync(() => fs.rmSync(projectionRowsDir(o.dataDir, projection), { recursive: true, force: true }))
  }
}
