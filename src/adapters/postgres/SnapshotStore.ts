// The SnapshotStore port on Postgres: the checkpoint (last applied seq) and the users changed since the last
// snapshot, plus closed periods' archives, all in ONE transaction — a consistent cut or nothing.
import { Effect } from "effect"
import type { Sql } from "./Db.js"
import type { ArchivedBoard, Checkpoint, SnapshotStore, SnapshotWrite } from "../../ports/Snapshots.js"
import { classifyPg } from "./PgError.js"

const CHUNK = 5_000

export const readCheckpoint = (sql: Sql) =>
  Effect.tryPromise({
    try: async (): Promise<Checkpoint | null> => {
      const rows = await sql<{ stream: string; stream_created: string; seq: string; stream_time_ms: string; rules_version: string; users: string }[]>`
        SELECT stream, stream_created, seq, stream_time_ms, rules_version, users FROM arena_checkpoint WHERE id = 1`
      const r = rows[0]
      if (r === undefined) return null
      return { stream: r.stream, streamCreated: r.stream_created, seq: Number(r.seq), streamTimeMs: Number(r.stream_time_ms), rulesVersion: r.rules_version, users: Number(r.users) }
    },
    catch: (e) => classifyPg(e, "reading the checkpoint")
  })

/** Streams every stored user state JSON to `onChunk`, in chunks (cursor: bounded memory). */
export const loadUsers = (sql: Sql, onChunk: (states: ReadonlyArray<string>) => void) =>
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
        for (let i = 0; i < w.users.length; i += CHUNK) {
          // One JSON document per chunk with each state embedded verbatim (json keeps the text as
          // given): no per-element escaping, which made array parameters the snapshot's hot spot.
          const part = w.users.slice(i, i + CHUNK)
          const doc = "[" + part.map((u) => `{"i":${JSON.stringify(u.id)},"s":${u.json},"q":${u.seq}}`).join(",") + "]"
          await tx`
            INSERT INTO arena_user_state (user_id, state, seq)
            SELECT x.i, x.s::text, x.q FROM json_to_recordset(${doc}::text::json) AS x(i text, s json, q bigint)
            ON CONFLICT (user_id) DO UPDATE SET state = EXCLUDED.state, seq = EXCLUDED.seq`
        }
        for (const a of w.archives) {
          // Closing is deterministic in stream time, so a replay re-archives the same rows: replace.
          await tx`DELETE FROM arena_period_archive WHERE board = ${a.board} AND win = ${a.window} AND period = ${a.period}`
          for (let i = 0; i < a.entries.length; i += CHUNK) {
            const part = a.entries.slice(i, i + CHUNK)
            await tx`
              INSERT INTO arena_period_archive (board, win, period, rank, user_id, username, xp, reached_seq, level)
              SELECT ${a.board}, ${a.window}, ${a.period}, * FROM unnest(
                ${part.map((_, j) => i + j + 1)}::int[], ${part.map((e) => e.userId)}::text[], ${part.map((e) => e.username)}::text[],
                ${part.map((e) => String(e.xp))}::bigint[], ${part.map((e) => String(e.seq))}::bigint[], ${part.map((e) => e.level)}::int[])`
          }
          await tx`
            INSERT INTO arena_period_closed (board, win, period, entries, closed_at_seq)
            VALUES (${a.board}, ${a.window}, ${a.period}, ${a.entries.length}, ${a.closedAtSeq})
            ON CONFLICT (board, win, period) DO UPDATE SET entries = EXCLUDED.entries, closed_at_seq = EXCLUDED.closed_at_seq`
        }
        const c = w.checkpoint
        await tx`
          INSERT INTO arena_checkpoint (id, stream, stream_created, seq, stream_time_ms, rules_version, users)
          VALUES (1, ${c.stream}, ${c.streamCreated}, ${c.seq}, ${c.streamTimeMs}, ${c.rulesVersion}, (SELECT count(*) FROM arena_user_state))
          ON CONFLICT (id) DO UPDATE SET stream = EXCLUDED.stream, stream_created = EXCLUDED.stream_created, seq = EXCLUDED.seq,
            stream_time_ms = EXCLUDED.stream_time_ms, rules_version = EXCLUDED.rules_version, users = EXCLUDED.users, taken_at = now()`
      }),
    catch: (e) => classifyPg(e, `writing snapshot at seq ${w.checkpoint.seq}`)
  })

/** A closed period's archived ranking page (null if that period was never archived). */
export const readArchive = (sql: Sql, board: string, window: string, period: string, offset: number, limit: number) =>
  Effect.tryPromise({
    try: async (): Promise<ArchivedBoard | null> => {
      const closed = await sql<{ entries: number }[]>`SELECT entries FROM arena_period_closed WHERE board = ${board} AND win = ${window} AND period = ${period}`
      if (closed[0] === undefined) return null
      const rows = await sql<{ rank: number; user_id: string; username: string; xp: string; level: number; reached_seq: string }[]>`
        SELECT rank, user_id, username, xp, level, reached_seq FROM arena_period_archive
        WHERE board = ${board} AND win = ${window} AND period = ${period} AND rank > ${offset} ORDER BY rank LIMIT ${limit}`
      return { entries: closed[0].entries, rows: rows.map((r) => ({ ...r, xp: Number(r.xp), reached_seq: Number(r.reached_seq) })) }
    },
    catch: (e) => classifyPg(e, "reading a period archive")
  })

/** The SnapshotStore port over one Postgres client. */
export const makeSnapshotStore = (sql: Sql): SnapshotStore => ({
  readCheckpoint: readCheckpoint(sql),
  loadUsers: (onChunk) => loadUsers(sql, onChunk),
  write: (w) => writeSnapshot(sql, w),
  readArchive: (board, window, period, offset, limit) => readArchive(sql, board, window, period, offset, limit)
})
