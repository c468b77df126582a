// The SnapshotStore port for one partition in partitioned mode (ARCHITECTURE §9), held with one
// fencing token: the checkpoint is the partition's row of arena_partition_checkpoint, chunks and
// archives are the partition's rows (0010), and every write runs inside commitFenced, so it
// commits only while the row still carries this token. A fenced write is not retried (it can never
// succeed): it dies, which fails the partition's pipeline, and the new owner's state stands.
import { Effect } from "effect"
import type { ArchivedBoard, Checkpoint, SnapshotStore, SnapshotWrite } from "../../ports/Snapshots.js"
import type { Sql } from "./Db.js"
import { commitFenced } from "./PartitionFence.js"
import { classifyPg } from "./PgError.js"

const CHUNK = 5_000

export const makePartitionSnapshotStore = (sql: Sql, partition: number, token: number): SnapshotStore => ({
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
      let chunks = 0
      let bytes = 0
      await sql<Array<{ data: Uint8Array }>>`SELECT data FROM arena_partition_chunk WHERE partition = ${partition} ORDER BY id`.cursor(16, (rows) => {
        for (const r of rows) { chunks++; bytes += r.data.length; onChunk(r.data) }
      })
      return { chunks, bytes }
    },
    catch: (e) => classifyPg(e, `loading partition ${partition}'s snapshot chunks`)
  }),
  loadLegacyUsers: () => Effect.succeed(0),
  write: (w: SnapshotWrite) => {
    const c = w.checkpoint
    return commitFenced(sql, partition, token, { seq: c.seq, streamTimeMs: c.streamTimeMs }, async (tx) => {
      if (w.base) await tx`DELETE FROM arena_partition_chunk WHERE partition = ${partition}`
      for (const chunk of w.chunks) {
        await tx`INSERT INTO arena_partition_chunk (partition, cut_seq, base, users, data)
          VALUES (${partition}, ${c.seq}, ${w.base}, ${w.users}, ${Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength)})`
      }
      for (const a of w.archives) {
        await tx`DELETE FROM arena_partition_period_archive WHERE partition = ${partition} AND board = ${a.board} AND win = ${a.window} AND period = ${a.period}`
        for (let i = 0; i < a.entries.length; i += CHUNK) {
          const part = a.entries.slice(i, i + CHUNK)
          await tx`
            INSERT INTO arena_partition_period_archive (partition, board, win, period, rank, user_id, username, xp, reached_seq, level)
            SELECT ${partition}, ${a.board}, ${a.window}, ${a.period}, * FROM unnest(
              ${part.map((_, j) => i + j + 1)}::int[], ${part.map((e) => e.userId)}::text[], ${part.map((e) => e.username)}::text[],
              ${part.map((e) => String(e.xp))}::bigint[], ${part.map((e) => String(e.seq))}::bigint[], ${part.map((e) => e.level)}::int[])`
        }
        await tx`
          INSERT INTO arena_partition_period_closed (partition, board, win, period, entries, closed_at_seq)
          VALUES (${partition}, ${a.board}, ${a.window}, ${a.period}, ${a.entries.length}, ${a.closedAtSeq})
          ON CONFLICT (partition, board, win, period) DO UPDATE SET entries = EXCLUDED.entries, closed_at_seq = EXCLUDED.closed_at_seq`
      }
      await tx`UPDATE arena_partition_checkpoint SET stream = ${c.stream}, stream_created = ${c.streamCreated}, rules_version = ${c.rulesVersion},
        users = ${c.users}, base_bytes = ${c.baseBytes}, delta_bytes = ${c.deltaBytes} WHERE partition = ${partition}`
    }).pipe(Effect.catchTag("Fenced", (f) => Effect.die(f)))
  },
  // The partition's own part of a closed period (merged archive reads are not built yet).
  readArchive: (board, window, period, offset, limit) => Effect.tryPromise({
    try: async (): Promise<ArchivedBoard | null> => {
      const closed = await sql<Array<{ entries: number }>>`SELECT entries FROM arena_partition_period_closed
        WHERE partition = ${partition} AND board = ${board} AND win = ${window} AND period = ${period}`
      if (closed[0] === undefined) return null
      const rows = await sql<Array<{ rank: number; user_id: string; username: string; xp: string; level: number; reached_seq: string }>>`
        SELECT rank, user_id, username, xp, level, reached_seq FROM arena_partition_period_archive
        WHERE partition = ${partition} AND board = ${board} AND win = ${window} AND period = ${period} AND rank > ${offset} ORDER BY rank LIMIT ${limit}`
      return { entries: closed[0].entries, rows: rows.map((r) => ({ ...r, xp: Number(r.xp), reached_seq: Number(r.reached_seq) })) }
    },
    catch: (e) => classifyPg(e, `reading partition ${partition}'s period archive`)
  }),
  // Group boards are not served in partitioned mode yet (docs/scaling.md): no closed group periods.
  readArchiveOf: () => Effect.succeed(null)
})
