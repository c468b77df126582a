// Closed periods' archived rankings, written and read the same way in each table set that holds
// them: the live one (SnapshotStore), a partition's (PartitionSnapshotStore) and a pending
// projection's shadow (ProjectionStore). The sets differ only in their tables' names and in the
// key column a set is split by (partition, projection), which the live set does not have.
import { Effect } from "effect"
import type { ArchiveKeyRead, ArchivedBoard, PeriodArchive } from "../../ports/Snapshots.js"
import type { SqlOrTx } from "./Db.js"
import { classifyPg } from "./PgError.js"

/** Where one table set's archives are: its rows' and closed periods' tables, and its key column. */
export interface ArchiveTables {
  readonly archive: string
  readonly closed: string
  readonly key: { readonly column: "partition" | "projection"; readonly value: number } | null
}

export const liveArchives: ArchiveTables = { archive: "arena_period_archive", closed: "arena_period_closed", key: null }

export const partitionArchives = (partition: number): ArchiveTables =>
  ({ archive: "arena_partition_period_archive", closed: "arena_partition_period_closed", key: { column: "partition", value: partition } })

export const shadowArchives = (projection: number): ArchiveTables =>
  ({ archive: "arena_shadow_archive", closed: "arena_shadow_closed", key: { column: "projection", value: projection } })

const CHUNK = 5_000

/** The key column's pieces of a statement (empty for the live set): a condition, a column name, a value. */
const keyOf = (sql: SqlOrTx, t: ArchiveTables) =>
  t.key === null
    ? { where: sql``, column: sql``, value: sql`` }
    : { where: sql`${sql(t.key.column)} = ${t.key.value} AND`, column: sql`${sql(t.key.column)},`, value: sql`${t.key.value},` }

/**
 * Erasure (§11): deletes the user's rows of `t`'s archived rankings and re-ranks each period they
 * were in 1..n (its closed row's `entries` follows), inside the caller's transaction.
 */
export const dropArchivedUser = async (tx: SqlOrTx, t: ArchiveTables, userId: string): Promise<void> => {
  const key = keyOf(tx, t)
  const archive = tx(t.archive)
  const periods = await tx<{ board: string; win: string; period: string }[]>`
    DELETE FROM ${archive} WHERE ${key.where} user_id = ${userId} RETURNING board, win, period`
  for (const p of periods) {
    const where = tx`${key.where} board = ${p.board} AND win = ${p.win} AND period = ${p.period}`
    // Re-rank 1..n in two moves (negative first) so the (board, win, period, rank) key never collides.
    await tx`
      UPDATE ${archive} a SET rank = -r.n FROM (
        SELECT ctid AS row, row_number() OVER (ORDER BY rank) AS n FROM ${archive} WHERE ${where}) r
      WHERE a.ctid = r.row`
    await tx`UPDATE ${archive} SET rank = -rank WHERE ${where}`
    await tx`UPDATE ${tx(t.closed)} SET entries = (SELECT count(*) FROM ${archive} WHERE ${where}) WHERE ${where}`
  }
}

/** Writes each closed period's ranking and its closed row into `t`, inside the caller's transaction. */
export const writeArchives = async (tx: SqlOrTx, t: ArchiveTables, archives: ReadonlyArray<PeriodArchive>): Promise<void> => {
  const key = keyOf(tx, t)
  for (const a of archives) {
    // Closing is deterministic in stream time, so a replay re-archives the same rows: replace.
    await tx`DELETE FROM ${tx(t.archive)} WHERE ${key.where} board = ${a.board} AND win = ${a.window} AND period = ${a.period}`
    for (let i = 0; i < a.entries.length; i += CHUNK) {
      const part = a.entries.slice(i, i + CHUNK)
      await tx`
        INSERT INTO ${tx(t.archive)} (${key.column} board, win, period, rank, user_id, username, xp, reached_seq, level)
        SELECT ${key.value} ${a.board}, ${a.window}, ${a.period}, * FROM unnest(
          ${part.map((_, j) => i + j + 1)}::int[], ${part.map((e) => e.userId)}::text[], ${part.map((e) => e.username)}::text[],
          ${part.map((e) => String(e.xp))}::bigint[], ${part.map((e) => String(e.seq))}::bigint[], ${part.map((e) => e.level)}::int[])`
    }
    await tx`
      INSERT INTO ${tx(t.closed)} (${key.column} board, win, period, entries, closed_at_seq)
      VALUES (${key.value} ${a.board}, ${a.window}, ${a.period}, ${a.entries.length}, ${a.closedAtSeq})
      ON CONFLICT (${key.column} board, win, period) DO UPDATE SET entries = EXCLUDED.entries, closed_at_seq = EXCLUDED.closed_at_seq`
  }
}

/** Which rows of an archived period to read: a page by rank, the rows of some users, or rows by key. */
export type ArchiveRead = { readonly offset: number; readonly limit: number } | { readonly userIds: ReadonlyArray<string> } | ArchiveKeyRead

type ArchiveRow = { rank: number; user_id: string; username: string; xp: string; level: number; reached_seq: string }

/**
 * A closed period's archived rows from `t`, in rank order (null if that period was never
 * archived): a page by rank or by key, whose `entries` is the period's size, or some users' rows
 * (one statement, the period's rows filtered by id), whose `entries` is how many of them the period
 * holds. Rank order is §4's order (xp desc, then the lower seq), so the rows after a key are a run
 * of ranks: read in rank order up to the first `limit` past the key (before it: in reverse), one
 * statement over the (board, window, period, rank) key, O(rank of the key) rows visited.
 */
export const readArchived = (sql: SqlOrTx, t: ArchiveTables, what: string, board: string, window: string, period: string, read: ArchiveRead) =>
  Effect.tryPromise({
    try: async (): Promise<ArchivedBoard | null> => {
      const key = keyOf(sql, t)
      const closed = await sql<Array<{ entries: number }>>`
        SELECT entries FROM ${sql(t.closed)} WHERE ${key.where} board = ${board} AND win = ${window} AND period = ${period}`
      if (closed[0] === undefined) return null
      const which = "userIds" in read
        ? sql`user_id = ANY(${sql.array([...read.userIds])}::text[]) ORDER BY rank`
        : "offset" in read
        ? sql`rank > ${read.offset} ORDER BY rank LIMIT ${read.limit}`
        : "before" in read
        ? sql`(xp > ${read.before.xp} OR (xp = ${read.before.xp} AND reached_seq < ${read.before.seq})) ORDER BY rank DESC LIMIT ${read.limit}`
        : read.after === null
        ? sql`rank > 0 ORDER BY rank LIMIT ${read.limit}`
        : sql`(xp < ${read.after.xp} OR (xp = ${read.after.xp} AND reached_seq > ${read.after.seq})) ORDER BY rank LIMIT ${read.limit}`
      const none = ("userIds" in read && read.userIds.length === 0) || ("limit" in read && read.limit === 0)
      const rows = none ? [] : await sql<Array<ArchiveRow>>`
        SELECT rank, user_id, username, xp, level, reached_seq FROM ${sql(t.archive)}
        WHERE ${key.where} board = ${board} AND win = ${window} AND period = ${period} AND ${which}`
      if ("before" in read) rows.reverse()
      return {
        entries: "userIds" in read ? rows.length : closed[0].entries,
        rows: rows.map((r) => ({ ...r, xp: Number(r.xp), reached_seq: Number(r.reached_seq) }))
      }
    },
    catch: (e) => classifyPg(e, what)
  })
