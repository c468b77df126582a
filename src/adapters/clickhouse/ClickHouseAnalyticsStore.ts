// The analytics sink's store on ClickHouse: per kind, one INSERT per month partition (one atomic
// part each, carrying a deterministic deduplication token), then a progress row; watermarks are
// read back from the tables themselves, after migrations and a rollup consistency check. Rows
// travel as RowBinary (RowBinary.ts), to the embedded engine and to a server alike.
import { drainStream } from "@clickhouse/client"
import type { ClickHouseClient } from "@clickhouse/client"
import { Readable } from "node:stream"
import type { AnalyticsStore, EncodedRecord, Watermarks } from "../../ports/AnalyticsStore.js"
import type { AnalyticsRecord, RecordKind } from "../../ports/Analytics.js"
import { KINDS, RowLog, rowLogOf } from "../../ports/RowLog.js"
import { blocked } from "../../observability/LoopBlocks.js"
import { chTry } from "./ClickHouseClient.js"
import type { ClickHouseHandle } from "./ClickHouseClient.js"
import { migrateClickHouse } from "./Migrations.js"
import { repairRollups } from "./Rollups.js"
import { readLedgerItem, writeRow } from "./RowBinary.js"
import { TABLES, toChTime } from "./Rows.js"

/** One insert: rows of one kind and one month, consecutive in seq order (indexes into `rows`). */
export interface InsertBlock {
  readonly kind: RecordKind
  readonly month: number
  readonly firstSeq: number
  readonly lastSeq: number
  readonly count: number
  readonly rows: RowLog
  readonly index: Int32Array
}

// A scratch log for encodeRecord (one-off records: backfill, tests): a slab is only written past
// the rows handed out, and a full log is replaced (its slabs stay alive as long as their records).
let scratch = new RowLog()

/** A record as an object (one-off writes: backfill, tests): its month partition and its RowBinary row. */
export const encodeRecord = (r: AnalyticsRecord): EncodedRecord => {
  if (scratch.slabs.length > 2 * KINDS.length) scratch = new RowLog()
  const i = writeRow(r, scratch)
  const out: EncodedRecord = { kind: r.kind, seq: scratch.seq[i]!, part: scratch.part[i]!, bytes: scratch.slabs[scratch.slab[i]!]!, start: scratch.start[i]!, end: scratch.end[i]! }
  scratch.length = 0 // the scratch log keeps no rows (its slabs stay referenced by the records handed out)
  return out
}

/** Splits rows [0, count) (seq order) into per-kind, per-month runs (kind order, then seq order). */
export const blocksOf = (source: RowLog | ReadonlyArray<EncodedRecord>, count?: number): InsertBlock[] => {
  const rows = source instanceof RowLog ? source : rowLogOf(source)
  const n = count ?? rows.length
  const out: InsertBlock[] = []
  const idx = new Int32Array(n)
  for (let k = 0; k < KINDS.length; k++) {
    let m = 0
    let from = 0
    for (let i = 0; i < n; i++) {
      if (rows.kind[i] !== k) continue
      if (m > from && rows.part[i] !== rows.part[idx[m - 1]!]) {
        out.push(blockOf(rows, k, idx.slice(from, m)))
        from = m
      }
      idx[m++] = i
    }
    if (m > from) out.push(blockOf(rows, k, idx.slice(from, m)))
  }
  return out
}

const blockOf = (rows: RowLog, k: number, index: Int32Array): InsertBlock => ({
  kind: KINDS[k]!, month: rows.part[index[0]!]!, firstSeq: rows.seq[index[0]!]!, lastSeq: rows.seq[index[index.length - 1]!]!,
  count: index.length, rows, index
})

/** Bytes per chunk handed on (one IPC message to the embedded engine's process). */
const CHUNK_BYTES = 1 << 20
const ROWS_PER_SLICE = 10_000

/**
 * The block's RowBinary bytes in chunks of about 1 MB, copied from the rows' slabs (runs of rows
 * that lie back to back are copied at once), with a turn of the event loop between slices of rows
 * so a 50k-row block never holds the service's loop. The log's columns are read afresh after each
 * turn (rows appended meanwhile may have reallocated them; rows of the block never move).
 */
const encodeBlock = (b: InsertBlock): Readable =>
  Readable.from((async function*() {
    const ix = b.index
    const rows = b.rows
    let i = 0
    while (i < ix.length) {
      if (i > 0) await new Promise<void>((resolve) => setImmediate(resolve))
      let t = performance.now()
      const end = Math.min(ix.length, i + ROWS_PER_SLICE)
      let size = 0
      for (let j = i; j < end; j++) size += rows.end[ix[j]!]! - rows.start[ix[j]!]!
      let chunk = Buffer.allocUnsafe(Math.min(size, CHUNK_BYTES))
      let at = 0
      let j = i
      while (j < end) {
        // A run: rows ix[j..k) adjacent in one slab.
        const first = ix[j]!
        const slabId = rows.slab[first]!
        const bytes = rows.slabs[slabId]!
        let stop = rows.end[first]!
        let k = j + 1
        while (k < end && rows.slab[ix[k]!] === slabId && rows.start[ix[k]!] === stop) stop = rows.end[ix[k++]!]!
        let from = rows.start[first]!
        while (from < stop) {
          if (at === chunk.length) {
            blocked("analytics_flush", t)
            yield chunk
            t = performance.now()
            size -= at
            chunk = Buffer.allocUnsafe(Math.min(size, CHUNK_BYTES))
            at = 0
          }
          const n = Math.min(stop - from, chunk.length - at)
          chunk.set(bytes.subarray(from, from + n), at)
          at += n
          from += n
        }
        j = k
      }
      blocked("analytics_flush", t)
      if (at > 0) yield chunk.subarray(0, at)
      i = end
    }
  })(), { objectMode: false })

/**
 * Inserts one block: one part, as long as a batch stays below max_insert_block_size rows (~1M;
 * the sink's batches are 50k at most) and 256 MB. The token names the block by content (table,
 * seq range, rows), so a retry of the same block is dropped by ClickHouse — in the table and,
 * with deduplicate_blocks_in_dependent_materialized_views, in every view fed from it.
 */
export const insertBlock = async (client: ClickHouseClient, b: InsertBlock): Promise<void> => {
  const spec = TABLES[b.kind]
  const r = await client.exec({
    query: `INSERT INTO ${spec.table} (${spec.columns.join(", ")}) FORMAT RowBinary`,
    values: encodeBlock(b),
    clickhouse_settings: {
      insert_deduplication_token: `${spec.table}:${b.firstSeq}-${b.lastSeq}:${b.count}`,
      deduplicate_blocks_in_dependent_materialized_views: 1,
      // awards.metadata is a JSON column; its RowBinary value is the JSON text.
      input_format_binary_read_json_as_string: 1
    }
  })
  await drainStream(r.stream)
}

export const readWatermarks = async (client: ClickHouseClient): Promise<Watermarks> => {
  const rs = await client.query({
    query: `SELECT (SELECT max(through_seq) FROM sink_progress) AS durable, (SELECT max(seq) FROM awards) AS award,
                   (SELECT max(seq) FROM level_ups) AS level_up, (SELECT max(seq) FROM achievements) AS achievement,
                   (SELECT max(seq) FROM rejections) AS rejection, (SELECT max(seq) FROM corrections) AS correction`,
    format: "JSONEachRow"
  })
  const [w] = await rs.json<Record<"durable" | RecordKind, number | string>>()
  if (w === undefined) throw new Error("watermark query returned no row")
  return {
    durableSeq: Number(w.durable),
    maxSeq: { award: Number(w.award), correction: Number(w.correction), level_up: Number(w.level_up), achievement: Number(w.achievement), rejection: Number(w.rejection) }
  }
}

/**
 * Erasure: the rows of the user's messages go — awards, level-ups, achievements, and the
 * rejections of their rejected events — by seq (every record of a message shares its seq, and a
 * message names one user), so the mutation's text, which ClickHouse keeps in system.mutations,
 * holds seqs and no user id. A mutation rewrites the parts: the bytes are gone from disk too, not
 * only hidden as a lightweight DELETE leaves them. Deleted, not anonymized: user_id is in the
 * sorting key of every table that has it, which ClickHouse cannot UPDATE, and a rewrite under
 * another id would pass through the materialized views and count twice in the rollups. Then every
 * rollup month whose counts no longer match its sources is rebuilt (Rollups.ts), which also takes
 * the user out of user_days and the distinct-user states.
 */
export const eraseSeqRows = async (client: ClickHouseClient, seqs: ReadonlyArray<number>): Promise<void> => {
  if (seqs.length === 0) return
  // The months the rows are in: only those rollup months are checked and rebuilt (a full check
  // would scan every raw table under the sink's lock).
  const rs = await client.query({
    query: `SELECT DISTINCT toYYYYMM(stream_time) AS m FROM (SELECT stream_time FROM awards WHERE seq IN {seqs:Array(UInt64)}
            UNION ALL SELECT stream_time FROM corrections WHERE seq IN {seqs:Array(UInt64)}
            UNION ALL SELECT stream_time FROM rejections WHERE seq IN {seqs:Array(UInt64)})`,
    query_params: { seqs: [...seqs] },
    format: "JSONEachRow"
  })
  const months = (await rs.json<{ m: number | string }>()).map((r) => Number(r.m))
  for (const table of ["awards", "corrections", "level_ups", "achievements", "rejections"]) {
    await client.command({
      query: `ALTER TABLE ${table} DELETE WHERE seq IN {seqs:Array(UInt64)}`,
      query_params: { seqs: [...seqs] },
      clickhouse_settings: { mutations_sync: "2" }
    })
  }
  // A resumed erasure whose rows are gone already finds no months: then every month is checked.
  await repairRollups(client, months.length > 0 ? months : undefined)
}

export const makeClickHouseAnalyticsStore = (h: ClickHouseHandle, log: (msg: string) => void = () => {}): AnalyticsStore => {
  let migrated = false
  const client = h.client
  return {
    encode: encodeRecord,
    encodeInto: writeRow,
    ledgerItemOf: readLedgerItem,
    recover: chTry("recovering the analytics store", async () => {
      if (!migrated) {
        await h.ensureDatabase()
        const applied = await migrateClickHouse(client)
        if (applied.length > 0) log(`clickhouse migrations applied: ${applied.join(", ")}`)
        migrated = true
      }
      for (const r of await repairRollups(client)) {
        log(`clickhouse rollup ${r.target} month ${r.month} rebuilt: had ${r.before} events, sources have ${r.expected}`)
      }
      return readWatermarks(client)
    }),
    eraseSeqs: (seqs) => chTry("erasing a user's rows", () => eraseSeqRows(client, seqs)),
    write: (records, throughSeq) => writeRows(client, rowLogOf(records), records.length, throughSeq),
    writeRows: (rows, count, throughSeq) => writeRows(client, rows, count, throughSeq)
  }
}

const writeRows = (client: ClickHouseClient, rows: RowLog, count: number, throughSeq: number) =>
  chTry("writing analytics records", async () => {
    const t = performance.now()
    const blocks = blocksOf(rows, count)
    blocked("analytics_flush", t)
    for (const b of blocks) await insertBlock(client, b)
    await client.insert({
      table: "sink_progress",
      columns: ["through_seq", "records", "written_at"],
      values: [[throughSeq, count, toChTime(new Date().toISOString())]],
      format: "JSONCompactEachRow"
    })
  })
