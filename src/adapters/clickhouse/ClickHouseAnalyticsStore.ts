// The analytics sink's store on ClickHouse: per kind, one INSERT per month partition (one atomic
// part each, carrying a deterministic deduplication token), then a progress row; watermarks are
// read back from the tables themselves, after migrations and a rollup consistency check.
import { drainStream } from "@clickhouse/client"
import type { ClickHouseClient } from "@clickhouse/client"
import { Readable } from "node:stream"
import type { AnalyticsStore, EncodedRecord, Watermarks } from "../../ports/AnalyticsStore.js"
import type { AnalyticsRecord, RecordKind } from "../../ports/Analytics.js"
import { seqOf } from "../../ports/Analytics.js"
import { chTry } from "./ClickHouseClient.js"
import type { ClickHouseHandle } from "./ClickHouseClient.js"
import { migrateClickHouse } from "./Migrations.js"
import { repairRollups } from "./Rollups.js"
import { TABLES, monthOf, rowOf, streamTimeOf, toChTime } from "./Rows.js"

const KINDS: ReadonlyArray<RecordKind> = ["award", "level_up", "achievement", "rejection"]

/** One insert: records of one kind and one month, consecutive in seq order. */
export interface InsertBlock {
  readonly kind: RecordKind
  readonly month: number
  readonly firstSeq: number
  readonly lastSeq: number
  readonly records: EncodedRecord[]
}

/** A record as the sink buffers it: its month partition and its JSONCompactEachRow line. */
export const encodeRecord = (r: AnalyticsRecord): EncodedRecord => ({
  kind: r.kind,
  seq: seqOf(r),
  part: monthOf(streamTimeOf(r)),
  line: JSON.stringify(rowOf(r)) + "\n"
})

/** Splits seq-ordered records into per-kind, per-month runs (kind order, then seq order). */
export const blocksOf = (records: ReadonlyArray<EncodedRecord>): InsertBlock[] => {
  const out: InsertBlock[] = []
  for (const kind of KINDS) {
    let cur: { kind: RecordKind; month: number; firstSeq: number; lastSeq: number; records: EncodedRecord[] } | null = null
    for (const r of records) {
      if (r.kind !== kind) continue
      if (cur === null || cur.month !== r.part) {
        cur = { kind, month: r.part, firstSeq: r.seq, lastSeq: r.seq, records: [] }
        out.push(cur)
      }
      cur.lastSeq = r.seq
      cur.records.push(r)
    }
  }
  return out
}

const ROWS_PER_SLICE = 5000

/**
 * The block's JSONCompactEachRow text, joined a slice at a time with a turn of the event loop in
 * between (the rows were encoded when submitted; joining 50k of them in one go would still hold
 * the service's loop for tens of ms).
 */
const encodeBlock = (b: InsertBlock): Readable =>
  Readable.from((async function*() {
    for (let i = 0; i < b.records.length; i += ROWS_PER_SLICE) {
      if (i > 0) await new Promise<void>((resolve) => setImmediate(resolve))
      let text = ""
      const end = Math.min(b.records.length, i + ROWS_PER_SLICE)
      for (let j = i; j < end; j++) text += b.records[j]!.line
      yield text
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
    query: `INSERT INTO ${spec.table} (${spec.columns.join(", ")}) FORMAT JSONCompactEachRow`,
    values: encodeBlock(b),
    clickhouse_settings: {
      insert_deduplication_token: `${spec.table}:${b.firstSeq}-${b.lastSeq}:${b.records.length}`,
      deduplicate_blocks_in_dependent_materialized_views: 1
    }
  })
  await drainStream(r.stream)
}

export const readWatermarks = async (client: ClickHouseClient): Promise<Watermarks> => {
  const rs = await client.query({
    query: `SELECT (SELECT max(through_seq) FROM sink_progress) AS durable, (SELECT max(seq) FROM awards) AS award,
                   (SELECT max(seq) FROM level_ups) AS level_up, (SELECT max(seq) FROM achievements) AS achievement,
                   (SELECT max(seq) FROM rejections) AS rejection`,
    format: "JSONEachRow"
  })
  const [w] = await rs.json<Record<"durable" | RecordKind, number | string>>()
  if (w === undefined) throw new Error("watermark query returned no row")
  return {
    durableSeq: Number(w.durable),
    maxSeq: { award: Number(w.award), level_up: Number(w.level_up), achievement: Number(w.achievement), rejection: Number(w.rejection) }
  }
}

export const makeClickHouseAnalyticsStore = (h: ClickHouseHandle, log: (msg: string) => void = () => {}): AnalyticsStore => {
  let migrated = false
  const client = h.client
  return {
    encode: encodeRecord,
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
    write: (records, throughSeq) =>
      chTry("writing analytics records", async () => {
        for (const b of blocksOf(records)) await insertBlock(client, b)
        await client.insert({
          table: "sink_progress",
          columns: ["through_seq", "records", "written_at"],
          values: [[throughSeq, records.length, toChTime(new Date().toISOString())]],
          format: "JSONCompactEachRow"
        })
      })
  }
}
