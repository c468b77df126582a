// Partitioned mode (ARCHITECTURE §9, docs/scaling.md "ClickHouse in partitioned mode"): every
// processor writes the rows of the partitions it owns into ONE shared ClickHouse server
// (CLICKHOUSE_URL=http(s)://…; an embedded chDB locks its data directory to one process, so it
// cannot be shared). Per owned partition: the single process's sink (AnalyticsActor) over a
// partition store (ClickHouseAnalyticsStore.makePartitionAnalyticsStore): rows tagged with the
// partition, watermarks per partition, deduplication tokens naming it, and before every insert and
// before the progress row a fence check:
//   * the partition's lease is still valid locally (LeaseKeeper), and
//   * the Postgres fence row (arena_partition_checkpoint) still carries this owner's token and lease
//     stream (the row a new owner's claim takes over).
// So an owner that lost the partition writes no more rows and never moves its watermark. The
// watermark is max(through_seq) of the partition's progress rows: it never goes backwards.
// That check and the insert are two steps (ClickHouse has no transactions), so a writer paused
// (SIGSTOP) between them past its lease would still insert. Hence a second fence, inside
// ClickHouse: a new owner records itself in `partition_writers` (0006; ordered as Postgres orders
// claims: lease stream creation, then token) before it reads the watermarks, and every insert is
// `INSERT … SELECT … FROM input(…) WHERE <this owner is the partition's latest writer>` with a
// max_execution_time: a deposed owner's insert that runs after the new row inserts nothing, and one
// that began before is over (committed or aborted) when the new owner, after a grace longer than
// that limit, reads the watermarks.
import { Effect } from "effect"
import type { AnalyticsSink } from "../../ports/Analytics.js"
import type { AnalyticsStore } from "../../ports/AnalyticsStore.js"
import type { Sql } from "../postgres/Db.js"
import { createdNanos, currentFence } from "../postgres/PartitionFence.js"
import type { FenceToken } from "../postgres/PartitionFence.js"
import { makePartitionAnalyticsStore } from "./ClickHouseAnalyticsStore.js"
import { openClickHouse } from "./ClickHouseClient.js"
import type { ClickHouseHandle } from "./ClickHouseClient.js"
import { ClickHouseError } from "./ClickHouseError.js"
import { describeTarget, parseClickHouseTarget } from "./ClickHouseTarget.js"
import type { TargetConfig } from "./ClickHouseTarget.js"
import { migrateClickHouse } from "./Migrations.js"

/** pg_advisory_xact_lock key serializing ClickHouse migrations across processors ("arena-ch"). */
const MIGRATE_LOCK = 0x6172656e61_6368

export interface PartitionedClickHouse {
  readonly handle: ClickHouseHandle
  /** Migrations, once per process (retried after a failure), one processor at a time. */
  readonly migrate: () => Promise<void>
}

/**
 * The shared ClickHouse of partitioned mode, or null when CLICKHOUSE_URL names no server (unset or
 * chdb://…): then the processor keeps only what voids need (PartitionAwards), as before.
 */
export const openPartitionedClickHouse = (config: TargetConfig, sql: Sql, log: { info: (m: string) => void; warn: (m: string) => void }): PartitionedClickHouse | null => {
  const target = parseClickHouseTarget(config)
  if (target.kind !== "http") {
    log.warn(`partitioned mode: no ClickHouse analytics (CLICKHOUSE_URL is ${describeTarget(target)}; an embedded chDB belongs to one process — set CLICKHOUSE_URL=http(s)://… to a server the processors share)`)
    return null
  }
  const handle = openClickHouse(target)
  let done: Promise<void> | null = null
  const migrate = () => {
    done ??= (async () => {
      await handle.ensureDatabase()
      const applied = await sql.begin(async (tx) => {
        await tx`SELECT pg_advisory_xact_lock(${MIGRATE_LOCK})`
        return migrateClickHouse(handle.client)
      })
      if (applied.length > 0) log.info(`clickhouse migrations applied: ${applied.join(", ")}`)
    })().catch((e: unknown) => {
      done = null
      throw e
    })
    return done
  }
  log.info(`partitioned mode: analytics to the shared ClickHouse ${describeTarget(target)}`)
  return { handle, migrate }
}

export interface PartitionStoreOptions {
  readonly partition: number
  readonly sql: Sql
  readonly lease: FenceToken
  /** False once the lease is lost (LeaseKeeper's current() === null). */
  readonly leaseHeld: () => boolean
  /** This processor (partition_writers.writer). */
  readonly member: string
  /**
   * After registering as the partition's writer, the wait before reading its watermarks; each
   * insert's max_execution_time is a second less (at least 1 s).
   */
  readonly graceMs: number
  /** Told once when the fence first refuses a write, and when a recovery fails anew. */
  readonly warn?: (m: string) => void
  /** Told when the store first recovered (registered as the partition's writer). */
  readonly info?: (m: string) => void
}

/** The partition's ClickHouse store (the sink, AnalyticsActor, runs over it), writing only under the fence. */
export const makeFencedPartitionStore = (ch: PartitionedClickHouse, o: PartitionStoreOptions): AnalyticsStore => {
  let told = false
  const fenced = (why: string) => {
    const message = `partition ${o.partition}: not written to ClickHouse: ${why}`
    if (!told) { told = true; o.warn?.(message) }
    return new ClickHouseError({ reason: "config", retryable: false, message })
  }
  const fence = async () => {
    if (!o.leaseHeld()) throw fenced("the lease was lost")
    const f = await Effect.runPromise(Effect.result(currentFence(o.sql, o.partition)))
    if (f._tag === "Failure") throw new ClickHouseError({ reason: "connect", retryable: true, message: `partition ${o.partition}: the fence could not be read: ${f.failure.message}` })
    const now = f.success
    if (now === null || now.epoch !== o.lease.token || now.streamCreated !== o.lease.streamCreated) {
      throw fenced(`the fence now carries token ${now?.epoch ?? "none"} (this owner's is ${o.lease.token})`)
    }
  }
  const store = makePartitionAnalyticsStore(ch.handle, {
    partition: o.partition,
    fence,
    writer: { leaseStreamNs: createdNanos(o.lease.streamCreated) ?? 0n, token: o.lease.token, name: o.member },
    insertLimitS: Math.max(1, Math.floor(o.graceMs / 1000) - 1),
    graceMs: Math.max(o.graceMs, 2_000)
  }, ch.migrate)
  // What the sink's recoveries do, for the operator: the first success (registered as the partition's
  // writer, watermarks read) and each new failure.
  let recovered = false
  let lastFailure = ""
  return {
    ...store,
    recover: store.recover.pipe(
      Effect.tap((w) => Effect.sync(() => {
        if (!recovered) o.info?.(`partition ${o.partition}: ClickHouse writer with token ${o.lease.token}, watermark ${w.durableSeq}`)
        recovered = true
        lastFailure = ""
      })),
      Effect.tapError((e) => Effect.sync(() => {
        if (e.message !== lastFailure) o.warn?.(`partition ${o.partition}: ClickHouse recovery failed (retrying): ${e.message}`)
        lastFailure = e.message
      }))
    )
  }
}

/** Both sinks: the awards voids need (Postgres) and ClickHouse; durable when both are. */
export const bothSinks = (a: AnalyticsSink, b: AnalyticsSink): AnalyticsSink => ({
  submit: (records, throughSeq) => Effect.andThen(a.submit(records, throughSeq), b.submit(records, throughSeq)),
  awaitDurable: (seq) => Effect.andThen(b.awaitDurable(seq), a.awaitDurable(seq))
})
