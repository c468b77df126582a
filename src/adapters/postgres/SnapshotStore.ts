// The SnapshotStore port on Postgres: the checkpoint (last applied seq), the users as binary
// chunks (a base, then deltas), and closed periods' archives, all in ONE transaction per cut — a
// consistent cut or nothing.
import { Effect } from "effect"
import type { Sql } from "./Db.js"
import type { Checkpoint, SnapshotStore, SnapshotWrite } from "../../ports/Snapshots.js"
import { liveArchives, readArchived, writeArchives } from "./PeriodArchives.js"
import { PgError, classifyPg } from "./PgError.js"
import type { CopyColumn } from "./CopyBinary.js"
import { copyIn, copyOutFirst } from "./CopyBinary.js"

const CHUNK = 5_000
/** arena_snapshot_chunk (cut_seq, base, users, data), as copyIn writes it. */
const CHUNK_COLUMNS: ReadonlyArray<CopyColumn> = ["int8", "bool", "int4", "bytea"]

export const readCheckpoint = (sql: Sql) =>
  Effect.tryPromise({
    try: async (): Promise<Checkpoint | null> => {
      const rows = await sql<{ stream: string; stream_created: string; seq: string; stream_time_ms: string; rules_version: string; users: string; base_bytes: string; delta_bytes: string }[]>`
        SELECT stream, stream_created, seq, stream_time_ms, rules_version, users, base_bytes, delta_bytes FROM arena_checkpoint WHERE id = 1`
      const r = rows[0]
      if (r === undefined) return null
      return {
        stream: r.stream, streamCreated: r.stream_created, seq: Number(r.seq), streamTimeMs: Number(r.stream_time_ms), rulesVersion: r.rules_version,
        users: Number(r.users), baseBytes: Number(r.base_bytes), deltaBytes: Number(r.delta_bytes)
      }
    },
    catch: (e) => classifyPg(e, "reading the checkpoint")
  })

/** Every stored chunk in write order, as raw bytes (binary COPY, streamed: bounded memory; CopyBinary.ts). */
export const loadChunks = (sql: Sql, onChunk: (bytes: Uint8Array) => void) =>
  Effect.tryPromise({
    try: async () => {
      const read = await copyOutFirst(sql`COPY (SELECT data FROM arena_snapshot_chunk ORDER BY id) TO STDOUT (FORMAT binary)`, onChunk)
      return { chunks: read.rows, bytes: read.bytes }
    },
    catch: (e) => classifyPg(e, "loading snapshot chunks")
  })

/** Streams every pre-chunk user state JSON to `onChunk`, in batches (cursor: bounded memory). */
export const loadLegacyUsers = (sql: Sql, onChunk: (states: ReadonlyArray<string>) => void) =>
  Effect.tryPromise({
    try: async () => {
      let n = 0
      await sql<{ state: string }[]>`SELECT state FROM arena_user_state`.cursor(CHUNK, (rows) => {
        n += rows.length
        onChunk(rows.map((r) => r.state))
      })
      return n
    },
    catch: (e) => classifyPg(e, "loading user snapshots")
  })

export const writeSnapshot = (sql: Sql, w: SnapshotWrite) =>
  Effect.tryPromise({
    try: () =>
      sql.begin(async (tx) => {
        const c = w.checkpoint
        if (c.projection !== undefined) {
          // The fence of §10's switch: shares the projection row's lock with it, and refuses a
          // snapshot of a projection that is no longer current (an old pipeline's late write).
          const current = (await tx<{ current: number }[]>`SELECT current FROM arena_projection WHERE id = 1 FOR SHARE`)[0]?.current ?? 0
          if (current !== c.projection) {
            throw new PgError({ reason: "conflict", retryable: false, message: `snapshot of projection ${c.projection} refused: projection ${current} is current` })
          }
        }
        if (w.base) {
          // A base holds every user: what was stored before it (chunks, pre-chunk JSON rows) goes.
          await tx`DELETE FROM arena_snapshot_chunk`
          await tx`DELETE FROM arena_user_state`
        }
        await copyIn(tx`COPY arena_snapshot_chunk (cut_seq, base, users, data) FROM STDIN (FORMAT binary)`, CHUNK_COLUMNS,
          w.chunks.map((chunk) => [c.seq, w.base, w.users, chunk]))
        await writeArchives(tx, liveArchives, w.archives)
        await tx`
          INSERT INTO arena_checkpoint (id, stream, stream_created, seq, stream_time_ms, rules_version, users, base_bytes, delta_bytes, projection)
          VALUES (1, ${c.stream}, ${c.streamCreated}, ${c.seq}, ${c.streamTimeMs}, ${c.rulesVersion}, ${c.users}, ${c.baseBytes}, ${c.deltaBytes}, ${c.projection ?? 0})
          ON CONFLICT (id) DO UPDATE SET stream = EXCLUDED.stream, stream_created = EXCLUDED.stream_created, seq = EXCLUDED.seq,
            stream_time_ms = EXCLUDED.stream_time_ms, rules_version = EXCLUDED.rules_version, users = EXCLUDED.users,
            base_bytes = EXCLUDED.base_bytes, delta_bytes = EXCLUDED.delta_bytes, projection = EXCLUDED.projection, taken_at = now()`
      }),
    catch: (e) => (e instanceof PgError ? e : classifyPg(e, `writing snapshot at seq ${w.checkpoint.seq}`))
  })

/** A closed period's archived ranking page (null if that period was never archived). */
export const readArchive = (sql: Sql, board: string, window: string, period: string, offset: number, limit: number) =>
  readArchived(sql, liveArchives, "reading a period archive", board, window, period, { offset, limit })

/** The members' rows of an archived period, in rank order (one statement; the period's rows are filtered by id). */
export const readArchiveOf = (sql: Sql, board: string, window: string, period: string, userIds: ReadonlyArray<string>) =>
  readArchived(sql, liveArchives, "reading the members' rows of a period archive", board, window, period, { userIds })

/** The SnapshotStore port over one Postgres client. */
export const makeSnapshotStore = (sql: Sql): SnapshotStore => ({
  readCheckpoint: readCheckpoint(sql),
  loadChunks: (onChunk) => loadChunks(sql, onChunk),
  loadLegacyUsers: (onBatch) => loadLegacyUsers(sql, onBatch),
  write: (w) => writeSnapshot(sql, w),
  readArchive: (board, window, period, offset, limit) => readArchive(sql, board, window, period, offset, limit),
  readArchiveOf: (board, window, period, userIds) => readArchiveOf(sql, board, window, period, userIds),
  readArchiveByKey: (board, window, period, read) => readArchived(sql, liveArchives, "reading a period archive", board, window, period, read)
})
