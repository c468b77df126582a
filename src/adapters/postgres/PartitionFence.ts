// The Postgres side of a partition lease (ARCHITECTURE §9): the partition's checkpoint row holds
// the highest fencing token (lease revision) that claimed it. `claim` takes the row only with a
// higher token; `commit` runs a snapshot's writes in one transaction that first locks the row and
// checks the token, so a writer whose lease was taken over (paused past its TTL, partitioned away)
// is refused even if it still believes it holds the lease.
import { Data, Effect } from "effect"
import type postgres from "postgres"
import type { Sql } from "./Db.js"
import { classifyPg } from "./PgError.js"
import type { PgError } from "./PgError.js"

/** A write refused because a higher token owns the partition now. */
export class Fenced extends Data.TaggedError("Fenced")<{
  readonly partition: number
  readonly token: number
  readonly current: number | null
  readonly message: string
}> {}

export interface PartitionCheckpoint {
  readonly partition: number
  readonly epoch: number
  readonly owner: string
  readonly seq: number
  readonly streamTimeMs: number
}

export type TxSql = postgres.TransactionSql

const fenced = (partition: number, token: number, current: number | null) =>
  new Fenced({ partition, token, current, message: `partition ${partition}: token ${token} is fenced off${current === null ? "" : ` by token ${current}`}` })

/**
 * Claims `partition` for `owner` with `token`: succeeds only if every earlier claim had a lower
 * token. Returns the checkpoint to resume from (seq 0 for a partition never snapshotted).
 */
export const claimPartition = (sql: Sql, partition: number, token: number, owner: string): Effect.Effect<PartitionCheckpoint, Fenced | PgError> =>
  Effect.tryPromise({
    try: async () => {
      const rows = await sql<Array<{ epoch: string; seq: string; stream_time_ms: string }>>`
        INSERT INTO arena_partition_checkpoint (partition, epoch, owner) VALUES (${partition}, ${token}, ${owner})
        ON CONFLICT (partition) DO UPDATE SET epoch = EXCLUDED.epoch, owner = EXCLUDED.owner, taken_at = now()
          WHERE arena_partition_checkpoint.epoch < EXCLUDED.epoch
        RETURNING epoch, seq, stream_time_ms`
      return rows[0] ?? null
    },
    catch: (e) => classifyPg(e, `claiming partition ${partition}`)
  }).pipe(
    Effect.flatMap((row) => row === null
      ? currentEpoch(sql, partition).pipe(Effect.flatMap((cur) => Effect.fail(fenced(partition, token, cur))))
      : Effect.succeed({ partition, epoch: Number(row.epoch), owner, seq: Number(row.seq), streamTimeMs: Number(row.stream_time_ms) }))
  )

/** The token that owns `partition` now (null: never claimed). */
export const currentEpoch = (sql: Sql, partition: number): Effect.Effect<number | null, PgError> =>
  Effect.tryPromise({
    try: async () => {
      const rows = await sql<Array<{ epoch: string }>>`SELECT epoch FROM arena_partition_checkpoint WHERE partition = ${partition}`
      return rows[0] === undefined ? null : Number(rows[0].epoch)
    },
    catch: (e) => classifyPg(e, `reading partition ${partition}'s owner`)
  })

/**
 * Runs `writes` and advances the partition's checkpoint to `seq` in one transaction, only while
 * the row still carries `token` (the row is locked first, so a concurrent claim waits or wins).
 */
export const commitFenced = <A>(
  sql: Sql,
  partition: number,
  token: number,
  checkpoint: { readonly seq: number; readonly streamTimeMs: number },
  writes: (tx: TxSql) => Promise<A>
): Effect.Effect<A, Fenced | PgError> =>
  Effect.tryPromise({
    try: () =>
      sql.begin(async (tx) => {
        const rows = await tx<Array<{ epoch: string }>>`SELECT epoch FROM arena_partition_checkpoint WHERE partition = ${partition} FOR UPDATE`
        const current = rows[0] === undefined ? null : Number(rows[0].epoch)
        if (current !== token) return { fenced: current } as const
        const out = await writes(tx)
        await tx`UPDATE arena_partition_checkpoint SET seq = ${checkpoint.seq}, stream_time_ms = ${checkpoint.streamTimeMs}, committed_at = now()
          WHERE partition = ${partition}`
        return { ok: out } as const
      }),
    catch: (e) => classifyPg(e, `committing partition ${partition}`)
  }).pipe(
    Effect.flatMap((r) => ("fenced" in r ? Effect.fail(fenced(partition, token, r.fenced ?? null)) : Effect.succeed(r.ok as A)))
  )
