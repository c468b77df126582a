// The per-partition snapshot store of partitioned mode (adapters/postgres/PartitionSnapshotStore.ts)
// on a real Postgres: each partition's checkpoint, chunks and archives are its own; a snapshot
// commits only under the token that holds the partition's fence, so a writer whose lease was taken
// over (a paused ex-owner) is refused — its write dies (no retry can cure it) and changes nothing.
// Tokens come with the lease stream that issued them (0011): a recreated lease stream's first claim
// resets the epoch and keeps the checkpoint, and the old stream's tokens are refused whatever their value.
import { Cause, Effect, Exit } from "effect"
import postgres from "postgres"
import { afterAll, beforeAll, expect, it } from "vitest"
import { ensureDatabase, openDb } from "../../src/adapters/postgres/Db.js"
import { migrate } from "../../src/adapters/postgres/Migrations.js"
import { claimPartition } from "../../src/adapters/postgres/PartitionFence.js"
import { makePartitionSnapshotStore } from "../../src/adapters/postgres/PartitionSnapshotStore.js"
import type { SnapshotWrite } from "../../src/ports/Snapshots.js"
import { freshNames } from "../support/arena.js"

const names = freshNames("pss")
/** The lease stream the tokens below come from (its creation time, as NATS reports it). */
const LEASES = "2026-12-07T01:00:00.5Z"
const t = (token: number, streamCreated = LEASES) => ({ token, streamCreated })
let sql: postgres.Sql
const run = <A, E>(e: Effect.Effect<A, E>) => Effect.runPromise(e)

beforeAll(async () => {
  await run(ensureDatabase(names.databaseUrl))
  await run(Effect.scoped(Effect.flatMap(openDb(names.databaseUrl), (db) => migrate(db))))
  sql = postgres(names.databaseUrl, { max: 4, onnotice: () => {} })
})

afterAll(async () => {
  await sql?.end()
  const admin = postgres(new URL("/postgres", names.databaseUrl).toString(), { max: 1, onnotice: () => {} })
  await admin.unsafe(`DROP DATABASE IF EXISTS ${names.database} WITH (FORCE)`)
  await admin.end()
})

const write = (seq: number, bytes: ReadonlyArray<number>, base: boolean): SnapshotWrite => ({
  checkpoint: { stream: "ARENA_XP", streamCreated: "2026-12-07T00:00:00Z", seq, streamTimeMs: seq * 1000, rulesVersion: "r1", users: 1, baseBytes: 3, deltaBytes: 0 },
  chunks: [new Uint8Array(bytes)],
  base,
  users: 1,
  archives: [{ board: "global", window: "day", period: "2026-12-06", closedAtSeq: seq, entries: [{ userId: "u1", username: "U", xp: 10, seq: 1, level: 1 }] }]
})

const chunksOf = async (store: ReturnType<typeof makePartitionSnapshotStore>): Promise<Array<Array<number>>> => {
  const out: Array<Array<number>> = []
  await run(store.loadChunks((b) => out.push([...b])))
  return out
}

it("each partition keeps its own snapshot; a write under a superseded token is refused and changes nothing", async () => {
  await run(claimPartition(sql, 3, t(10), "A"))
  await run(claimPartition(sql, 4, t(11), "A"))
  const a3 = makePartitionSnapshotStore(sql, 3, t(10))
  const a4 = makePartitionSnapshotStore(sql, 4, t(11))
  expect(await run(a3.readCheckpoint)).toBeNull()
  await run(a3.write(write(5, [1, 2, 3], true)))
  await run(a4.write(write(6, [9], true)))
  expect(await run(a3.readCheckpoint)).toMatchObject({ stream: "ARENA_XP", seq: 5, streamTimeMs: 5000, rulesVersion: "r1" })
  expect(await chunksOf(a3)).toEqual([[1, 2, 3]])
  expect(await chunksOf(a4)).toEqual([[9]])
  expect((await run(a3.readArchive("global", "day", "2026-12-06", 0, 10)))?.rows.map((r) => r.user_id)).toEqual(["u1"])

  // B takes partition 3 over with a higher token and resumes from A's last commit.
  const claimed = await run(claimPartition(sql, 3, t(20), "B"))
  expect(claimed).toMatchObject({ seq: 5, epoch: 20, owner: "B" })
  // A, paused past its lease, wakes and writes: refused (a defect: the pipeline stops), nothing changes.
  const late = await Effect.runPromiseExit(a3.write(write(9, [7, 7], false)))
  expect(Exit.isFailure(late) && Cause.pretty(late.cause)).toMatch(/partition 3: token 10 is fenced off by token 20/)
  expect(await run(a3.readCheckpoint)).toMatchObject({ seq: 5 })
  expect(await chunksOf(a3)).toEqual([[1, 2, 3]])
  // B's writes commit; a delta adds to the base, a base replaces it; partition 4 is untouched.
  const b3 = makePartitionSnapshotStore(sql, 3, t(20))
  await run(b3.write(write(12, [4], false)))
  expect(await chunksOf(b3)).toEqual([[1, 2, 3], [4]])
  await run(b3.write(write(15, [5], true)))
  expect(await chunksOf(b3)).toEqual([[5]])
  expect(await run(b3.readCheckpoint)).toMatchObject({ seq: 15 })
  expect(await chunksOf(a4)).toEqual([[9]])
  expect(await run(a4.readCheckpoint)).toMatchObject({ seq: 6 })
})

it("a recreated lease stream: its first claim resets the epoch and keeps the checkpoint; tokens of the old stream are refused whatever their value", async () => {
  const OLD = "2026-12-07T01:00:00.5Z"
  const NEW = "2026-12-07T02:30:00.000000001Z"
  await run(claimPartition(sql, 6, t(7562, OLD), "A"))
  const a6 = makePartitionSnapshotStore(sql, 6, t(7562, OLD))
  await run(a6.write(write(40, [6], true)))
  // Same stream, lower token: refused (the rule before 0011, unchanged within one stream).
  await expect(run(claimPartition(sql, 6, t(140, OLD), "B"))).rejects.toThrow(/partition 6: token 140 is fenced off by token 7562 \(both of the lease stream created 2026-12-07T01:00:00.5Z\)/)
  // The new lease stream's first claim, token 140 < 7562: the epoch is reset, the checkpoint kept.
  const claimed = await run(claimPartition(sql, 6, t(140, NEW), "B"))
  expect(claimed).toMatchObject({ epoch: 140, owner: "B", seq: 40, reset: { epoch: 7562, streamCreated: OLD } })
  const [row] = await sql`SELECT epoch, lease_stream_created, seq FROM arena_partition_checkpoint WHERE partition = 6`
  expect(row).toMatchObject({ epoch: "140", lease_stream_created: NEW, seq: "40" })
  // The deposed holder of the old stream: its write and a new claim with a higher token are refused.
  const late = await Effect.runPromiseExit(a6.write(write(41, [7], false)))
  expect(Exit.isFailure(late) && Cause.pretty(late.cause)).toMatch(/partition 6: token 7562 is fenced off by token 140 \(their lease streams were created 2026-12-07T01:00:00.5Z and 2026-12-07T02:30:00.000000001Z\)/)
  await expect(run(claimPartition(sql, 6, t(9_999, OLD), "A"))).rejects.toThrow(/older than the fence's/)
  expect(await chunksOf(a6)).toEqual([[6]])
  // Within the new stream tokens compare again: the next lease takes over, a lower one does not;
  // a second claim of the new stream is no reset.
  await expect(run(claimPartition(sql, 6, t(139, NEW), "C"))).rejects.toThrow(/must be higher/)
  expect(await run(claimPartition(sql, 6, t(141, NEW), "C"))).toMatchObject({ epoch: 141, reset: null })
  const b6 = makePartitionSnapshotStore(sql, 6, t(140, NEW))
  expect(Exit.isFailure(await Effect.runPromiseExit(b6.write(write(42, [8], false))))).toBe(true)
  const c6 = makePartitionSnapshotStore(sql, 6, t(141, NEW))
  await run(c6.write(write(42, [8], false)))
  expect(await chunksOf(c6)).toEqual([[6], [8]])
})

it("a fence claimed before its lease stream was recorded (0011): tokens compare, and the claim records the stream", async () => {
  await sql`INSERT INTO arena_partition_checkpoint (partition, epoch, owner) VALUES (7, 50, 'A')`
  await expect(run(claimPartition(sql, 7, t(49), "B"))).rejects.toThrow(/token 49 is fenced off by token 50/)
  expect(await run(claimPartition(sql, 7, t(51), "B"))).toMatchObject({ epoch: 51, reset: null })
  const [row] = await sql`SELECT lease_stream_created FROM arena_partition_checkpoint WHERE partition = 7`
  expect(row!.lease_stream_created).toBe(LEASES)
})

it("reads a partition's archive of a closed period by key (pages after a cursor, the rows before a key) and by member ids: its own rows only", async () => {
  const period = "2026-12-05"
  // The same period archived by two partitions: each its own users, ranked 1..n among them.
  const rows = (users: ReadonlyArray<readonly [string, number, number]>) => users.map(([userId, xp, seq]) => ({ userId, username: userId.toUpperCase(), xp, seq, level: 2 }))
  const archive = (seq: number, entries: ReturnType<typeof rows>): SnapshotWrite => ({ ...write(seq, [seq], true), archives: [{ board: "global", window: "day", period, closedAtSeq: seq, entries }] })
  await run(claimPartition(sql, 8, t(1), "A"))
  await run(claimPartition(sql, 9, t(1), "A"))
  const p8 = makePartitionSnapshotStore(sql, 8, t(1))
  const p9 = makePartitionSnapshotStore(sql, 9, t(1))
  await run(p8.write(archive(30, rows([["a", 50, 3], ["b", 40, 1], ["c", 40, 7], ["d", 10, 2]]))))
  await run(p9.write(archive(31, rows([["x", 45, 4], ["y", 40, 5]]))))
  const ids = (r: { rows: ReadonlyArray<{ rank: number; user_id: string }> } | null) => r?.rows.map((e) => [e.rank, e.user_id]) ?? null
  // After a key (a cursor of another partition's row: y's (40, 5) falls between b and c here).
  expect(ids(await run(p8.readArchiveByKey("global", "day", period, { after: null, limit: 2 })))).toEqual([[1, "a"], [2, "b"]])
  expect(ids(await run(p8.readArchiveByKey("global", "day", period, { after: { xp: 40, seq: 5 }, limit: 10 })))).toEqual([[3, "c"], [4, "d"]])
  expect(await run(p8.readArchiveByKey("global", "day", period, { after: { xp: 10, seq: 2 }, limit: 10 }))).toEqual({ entries: 4, rows: [] })
  // Before a key: the `limit` rows just better than it, in rank order.
  expect(ids(await run(p8.readArchiveByKey("global", "day", period, { before: { xp: 40, seq: 5 }, limit: 1 })))).toEqual([[2, "b"]])
  expect(ids(await run(p8.readArchiveByKey("global", "day", period, { before: { xp: 40, seq: 5 }, limit: 9 })))).toEqual([[1, "a"], [2, "b"]])
  expect(ids(await run(p8.readArchiveByKey("global", "day", period, { before: { xp: 50, seq: 3 }, limit: 9 })))).toEqual([])
  // By members: only this partition's rows; another period: never archived (null).
  expect(ids(await run(p9.readArchiveOf("global", "day", period, ["a", "y", "x"])))).toEqual([[1, "x"], [2, "y"]])
  expect(await run(p9.readArchiveByKey("global", "day", "2026-12-04", { after: null, limit: 1 }))).toBeNull()
  expect(await run(p9.readArchiveOf("global", "day", "2026-12-04", ["x"]))).toBeNull()
})
