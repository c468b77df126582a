// Erasure records in Postgres (arena_erasure, sql/postgres/0008_erasures.sql), and the Postgres
// part of an erasure: the user's shares and their rows of archived period rankings (the ranks
// below them move up, so an archive stays 1..n). Snapshots are not touched here: the base
// snapshot that follows the erasure message replaces every chunk (actors/Pipeline.ts).
import { createHash, randomBytes } from "node:crypto"
import type { Sql } from "./Db.js"
import { dropArchivedUser, liveArchives, partitionArchives } from "./PeriodArchives.js"
import { RULES_LOCK_KEY } from "./RulesStore.js"
import type { ErasureRecord, ErasureStep, ErasureStore } from "../../ports/Erasures.js"

interface Row {
  id: string
  user_id: string | null
  step: string
  erase_seq: string | null
  stream_seqs: Array<string> | null
  letter_seqs: Array<string> | null
  messages_erased: number
  requester_hash: string
  requested_at: Date
  completed_at: Date | null
}

const toRecord = (r: Row): ErasureRecord => ({
  id: r.id,
  userId: r.user_id,
  step: r.step as ErasureStep,
  eraseSeq: r.erase_seq === null ? null : Number(r.erase_seq),
  streamSeqs: r.stream_seqs === null ? null : r.stream_seqs.map(Number),
  letterSeqs: r.letter_seqs === null ? null : r.letter_seqs.map(Number),
  messagesErased: r.messages_erased,
  requesterHash: r.requester_hash,
  requestedAt: r.requested_at.toISOString(),
  completedAt: r.completed_at === null ? null : r.completed_at.toISOString()
})

/** sha256 of "<erasure id>:<sub>" (hex): who asked, without naming them. */
export const requesterHash = (id: string, sub: string): string => createHash("sha256").update(`${id}:${sub}`).digest("hex")

/**
 * The erasure records, and the Postgres part of an erasure. `partition`: partitioned mode's owner
 * of partition k (ARCHITECTURE §9), whose scrub takes k's archives and award rows instead.
 */
export const makeErasureStore = (sql: Sql, partition?: number): ErasureStore => ({
  async create(userId, requesterSub) {
    const id = randomBytes(16).toString("base64url")
    const rows = await sql<Row[]>`
      INSERT INTO arena_erasure (id, user_id, step, requester_hash) VALUES (${id}, ${userId}, 'publish', ${requesterHash(id, requesterSub)})
      ON CONFLICT (user_id) WHERE step <> 'done' DO NOTHING
      RETURNING id, user_id, step, erase_seq, stream_seqs, letter_seqs, messages_erased, requester_hash, requested_at, completed_at`
    if (rows[0] !== undefined) return toRecord(rows[0])
    const running = await sql<Row[]>`SELECT id, user_id, step, erase_seq, stream_seqs, letter_seqs, messages_erased, requester_hash, requested_at, completed_at FROM arena_erasure WHERE user_id = ${userId} AND step <> 'done'`
    if (running[0] === undefined) throw new Error(`erasure of ${userId}: neither inserted nor running`)
    return toRecord(running[0])
  },

  async get(id) {
    const rows = await sql<Row[]>`SELECT id, user_id, step, erase_seq, stream_seqs, letter_seqs, messages_erased, requester_hash, requested_at, completed_at FROM arena_erasure WHERE id = ${id}`
    return rows[0] === undefined ? null : toRecord(rows[0])
  },

  askedBy: (r, sub) => requesterHash(r.id, sub) === r.requesterHash,

  async pending() {
    const rows = await sql<Row[]>`SELECT id, user_id, step, erase_seq, stream_seqs, letter_seqs, messages_erased, requester_hash, requested_at, completed_at FROM arena_erasure WHERE step <> 'done' ORDER BY requested_at, id`
    return rows.map(toRecord)
  },

  async advance(id, next, learned = {}) {
    await sql`
      UPDATE arena_erasure SET step = ${next},
        erase_seq = COALESCE(${learned.eraseSeq ?? null}::bigint, erase_seq),
        stream_seqs = COALESCE(${learned.streamSeqs === undefined ? null : learned.streamSeqs.map(String)}::bigint[], stream_seqs),
        letter_seqs = COALESCE(${learned.letterSeqs === undefined ? null : learned.letterSeqs.map(String)}::bigint[], letter_seqs)
      WHERE id = ${id} AND step <> 'done'`
  },

  async scrub(userId, beforeSeq) {
    await sql.begin(async (tx) => {
      await tx`DELETE FROM arena_shares WHERE owner = ${userId}`
      await dropArchivedUser(tx, partition === undefined ? liveArchives : partitionArchives(partition), userId)
      // Partitioned mode: what voids needed of the user's awards (0012), the ones before the erasure
      // message (a later one is of a new user with the same id).
      if (partition !== undefined) await tx`DELETE FROM arena_partition_award WHERE partition = ${partition} AND user_id = ${userId} AND seq < ${beforeSeq}`
    })
  },

  async enterStream(id, projection) {
    return sql.begin(async (tx) => {
      // The lock ProjectionStore.begin and switchTo take: no re-projection begins or switches in between.
      await tx`SELECT pg_advisory_xact_lock(${RULES_LOCK_KEY})`
      const open = await tx`SELECT projection FROM arena_reprojection WHERE state IN ('pending', 'built')`
      const current = (await tx<{ current: number }[]>`SELECT current FROM arena_projection WHERE id = 1`)[0]?.current ?? 0
      if (open.length > 0 || current !== projection) return false
      await tx`UPDATE arena_erasure SET step = 'stream' WHERE id = ${id} AND step = 'clickhouse'`
      return true
    })
  },

  async projections() {
    const current = (await sql<{ current: number }[]>`SELECT current FROM arena_projection WHERE id = 1`)[0]?.current ?? 0
    const open = (await sql`SELECT projection FROM arena_reprojection WHERE state IN ('pending', 'built')`).length > 0
    return { current, open }
  },

  async erasingSeqs() {
    const rows = await sql<{ seq: string }[]>`
      SELECT unnest(stream_seqs) AS seq FROM arena_erasure WHERE step <> 'done' AND stream_seqs IS NOT NULL
      UNION SELECT erase_seq AS seq FROM arena_erasure WHERE step <> 'done' AND erase_seq IS NOT NULL`
    return new Set(rows.map((r) => Number(r.seq)))
  },

  async complete(id, messagesErased) {
    await sql`
      UPDATE arena_erasure SET step = 'done', user_id = NULL, stream_seqs = NULL, letter_seqs = NULL, messages_erased = ${messagesErased}, completed_at = now()
      WHERE id = ${id}`
  }
})
