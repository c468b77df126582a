// The SnapshotStore port for one partition in partitioned mode (ARCHITECTURE §9), held with one
// fencing token and the lease stream that issued it: the checkpoint is the partition's row of
// arena_partition_checkpoint, chunks and archives are the partition's rows (0010), and every write
// runs inside commitFenced, so it commits only while the row still carries this token (0011: of
// this lease stream). The checkpoint names the event stream it describes (stream, stream_created):
// the pipeline refuses to resume it on a recreated event stream, as the single process does. A fenced write is not retried (it can never
// succeed): it dies, which fails the partition's pipeline, and the new owner's state stands.
import { Effect } from "effect"
import type { Checkpoint, SnapshotStore, SnapshotWrite } from "../../ports/Snapshots.js"
import type { Sql } from "./Db.js"
import { commitFenced } from "./PartitionFence.js"
import type { FenceToken } from "./PartitionFence.js"
import { partitionArchives, readArchived, writeArchives } from "./PeriodArchives.js"
import { classifyPg } from "./PgError.js"
import type { CopyColumn } from "./CopyBinary.js"
import { copyIn, copyOutFirst } from "./CopyBinary.js"

/** arena_partition_chunk (partition, cut_seq, base, users, data), as copyIn writes it. */
const PARTITION_CHUNK_COLUMNS: ReadonlyArray<CopyColumn> = ["int2", "int8", "bool", "int4", "bytea"]

export const makePartitionSnapshotStore = (sql: Sql, partition: number, token: FenceToken): SnapshotStore => ({
  readCheckpoint: Effect.tryPromise({
    try: async (): Promise<Checkpoint | null> => {
      const rows = await sql<Array<{ stream: string | null; stream_created: string | null; seq: string; stream_time_ms: string; rules_version: string | null; users: string; base_bytes: string; delta_bytes: string }>>`
        SELECT stream, stream_created, seq, stream_time_ms, rules_version, users, base_bytes, delta_bytes
        FROM arena_partition_checkpoint WHERE partition = ${partition}`
      const r = rows[0]
      if (r === undefined || r.stream === null) return null
      return {
        stream: r.stream, streamCreated: r.stream_created ?? "", seq: Number(r.seq), streamTimeMs: Number(r.stream_time_ms), rulesVersion: r.rules_version ?? "",
        users: Number(r.users), baseBytes: Number(r.base_bytes), deltaBytes: Number(r.delta_bytes)
      }
    },
    catch: (e) => classifyPg(e, `reading partition ${partition}'s checkpoint`)
  }),
  loadChunks: (onChunk) => Effect.tryPromise({
    try: async () => {
      // COPY runs as a simple query (no parameters): the partition is a checked integer.
      if (!Number.isInteger(partition) || partition < 0) throw new RangeError(`partition must be a non-negative integer, got ${partition}`)
      const read = await copyOutFirst(sql.unsafe(`COPY (SELECT data FROM arena_partition_chunk WHERE partition = ${partition} ORDER BY id) TO STDOUT (FORMAT binary)`), onChunk)
      return { chunks: read.rows, bytes: read.bytes }
    },
    catch: (e) => classifyPg(e, `loading partition ${partition}'s snapshot chunks`)
  }),
  loadLegacyUsers: () => Effect.succeed(0),
  write: (w: SnapshotWrite) => {
    const c = w.checkpoint
    return commitFenced(sql, partition, token, { seq: c.seq, streamTimeMs: c.streamTimeMs }, async (tx) => {
      if (w.base) await tx`DELETE FROM arena_partition_chunk WHERE partition = ${partition}`
      await copyIn(tx`COPY arena_partition_chunk (partition, cut_seq, base, users, data) FROM STDIN (FORMAT binary)`, PARTITION_CHUNK_COLUMNS,
        w.chunks.map((chunk) => [partition, c.seq, w.base, w.users, chunk]))
      await writeArchives(tx, partitionArchives(partition), w.archives)
      await tx`UPDATE arena_partition_checkpoint SET stream = ${c.stream}, stream_created = ${c.streamCreated}, rules_version = ${c.rulesVersion},
        users = ${c.users}, base_bytes = ${c.baseBytes}, delta_bytes = ${c.deltaBytes} WHERE partition = ${partition}`
    }).pipe(Effect.catchTag("Fenced", (f) => Effect.die(f)))
  },
  // The partition's own part of a closed period: the gateway merges the parts of every partition
  // (actors/PartitionReads.ts answers them, adapters/nats/MergedReads.ts merges).
  readArchive: (board, window, period, offset, limit) =>
    readArchived(sql, partitionArchives(partition), `reading partition ${partition}'s period archive`, board, window, period, { offset, limit }),
  // A closed group board's part: this partition's members' rows of the global archive.
  readArchiveOf: (board, window, period, userIds) =>
    readArchived(sql, partitionArchives(partition), `reading members' rows of partition ${partition}'s period archive`, board, window, period, { userIds }),
  readArchiveByKey: (board, window, period, read) =>
    readArchived(sql, partitionArchives(partition), `reading partition ${partition}'s period archive`, board, window, period, read)
})
