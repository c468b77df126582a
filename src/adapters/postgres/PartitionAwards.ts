// Partitioned mode (ARCHITECTURE §9, §10): the analytics sink of one partition's pipeline keeps
// what a void needs of each award (its seq, user, agent, XP with bonuses, event time) in Postgres
// (arena_partition_award, 0012), since the ledger (ClickHouse) is not built in this mode. Awards
// wait in memory until awaitDurable, which the snapshotter calls before each commit, so every
// award at or below a partition's checkpoint is stored; a replay from the checkpoint writes the
// same rows again (deterministic, ON CONFLICT DO NOTHING). Every other record is dropped.
import { Effect } from "effect"
import type { VoidedAward } from "../../domain/Correction.js"
import type { AnalyticsRecord, AnalyticsSink } from "../../ports/Analytics.js"
import type { Sql } from "./Db.js"

export interface PartitionAwards extends AnalyticsSink {
  /** The award of `eventId` in this partition (not yet stored ones first), or null. */
  readonly awardOf: (eventId: string) => Promise<VoidedAward | null>
  /** Erasure: forgets the user's awards. */
  readonly forgetUser: (userId: string) => Promise<void>
}

const RETRY_MS = 500

export const makePartitionAwards = (sql: Sql, partition: number, warn: (m: string) => void): PartitionAwards => {
  const pending = new Map<string, VoidedAward>()
  const flush = Effect.tryPromise({
    try: async () => {
      if (pending.size === 0) return
      const batch = pending
      const rows = [...batch].map(([event_id, a]) => ({ partition, event_id, seq: a.seq, user_id: a.user_id, agent_name: a.agent_name, xp: a.xp, event_time: a.event_time }))
      for (let i = 0; i < rows.length; i += 1_000) {
        await sql`INSERT INTO arena_partition_award ${sql(rows.slice(i, i + 1_000))} ON CONFLICT (partition, event_id) DO NOTHING`
      }
      // Awards submitted while this ran stay pending for the next flush.
      for (const id of batch.keys()) if (pending.get(id) === batch.get(id)) pending.delete(id)
    },
    catch: (e) => e
  })
  return {
    submit: (records: ReadonlyArray<AnalyticsRecord>) => Effect.sync(() => {
      for (const r of records) {
        if (r.kind !== "award") continue
        const e = r.entry
        // The first award of an event_id in the partition is the one a void names (as the primary key keeps).
        if (!pending.has(e.event_id)) pending.set(e.event_id, { seq: e.seq, user_id: e.user_id, agent_name: e.agent_name, xp: e.total_awarded, event_time: e.event_time })
      }
    }),
    // Never fails: a snapshot waits until Postgres takes the awards (retried, with a warning).
    awaitDurable: () => Effect.gen(function*() {
      for (;;) {
        const r = yield* Effect.exit(flush)
        if (r._tag === "Success") return
        warn(`partition ${partition}: storing awards in Postgres failed (${String(r.cause)}); retrying in ${RETRY_MS} ms`)
        yield* Effect.sleep(RETRY_MS)
      }
    }),
    awardOf: async (eventId) => {
      const p = pending.get(eventId)
      if (p !== undefined) return p
      const rows = await sql<Array<{ seq: string; user_id: string; agent_name: string; xp: string; event_time: string }>>`
        SELECT seq, user_id, agent_name, xp, event_time FROM arena_partition_award WHERE partition = ${partition} AND event_id = ${eventId}`
      const r = rows[0]
      return r === undefined ? null : { seq: Number(r.seq), user_id: r.user_id, agent_name: r.agent_name, xp: Number(r.xp), event_time: r.event_time }
    },
    forgetUser: async (userId) => {
      for (const [id, a] of pending) if (a.user_id === userId) pending.delete(id)
      await sql`DELETE FROM arena_partition_award WHERE partition = ${partition} AND user_id = ${userId}`
    }
  }
}
