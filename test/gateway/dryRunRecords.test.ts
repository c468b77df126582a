// Dry-run job records in Postgres (partitioned mode; src/adapters/postgres/DryRunStore.ts, table
// arena_dry_runs): two stores over one database act as two gateways. One job runs at a time across
// them; what one saves the other reads, the report's key order kept; a job no longer running is
// never set back; a running job silent for 30 s is failed by the next claim or read and no longer
// blocks; the last 16 are kept. And the DryRunJobs in front of them answer 503 when the records
// cannot be reached.
import { Effect } from "effect"
import postgres from "postgres"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { ensureDatabase } from "../../src/adapters/postgres/Db.js"
import { migrate } from "../../src/adapters/postgres/Migrations.js"
import { PostgresDryRunRecords, STALE_S } from "../../src/adapters/postgres/DryRunStore.js"
import { DryRunJobs } from "../../src/adapters/process/DryRunJobs.js"
import { DEFAULT_RULES_DOCUMENT } from "../../src/domain/DefaultRules.js"
import { DryRunRecordsUnavailable } from "../../src/ports/DryRuns.js"
import type { DryRunJobView } from "../../src/ports/DryRuns.js"
import { cleanup, freshNames } from "../support/arena.js"

const names = freshNames("drr")
let sql: postgres.Sql
let other: postgres.Sql

beforeAll(async () => {
  await Effect.runPromise(ensureDatabase(names.databaseUrl))
  sql = postgres(names.databaseUrl, { max: 2, onnotice: () => {} })
  other = postgres(names.databaseUrl, { max: 2, onnotice: () => {} })
  await Effect.runPromise(migrate(sql))
})
afterAll(async () => {
  await sql.end()
  await other.end()
  await cleanup(names)
})

let n = 0
const view = (over: Partial<DryRunJobView> = {}): DryRunJobView => ({
  job_id: `job${String(++n).padStart(9, "0")}`, status: "running", version: "v2", started_at: new Date(Date.UTC(2026, 11, 7, 20, 0, n)).toISOString(),
  finished_at: null, progress: null, result: null, error: null, ...over
})

describe("dry-run records in Postgres", () => {
  it("one running job across gateways; what one saves the other reads, key order kept; a finished job stays finished", async () => {
    const a = new PostgresDryRunRecords(sql)
    const b = new PostgresDryRunRecords(other)
    const j = view()
    expect(await a.claim(j)).toBeNull()
    expect(await b.claim(view())).toBe(j.job_id)
    expect(await b.get(j.job_id)).toEqual(j)
    const progress = { seq: 5, last_seq: 10, percent: 50, events_per_second: 100 }
    await a.save({ ...j, progress })
    expect((await b.get(j.job_id))!.progress).toEqual(progress)
    const result = { zeta: 1, alpha: { last_seq: 10, messages: 9 }, b: [1, "x", null] }
    const done = { ...j, status: "done" as const, finished_at: new Date().toISOString(), progress: { ...progress, seq: 10, percent: 100 }, result }
    await a.save(done)
    const read = await b.get(j.job_id)
    expect(read).toEqual(done)
    expect(JSON.stringify(read!.result)).toBe(JSON.stringify(result))
    // A late save of the running view does not set it back.
    await a.save({ ...j, progress })
    expect(await b.get(j.job_id)).toEqual(done)
    // The next job may start now, on either gateway.
    const k = view()
    expect(await b.claim(k)).toBeNull()
    await b.save({ ...k, status: "failed", finished_at: new Date().toISOString(), error: "boom" })
    expect(await a.get("nope")).toBeNull()
  })

  it("a running job silent for 30 s is failed by the next claim or read, and no longer blocks", async () => {
    const a = new PostgresDryRunRecords(sql)
    const j = view()
    expect(await a.claim(j)).toBeNull()
    await sql`UPDATE arena_dry_runs SET beat_at = now() - make_interval(secs => ${STALE_S - 5}) WHERE job_id = ${j.job_id}`
    expect((await a.get(j.job_id))!.status).toBe("running")
    expect(await a.claim(view())).toBe(j.job_id)
    await sql`UPDATE arena_dry_runs SET beat_at = now() - make_interval(secs => ${STALE_S + 1}) WHERE job_id = ${j.job_id}`
    const stale = await a.get(j.job_id)
    expect(stale).toMatchObject({ status: "failed", error: expect.stringContaining("stopped") as unknown })
    expect(stale!.finished_at).not.toBeNull()
    // Its gateway's late save changes nothing; a new job starts.
    await a.save({ ...j, status: "done", result: { x: 1 } })
    expect((await a.get(j.job_id))!.status).toBe("failed")
    const k = view()
    expect(await new PostgresDryRunRecords(other).claim(k)).toBeNull()
    await a.save({ ...k, status: "done", finished_at: new Date().toISOString(), result: {} })
  })

  it("keeps the last 16 jobs", async () => {
    const a = new PostgresDryRunRecords(sql)
    const ids: Array<string> = []
    for (let i = 0; i < 20; i++) {
      const j = view()
      expect(await a.claim(j)).toBeNull()
      await a.save({ ...j, status: "done", finished_at: new Date().toISOString(), result: { i } })
      ids.push(j.job_id)
    }
    // A claim prunes before its job ends: the newest 16 then, the one just finished among them.
    const rows = await sql<Array<{ count: string }>>`SELECT count(*)::text AS count FROM arena_dry_runs`
    expect(Number(rows[0]!.count)).toBe(16)
    expect(await a.get(ids[19]!)).toMatchObject({ status: "done", result: { i: 19 } })
    expect(await a.get(ids[3]!)).toBeNull()
    expect(a.kept).toMatch(/Postgres/)
  })

  it("DryRunJobs answers 503 when its records cannot be reached (and 400 first for invalid rules)", async () => {
    const down = {
      kept: "nowhere",
      claim: () => Promise.reject(new DryRunRecordsUnavailable({ message: "dry runs: claim: connection refused" })),
      save: () => Promise.resolve(),
      get: () => Promise.reject(new DryRunRecordsUnavailable({ message: "x" }))
    }
    const jobs = new DryRunJobs({ env: {}, log: () => {}, records: down })
    expect(await jobs.start({ ...DEFAULT_RULES_DOCUMENT, levels: [] })).toMatchObject({ ok: false, status: 400, code: "invalid_rules" })
    expect(await jobs.start({ ...DEFAULT_RULES_DOCUMENT, version: "v9" })).toMatchObject({ ok: false, status: 503, code: "unavailable", message: expect.stringContaining("connection refused") as unknown })
    await expect(jobs.get("abcdefghijkl")).rejects.toBeInstanceOf(DryRunRecordsUnavailable)
    await jobs.close()
  })
})

describe("dry-run records before the migrations", () => {
  it("a database no processor has migrated yet is unavailable (503 naming why), not a failure", async () => {
    const bare = freshNames("drrbare")
    await Effect.runPromise(ensureDatabase(bare.databaseUrl))
    const db = postgres(bare.databaseUrl, { max: 1, onnotice: () => {} })
    try {
      const e = await new PostgresDryRunRecords(db).get("job000000001").then(() => null, (x: unknown) => x)
      expect(e).toBeInstanceOf(DryRunRecordsUnavailable)
      expect((e as Error).message).toMatch(/arena_dry_runs.*does not exist: the database is not migrated yet \(`arena migrate`, or start a processor, which migrates\)/)
    } finally {
      await db.end()
      await cleanup(bare)
    }
  })
})
