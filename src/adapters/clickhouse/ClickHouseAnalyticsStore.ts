// The analytics sink's store on ClickHouse: per kind, one INSERT per month partition (one atomic
// part each, carrying a deterministic deduplication token), then a progress row; watermarks are
// read back from the tables themselves, after migrations and a rollup consistency check. Rows
// travel as RowBinary (RowBinary.ts), to the embedded engine and to a server alike. Rows carry the
// current projection (ARCHITECTURE §10 "Re-projection"), and the watermarks are that projection's.
import { drainStream } from "@clickhouse/client"
import type { ClickHouseClient } from "@clickhouse/client"
import { Readable } from "node:stream"
import type { AnalyticsStore, EncodedRecord, Watermarks } from "../../ports/AnalyticsStore.js"
import type { AnalyticsRecord, RecordKind } from "../../ports/Analytics.js"
import { KINDS, RowLog, rowLogOf } from "../../ports/RowLog.js"
import { blocked } from "../../observability/LoopBlocks.js"
import { chTry } from "./ClickHouseClient.js"
import { ClickHouseError } from "./ClickHouseError.js"
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
export const encodeRecord = (r: AnalyticsRecord): EncodedRecord => encodeRecordOf(r, 0)

/** encodeRecord, as a row of `projection` (and, in partitioned mode, of stream partition `streamPartition`). */
export const encodeRecordOf = (r: AnalyticsRecord, projection: number, streamPartition?: number): EncodedRecord => {
  if (scratch.slabs.length > 2 * KINDS.length) scratch = new RowLog()
  const i = writeRow(r, scratch, projection, streamPartition)
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
 * projection, seq range, rows), so a retry of the same block is dropped by ClickHouse — in the
 * table and, with deduplicate_blocks_in_dependent_materialized_views, in every view fed from it —
 * and projection N's rows of a seq range are never taken for projection 0's.
 */
export const insertBlock = async (client: ClickHouseClient, b: InsertBlock, projection = 0): Promise<void> => {
  const spec = TABLES[b.kind]
  const r = await client.exec({
    query: `INSERT INTO ${spec.table} (${spec.columns.join(", ")}) FORMAT RowBinary`,
    values: encodeBlock(b),
    clickhouse_settings: {
      insert_deduplication_token: projection === 0 ? `${spec.table}:${b.firstSeq}-${b.lastSeq}:${b.count}` : `${spec.table}:p${projection}:${b.firstSeq}-${b.lastSeq}:${b.count}`,
      deduplicate_blocks_in_dependent_materialized_views: 1,
      // awards.metadata is a JSON column; its RowBinary value is the JSON text.
      input_format_binary_read_json_as_string: 1
    }
  })
  await drainStream(r.stream)
}

/** Projection `projection`'s watermarks (its rows only: another projection's are another scoring). */
export const readWatermarks = async (client: ClickHouseClient, projection = 0, streamPartition?: number): Promise<Watermarks> => {
  // Partitioned mode: one partition's rows only (0006_stream_partition.sql); the single process
  // reads every row of the projection, as before.
  const p = streamPartition === undefined ? "WHERE projection = {p:UInt32}" : "WHERE projection = {p:UInt32} AND stream_partition = {k:Int32}"
  const rs = await client.query({
    query: `SELECT (SELECT max(through_seq) FROM sink_progress ${p}) AS durable, (SELECT max(seq) FROM awards ${p}) AS award,
                   (SELECT max(seq) FROM level_ups ${p}) AS level_up, (SELECT max(seq) FROM achievements ${p}) AS achievement,
                   (SELECT max(seq) FROM rejections ${p}) AS rejection, (SELECT max(seq) FROM corrections ${p}) AS correction`,
    query_params: streamPartition === undefined ? { p: projection } : { p: projection, k: streamPartition },
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

/**
 * `projection`: the current projection (read when a record is encoded, a batch written and the
 * watermarks read); the sink switches it between two writes (AnalyticsService.reproject).
 */
export const makeClickHouseAnalyticsStore = (h: ClickHouseHandle, log: (msg: string) => void = () => {}, projection: () => number = () => 0): AnalyticsStore => {
  let migrated = false
  const client = h.client
  return {
    encode: (r) => encodeRecordOf(r, projection()),
    encodeInto: (r, rows) => writeRow(r, rows, projection()),
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
      return readWatermarks(client, projection())
    }),
    eraseSeqs: (seqs) => chTry("erasing a user's rows", () => eraseSeqRows(client, seqs)),
    write: (records, throughSeq) => writeRows(client, rowLogOf(records), records.length, throughSeq, projection()),
    writeRows: (rows, count, throughSeq) => writeRows(client, rows, count, throughSeq, projection())
  }
}

/** Partitioned mode: the stream partition a store writes, and the fence checked before each of its writes. */
export interface PartitionScope {
  readonly partition: number
  /** Resolves if this process may still write the partition; rejects (a ClickHouseError, not retryable) if it lost it. */
  readonly fence: () => Promise<void>
  /**
   * This owner as `partition_writers` orders owners (0006): its lease stream's creation (ns), then
   * its lease token — the Postgres fence's order of claims. Every insert goes in only while this
   * owner is the partition's latest writer.
   */
  readonly writer: { readonly leaseStreamNs: bigint; readonly token: number; readonly name: string }
  /** Each insert's max_execution_time (s): a deposed owner's insert cannot run longer. */
  readonly insertLimitS: number
  /** After registering as the writer, the wait before reading the watermarks (> insertLimitS: inserts the old owner began are over by then). */
  readonly graceMs: number
}

/** Column types of the tables a partition store writes (for input('…')), read once. */
type ColumnTypes = ReadonlyMap<string, ReadonlyMap<string, string>>

const readColumnTypes = async (client: ClickHouseClient): Promise<ColumnTypes> => {
  const rs = await client.query({
    query: "SELECT table, name, type FROM system.columns WHERE database = currentDatabase() AND table IN ('awards', 'corrections', 'level_ups', 'achievements', 'rejections', 'sink_progress')",
    format: "JSONEachRow"
  })
  const out = new Map<string, Map<string, string>>()
  for (const r of await rs.json<{ table: string; name: string; type: string }>()) {
    const t = out.get(r.table) ?? new Map<string, string>()
    t.set(r.name, r.type)
    out.set(r.table, t)
  }
  return out
}

/** "this owner is partition k's latest writer", evaluated by ClickHouse when an insert runs (numbers only: no user text). */
const writerCondition = (scope: PartitionScope): string =>
  `(SELECT max((lease_stream_ns, token)) FROM partition_writers WHERE stream_partition = ${scope.partition}) = (${scope.writer.leaseStreamNs.toString()}, ${scope.writer.token})`

const quoted = (s: string): string => `'${s.replace(/\\/g, "\\\\").replace(/'/g, "\\'")}'`

/**
 * A partition's block, inserted only while its owner is the partition's latest writer: `INSERT …
 * SELECT * FROM input(…) WHERE <condition>`, the condition read by ClickHouse as the insert runs,
 * bounded by max_execution_time. Rows end with their stream partition (RowBinary.writeRow); the
 * deduplication token is insertBlock's naming the partition (each seq is one partition's, but a
 * token must not rely on that).
 */
const insertGuardedBlock = async (client: ClickHouseClient, b: InsertBlock, scope: PartitionScope, types: ColumnTypes): Promise<void> => {
  const spec = TABLES[b.kind]
  const columns = [...spec.columns, "stream_partition"]
  const t = types.get(spec.table)
  const structure = columns.map((c) => {
    const type = t?.get(c)
    if (type === undefined) throw new ClickHouseError({ reason: "query", retryable: true, message: `column ${spec.table}.${c} not found (migrations not applied?)` })
    return `${c} ${type}`
  }).join(", ")
  const r = await client.exec({
    query: `INSERT INTO ${spec.table} (${columns.join(", ")}) SELECT * FROM input(${quoted(structure)}) WHERE ${writerCondition(scope)} FORMAT RowBinary`,
    values: encodeBlock(b),
    clickhouse_settings: {
      insert_deduplication_token: `${spec.table}:k${scope.partition}:${b.firstSeq}-${b.lastSeq}:${b.count}`,
      deduplicate_blocks_in_dependent_materialized_views: 1,
      input_format_binary_read_json_as_string: 1,
      max_execution_time: scope.insertLimitS
    }
  })
  await drainStream(r.stream)
}

const writeRows = (client: ClickHouseClient, rows: RowLog, count: number, throughSeq: number, projection: number) =>
  chTry("writing analytics records", async () => {
    const t = performance.now()
    const blocks = blocksOf(rows, count)
    blocked("analytics_flush", t)
    for (const b of blocks) await insertBlock(client, b, projection)
    await client.insert({
      table: "sink_progress",
      columns: ["through_seq", "records", "written_at", "projection"],
      values: [[throughSeq, count, toChTime(new Date().toISOString()), projection]],
      format: "JSONCompactEachRow"
    })
  })

/** A partition's flush: each block, then the progress row, each checked by the fence and guarded by the writer condition. */
const writePartitionRows = (client: ClickHouseClient, rows: RowLog, count: number, throughSeq: number, scope: PartitionScope, types: () => ColumnTypes) =>
  chTry(`writing partition ${scope.partition}'s analytics records`, async () => {
    const t = performance.now()
    const blocks = blocksOf(rows, count)
    blocked("analytics_flush", t)
    for (const b of blocks) {
      await scope.fence()
      await insertGuardedBlock(client, b, scope, types())
    }
    // The watermark moves last, and never for a writer that lost the partition.
    await scope.fence()
    await client.command({
      query: `INSERT INTO sink_progress (through_seq, records, written_at, projection, stream_partition)
              SELECT {through:UInt64}, {records:UInt32}, now64(3, 'UTC'), 0, {k:Int32} WHERE ${writerCondition(scope)}`,
      query_params: { through: throughSeq, records: count, k: scope.partition },
      clickhouse_settings: { max_execution_time: scope.insertLimitS }
    })
  })

/**
 * Partitioned mode (ARCHITECTURE §9): the store of one stream partition on a shared ClickHouse
 * server. Rows carry the partition; watermarks are the partition's (and projection 0's: a
 * re-projection is not built in this mode); every insert and the progress row first pass `fence`,
 * and run as conditional inserts ClickHouse applies only while this owner is the partition's latest
 * writer (`partition_writers`, registered at the first recover, before the watermarks are read).
 * `migrate` runs the migrations once for all the process's partitions (serialized across
 * processors by the caller). No rollup repair at recover: other partitions' writers insert
 * meanwhile, and a month rebuilt under them would lose or double their rows (docs/scaling.md).
 */
export const makePartitionAnalyticsStore = (h: ClickHouseHandle, scope: PartitionScope, migrate: () => Promise<void>): AnalyticsStore => {
  const client = h.client
  let types: ColumnTypes | null = null
  let registered = false
  const typesOf = (): ColumnTypes => {
    if (types === null) throw new ClickHouseError({ reason: "query", retryable: true, message: "column types not read yet" })
    return types
  }
  return {
    encode: (r) => encodeRecordOf(r, 0, scope.partition),
    encodeInto: (r, rows) => writeRow(r, rows, 0, scope.partition),
    ledgerItemOf: readLedgerItem,
    recover: chTry(`recovering partition ${scope.partition}'s analytics`, async () => {
      await migrate()
      types ??= await readColumnTypes(client)
      if (!registered) {
        // The fence inside ClickHouse: from this row on, a deposed owner's inserts insert nothing;
        // the ones it began before are over after the grace (max_execution_time), so the
        // watermarks read next are final for them.
        await scope.fence()
        await client.insert({
          table: "partition_writers",
          columns: ["stream_partition", "lease_stream_ns", "token", "writer", "claimed_at"],
          values: [[scope.partition, scope.writer.leaseStreamNs.toString(), scope.writer.token, scope.writer.name, toChTime(new Date().toISOString())]],
          format: "JSONCompactEachRow"
        })
        await new Promise((r) => setTimeout(r, scope.graceMs))
        registered = true
      }
      return readWatermarks(client, 0, scope.partition)
    }),
    eraseSeqs: (seqs) => chTry("erasing a user's rows", () => eraseSeqRows(client, seqs)),
    write: (records, throughSeq) => writePartitionRows(client, rowLogOf(records), records.length, throughSeq, scope, typesOf),
    writeRows: (rows, count, throughSeq) => writePartitionRows(client, rows, count, throughSeq, scope, typesOf)
  }
}
