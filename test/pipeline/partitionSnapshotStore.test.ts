// The per-partition snapshot store of partitioned mode (adapters/postgres/PartitionSnapshotStore.ts)
// on a real Postgres: each partition's checkpoint, chunks and archives are its own; a snapshot
// commits only under the token that holds the partition's fence, so a writer whose lease was taken
// over (a paused ex-owner) is refused — its write dies (no retry can cure it) and changes nothing.
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
  await run(claimPartition(sql, 3, 10, "A"))
  await run(claimPartition(sql, 4, 11, "A"))
  const a3 = makePartitionSnapshotStore(sql, 3, 10)
  const a4 = makePartitionSnapshotStore(sql, 4, 11)
  expect(await run(a3.readCheckpoint)).toBeNull()
  await run(a3.write(write(5, [1, 2, 3], true)))
  await run(a4.write(write(6, [9], true)))
  expect(await run(a3.readCheckpoint)).toMatchObject({ stream: "ARENA_XP", seq: 5, streamTimeMs: 5000, rulesVersion: "r1" })
  expect(await chunksOf(a3)).toEqual([[1, 2, 3]])
  expect(await chunksOf(a4)).toEqual([[9]])
  expect((await run(a3.readArchive("global", "day", "2026-12-06", 0, 10)))?.rows.map((r) => r.user_id)).toEqual(["u1"])

  // B takes partition 3 over with a higher token and resumes from A's last commit.
  const claimed = await run(claimPartition(sql, 3, 20, "B"))
  expect(claimed).toMatchObject({ seq: 5, epoch: 20, owner: "B" })
  // A, paused past its lease, wakes and writes: refused (a defect: the pipeline stops), nothing changes.
  const late = await Effect.runPromiseExit(a3.write(write(9, [7, 7], false)))
  expect(Exit.isFailure(late) && Cause.pretty(late.cause)).toMatch(/partition 3: token 10 is fenced off by token 20/)
  expect(await run(a3.readCheckpoint)).toMatchObject({ seq: 5 })
  expect(await chunksOf(a3)).toEqual([[1, 2, 3]])
  // B's writes commit; a delta adds to the base, a base replaces it; partition 4 is untouched.
  const b3 = makePartitionSnapshotStore(sql, 3, 20)
  await run(b3.write(write(12, [4], false)))
  expect(await chunksOf(b3)).toEqual([[1, 2, 3], [4]])
  await run(b3.write(write(15, [5], true)))
  expect(await chunksOf(b3)).toEqual([[5]])
  expect(await run(b3.readCheckpoint)).toMatchObject({ seq: 15 })
  expect(await chunksOf(a4)).toEqual([[9]])
  expect(await run(a4.readCheckpoint)).toMatchObject({ seq: 6 })
})
