// The Postgres side of a partition lease (ARCHITECTURE §9): the partition's checkpoint row holds
// the highest fencing token (lease revision) that claimed it. `claim` takes the row only with a
// higher token; `commit` runs a snapshot's writes in one transaction that first locks the row and
// checks the token, so a writer whose lease was taken over (paused past its TTL, partitioned away)
// is refused even if it still believes it holds the lease.
// Tokens are sequences of one lease stream, so the row also records which stream issued its token
// (its creation time, `lease_stream_created`, 0011) and `fenceRule` orders claims by stream first:
// a token of an older lease stream is refused whatever its value, the first claim from a newer one
// (the lease stream was lost and recreated) resets the epoch, and within one stream tokens compare.
// Whether the partition's snapshot is still valid is not the fence's question: the snapshot names
// the event stream it describes (`stream_created`), and the pipeline refuses one of another stream.
import { Data, Effect } from "effect"
import type postgres from "postgres"
import type { Sql } from "./Db.js"
import { classifyPg } from "./PgError.js"
import type { PgError } from "./PgError.js"

/** A write refused because a higher token (or a token of a newer lease stream) owns the partition now. */
export class Fenced extends Data.TaggedError("Fenced")<{
  readonly partition: number
  readonly token: number
  readonly current: number | null
  readonly message: string
}> {}

/** A lease token and the lease stream that issued it (its creation time, as NATS reports it). */
export interface FenceToken {
  readonly token: number
  readonly streamCreated: string
}

/** What a fence row holds: the epoch (token) and its lease stream (null: claimed before 0011). */
export interface FenceState {
  readonly epoch: number
  readonly streamCreated: string | null
}

export type FenceDecision =
  | { readonly _tag: "Take" }
  /** A newer lease stream's first claim: the epoch starts again from its token, whatever its value. */
  | { readonly _tag: "Reset"; readonly from: FenceState }
  | { readonly _tag: "Refuse"; readonly reason: string }

/**
 * A NATS creation time (RFC 3339 with up to nanoseconds, e.g. 2026-12-07T06:51:55.123456789Z) as
 * nanoseconds since the epoch, or null when it is not one. Strings do not order: "…55.1Z" > "…55.12Z".
 */
export const createdNanos = (created: string): bigint | null => {
  const m = /^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d{1,9}))?(Z|[+-]\d\d:\d\d)$/.exec(created)
  if (m === null) return null
  const ms = Date.parse(`${m[1]}${m[3]}`)
  if (Number.isNaN(ms)) return null
  return BigInt(ms) * 1_000_000n + BigInt((m[2] ?? "").padEnd(9, "0"))
}

/** Orders two lease streams by creation time: < 0 when `a` is older. Unreadable times throw. */
const compareStreams = (a: string, b: string): number => {
  if (a === b) return 0
  const x = createdNanos(a)
  const y = createdNanos(b)
  if (x === null || y === null) throw new Error(`lease stream creation time ${JSON.stringify(x === null ? a : b)} is not an RFC 3339 time`)
  return x < y ? -1 : x > y ? 1 : 0
}

/**
 * The fence rule: may `claim` take a fence that holds `current` (null: never claimed)?
 *  - same lease stream: only a higher token (a later lease of that stream);
 *  - an older lease stream: never (its tokens belong to a stream that is gone);
 *  - a newer lease stream: yes, and the epoch is reset to its token (only the newest stream can
 *    renew leases, so its holders are the live ones);
 *  - a fence from before 0011 (no stream recorded): tokens compare, and the claim records its stream.
 */
export const fenceRule = (current: FenceState | null, claim: FenceToken): FenceDecision => {
  if (current === null) return { _tag: "Take" }
  const byStream = current.streamCreated === null ? 0 : compareStreams(claim.streamCreated, current.streamCreated)
  if (byStream > 0) return { _tag: "Reset", from: current }
  if (byStream < 0) return { _tag: "Refuse", reason: `its lease stream (created ${claim.streamCreated}) is older than the fence's (created ${current.streamCreated})` }
  return claim.token > current.epoch ? { _tag: "Take" } : { _tag: "Refuse", reason: `a token of the same lease stream must be higher` }
}

export interface PartitionCheckpoint {
  readonly partition: number
  readonly epoch: number
  readonly owner: string
  readonly seq: number
  readonly streamTimeMs: number
  /** Set when this claim reset the epoch (the first claim from a newer lease stream): what the fence held before. */
  readonly reset: FenceState | null
}

export type TxSql = postgres.TransactionSql

/**
 * A fenced transaction holds the partition row's lock (FOR UPDATE) across several statements. A
 * writer paused between them (SIGSTOP, a VM stall: the ex-owner of §9) left its session idle in
 * the transaction, the lock held for as long as the pause lasted, and the new owner's claim waited
 * on it without a word: a partition never taken over (test/cluster/partitionedChaos.test.ts).
 * Postgres now ends such a session after this long idle in a fenced transaction (its commit fails
 * and is retried by whoever still owns the partition), and a claim waits at most CLAIM_LOCK_TIMEOUT_MS
 * for the row (then fails, logged and retried) instead of hanging.
 */
export const FENCE_IDLE_TIMEOUT_MS = 5_000
export const CLAIM_LOCK_TIMEOUT_MS = 10_000
const fenceTimeouts = async (tx: TxSql): Promise<void> => {
  await tx.unsafe(`SET LOCAL idle_in_transaction_session_timeout = ${FENCE_IDLE_TIMEOUT_MS}`)
  await tx.unsafe(`SET LOCAL lock_timeout = ${CLAIM_LOCK_TIMEOUT_MS}`)
}

const fenced = (partition: number, claim: FenceToken, current: FenceState | null, reason?: string) =>
  new Fenced({
    partition,
    token: claim.token,
    current: current?.epoch ?? null,
    message: `partition ${partition}: token ${claim.token} is fenced off` + (current === null
      ? ` (lease stream created ${claim.streamCreated}; the partition is not claimed)`
      : ` by token ${current.epoch} (` + (current.streamCreated === claim.streamCreated
        ? `both of the lease stream created ${claim.streamCreated}`
        : `their lease streams were created ${claim.streamCreated} and ${current.streamCreated ?? "before streams were recorded"}`) + ")") +
      (reason === undefined ? "" : `: ${reason}`)
  })

/**
 * Claims `partition` for `owner` with `claim` (a lease token and its lease stream), by fenceRule,
 * under the row's lock. Returns the checkpoint to resume from (seq 0 for a partition never
 * snapshotted), and `reset` when the claim reset the epoch.
 */
export const claimPartition = (sql: Sql, partition: number, claim: FenceToken, owner: string): Effect.Effect<PartitionCheckpoint, Fenced | PgError> =>
  Effect.tryPromise({
    try: () =>
      sql.begin(async (tx) => {
        await fenceTimeouts(tx)
        const inserted = await tx<Array<{ seq: string; stream_time_ms: string }>>`
          INSERT INTO arena_partition_checkpoint (partition, epoch, owner, lease_stream_created)
          VALUES (${partition}, ${claim.token}, ${owner}, ${claim.streamCreated})
          ON CONFLICT (partition) DO NOTHING
          RETURNING seq, stream_time_ms`
        if (inserted[0] !== undefined) return { taken: inserted[0], reset: null } as const
        const rows = await tx<Array<{ epoch: string; lease_stream_created: string | null }>>`
          SELECT epoch, lease_stream_created FROM arena_partition_checkpoint WHERE partition = ${partition} FOR UPDATE`
        const current: FenceState = { epoch: Number(rows[0]!.epoch), streamCreated: rows[0]!.lease_stream_created }
        const decision = fenceRule(current, claim)
        if (decision._tag === "Refuse") return { refused: current, reason: decision.reason } as const
        const updated = await tx<Array<{ seq: string; stream_time_ms: string }>>`
          UPDATE arena_partition_checkpoint SET epoch = ${claim.token}, lease_stream_created = ${claim.streamCreated}, owner = ${owner}, taken_at = now()
          WHERE partition = ${partition} RETURNING seq, stream_time_ms`
        return { taken: updated[0]!, reset: decision._tag === "Reset" ? decision.from : null } as const
      }),
    catch: (e) => classifyPg(e, `claiming partition ${partition}`)
  }).pipe(
    Effect.flatMap((r) => "refused" in r
      ? Effect.fail(fenced(partition, claim, r.refused ?? null, r.reason))
      : Effect.succeed<PartitionCheckpoint>({
        partition, epoch: claim.token, owner, seq: Number(r.taken.seq), streamTimeMs: Number(r.taken.stream_time_ms), reset: r.reset
      }))
  )

/** The token that owns `partition` now (null: never claimed). */
export const currentEpoch = (sql: Sql, partition: number): Effect.Effect<number | null, PgError> =>
  currentFence(sql, partition).pipe(Effect.map((f) => f?.epoch ?? null))

/** The token that owns `partition` now and its lease stream (null: never claimed). */
export const currentFence = (sql: Sql, partition: number): Effect.Effect<FenceState | null, PgError> =>
  Effect.tryPromise({
    try: async () => {
      const rows = await sql<Array<{ epoch: string; lease_stream_created: string | null }>>`
        SELECT epoch, lease_stream_created FROM arena_partition_checkpoint WHERE partition = ${partition}`
      return rows[0] === undefined ? null : { epoch: Number(rows[0].epoch), streamCreated: rows[0].lease_stream_created }
    },
    catch: (e) => classifyPg(e, `reading partition ${partition}'s owner`)
  })

/**
 * Runs `writes` and advances the partition's checkpoint to `seq` in one transaction, only while
 * the row still carries `claim` — its token and its lease stream (the row is locked first, so a
 * concurrent claim waits or wins).
 */
export const commitFenced = <A>(
  sql: Sql,
  partition: number,
  claim: FenceToken,
  checkpoint: { readonly seq: number; readonly streamTimeMs: number },
  writes: (tx: TxSql) => Promise<A>
): Effect.Effect<A, Fenced | PgError> =>
  Effect.tryPromise({
    try: () =>
      sql.begin(async (tx) => {
        await fenceTimeouts(tx)
        const rows = await tx<Array<{ epoch: string; lease_stream_created: string | null }>>`
          SELECT epoch, lease_stream_created FROM arena_partition_checkpoint WHERE partition = ${partition} FOR UPDATE`
        const current: FenceState | null = rows[0] === undefined ? null : { epoch: Number(rows[0].epoch), streamCreated: rows[0].lease_stream_created }
        if (current === null || current.epoch !== claim.token || current.streamCreated !== claim.streamCreated) return { fenced: current } as const
        const out = await writes(tx)
        await tx`UPDATE arena_partition_checkpoint SET seq = ${checkpoint.seq}, stream_time_ms = ${checkpoint.streamTimeMs}, committed_at = now()
          WHERE partition = ${partition}`
        return { ok: out } as const
      }),
    catch: (e) => classifyPg(e, `committing partition ${partition}`)
  }).pipe(
    Effect.flatMap((r) => ("fenced" in r ? Effect.fail(fenced(partition, claim, r.fenced ?? null)) : Effect.succeed(r.ok as A)))
  )
