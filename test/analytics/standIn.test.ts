// The ClickHouse STAND-IN (src/adapters/clickhouse/ClickHouseStandIn.ts: ClickHouse's HTTP interface
// over one embedded chDB, for tests and scripts/cluster.sh — not a ClickHouse server) driven by
// @clickhouse/client through CLICKHOUSE_URL=http://…, and the partitioned store on it
// (makePartitionAnalyticsStore: rows and watermarks per stream partition, a fence before each write).
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { Effect, Exit, Scope } from "effect"
import { makeAnalyticsActor } from "../../src/actors/AnalyticsActor.js"
import { makeClickHouseAnalyticsStore, makePartitionAnalyticsStore, readWatermarks } from "../../src/adapters/clickhouse/ClickHouseAnalyticsStore.js"
import { openClickHouse } from "../../src/adapters/clickhouse/ClickHouseClient.js"
import type { ClickHouseHandle } from "../../src/adapters/clickhouse/ClickHouseClient.js"
import { ClickHouseError } from "../../src/adapters/clickhouse/ClickHouseError.js"
import { startClickHouseStandIn } from "../../src/adapters/clickhouse/ClickHouseStandIn.js"
import type { StandIn } from "../../src/adapters/clickhouse/ClickHouseStandIn.js"
import { parseClickHouseTarget } from "../../src/adapters/clickhouse/ClickHouseTarget.js"
import { migrateClickHouse } from "../../src/adapters/clickhouse/Migrations.js"
import type { AnalyticsStore } from "../../src/ports/AnalyticsStore.js"
import type { AnalyticsRecord } from "../../src/ports/Analytics.js"
import { seqOf } from "../../src/ports/Analytics.js"
import { expectedFingerprint, fingerprint, freshDir, generate, scalar } from "./records.js"

const migrate = (h: ClickHouseHandle) => () => migrateClickHouse(h.client).then(() => undefined)
const run = <A, E>(e: Effect.Effect<A, E>) => Effect.runPromise(e)

/** A sink over `store` in its own scope (close: flush what it can, then stop). */
const sinkOver = async (store: AnalyticsStore, options = {}) => {
  const scope = Effect.runSync(Scope.make())
  const sink = await run(makeAnalyticsActor(store, { flushIntervalMs: 50, ...options }).pipe(Scope.provide(scope)))
  return { sink, close: () => run(Scope.close(scope, Exit.void)) }
}

describe("ClickHouse stand-in (HTTP over one embedded chDB)", () => {
  let standIn: StandIn
  const opened: ClickHouseHandle[] = []
  const open = (database = "arena", password = "pw") => {
    const h = openClickHouse(parseClickHouseTarget({ clickhouseUrl: standIn.url, clickhouseDatabase: database, clickhouseUser: "arena", clickhousePassword: password }), { requestTimeoutMs: 30_000 })
    opened.push(h)
    return h
  }
  beforeAll(async () => {
    standIn = await startClickHouseStandIn({ path: freshDir("standin"), database: "arena", user: "arena", password: "pw" })
  })
  afterAll(async () => {
    for (const h of opened) await h.close().catch(() => {})
    await standIn?.close()
  })

  it("answers ping, queries with parameters, and errors as ClickHouse does (code, type, status)", async () => {
    const h = open()
    expect((await h.client.ping()).success).toBe(true)
    await h.ensureDatabase()
    const rs = await h.client.query({ query: "SELECT {a:UInt32} + 1 AS n, {s:String} AS s, length({xs:Array(UInt64)}) AS l", query_params: { a: 41, s: "it's", xs: [1, 2, 3] }, format: "JSONEachRow" })
    const [row] = await rs.json<{ n: number; s: string; l: number | string }>()
    expect({ ...row, l: Number(row?.l) }).toEqual({ n: 42, s: "it's", l: 3 })
    const err = await h.client.query({ query: "SELECT * FROM no_such_table", format: "JSONEachRow" }).then(() => null, (e: unknown) => e)
    expect(err).toMatchObject({ code: "60", type: "UNKNOWN_TABLE" })
    const bad = open("arena", "wrong")
    const denied = await bad.client.query({ query: "SELECT 1", format: "JSONEachRow" }).then(() => null, (e: unknown) => e)
    expect(denied).toMatchObject({ code: "516", type: "AUTHENTICATION_FAILED" })
  })

  it("runs the single process's sink through CLICKHOUSE_URL=http://… exactly once (migrations, RowBinary inserts, rollups)", async () => {
    const h = open()
    const g = generate(3000)
    const { sink, close } = await sinkOver(makeClickHouseAnalyticsStore(h))
    for (let s = 1; s <= g.lastSeq; s += 500) {
      const recs: AnalyticsRecord[] = []
      for (let q = s; q < s + 500; q++) recs.push(...g.bySeq[q]!)
      await run(sink.submit(recs, s + 499))
    }
    await run(sink.awaitDurable(g.lastSeq))
    await close()
    expect(await fingerprint(h)).toEqual(expectedFingerprint(g.all))
    expect(await scalar(h, "SELECT count() FROM awards WHERE stream_partition != -1")).toBe(0)
    // Migrations recorded once, 0006 included; a second run applies nothing.
    expect(await migrateClickHouse(h.client)).toEqual([])
    expect(await scalar(h, "SELECT count() FROM schema_migrations WHERE version = '0006'")).toBe(1)
  })

  it("partitioned stores: rows and watermarks per partition, replays dropped, a fenced writer writes nothing", async () => {
    const h = open()
    await run(Effect.promise(() => h.ensureDatabase()))
    // A fresh database: the stand-in serves one; the partitioned rows are told apart by stream_partition.
    for (const t of ["awards", "level_ups", "achievements", "rejections", "corrections", "sink_progress"]) await h.client.command({ query: `TRUNCATE TABLE IF EXISTS ${t}` })
    const g = generate(2000, 80, 11)
    const P = 3
    const partOf = (seq: number) => seq % P
    let fenced = false
    const stores = Array.from({ length: P }, (_, k) => makePartitionAnalyticsStore(h, {
      partition: k,
      fence: async () => {
        if (fenced && k === 2) throw new ClickHouseError({ reason: "config", retryable: false, message: `partition ${k}: fenced` })
      },
      writer: { leaseStreamNs: 1n, token: 1, name: "one" },
      insertLimitS: 1,
      graceMs: 100
    }, migrate(h)))
    const submitPart = async (sink: Awaited<ReturnType<typeof sinkOver>>["sink"], k: number, from: number, to: number) => {
      for (let s = from; s <= to; s += 250) {
        const end = Math.min(to, s + 249)
        const recs: AnalyticsRecord[] = []
        for (let q = s; q <= end; q++) if (partOf(q) === k) recs.push(...g.bySeq[q]!)
        await run(sink.submit(recs, end))
      }
    }
    // Partitions 0 and 1 to the end; partition 2 to 1200, then its owner "dies" and a new one replays from 700.
    const sinks = await Promise.all(stores.map((s) => sinkOver(s)))
    await submitPart(sinks[0]!.sink, 0, 1, g.lastSeq)
    await submitPart(sinks[1]!.sink, 1, 1, g.lastSeq)
    await submitPart(sinks[2]!.sink, 2, 1, 1200)
    for (const [k, s] of sinks.entries()) await run(s.sink.awaitDurable(k === 2 ? 1200 : g.lastSeq))
    for (const s of sinks) await s.close()
    const next = await sinkOver(stores[2]!, { shutdownFlushMs: 1000 })
    await submitPart(next.sink, 2, 700, 1800)
    await run(next.sink.awaitDurable(1800))
    // Fenced from here on: what it takes is never written, and its watermark stays at 1800.
    fenced = true
    await submitPart(next.sink, 2, 1801, g.lastSeq)
    await new Promise((r) => setTimeout(r, 500))
    expect(await run(next.sink.durableSeq)).toBe(1800)
    await run(Effect.promise(() => next.close()).pipe(Effect.timeout(40_000)))
    const w = await Promise.all([0, 1, 2].map((k) => readWatermarks(h.client, 0, k)))
    expect(w.map((x) => x.durableSeq)).toEqual([g.lastSeq, g.lastSeq, 1800])
    // Exactly the records of each partition through its watermark, none twice.
    const expected = g.all.filter((r) => partOf(seqOf(r)) !== 2 || seqOf(r) <= 1800)
    const awards = expected.filter((r) => r.kind === "award")
    expect(await scalar(h, "SELECT count() FROM awards")).toBe(awards.length)
    expect(await scalar(h, "SELECT count() FROM (SELECT seq, stream_partition FROM awards GROUP BY seq, stream_partition HAVING count() > 1)")).toBe(0)
    expect(await scalar(h, `SELECT count() FROM awards WHERE stream_partition != seq % ${P}`)).toBe(0)
    expect(await scalar(h, "SELECT count() FROM level_ups")).toBe(expected.filter((r) => r.kind === "level_up").length)
    expect(await scalar(h, "SELECT count() FROM rejections")).toBe(expected.filter((r) => r.kind === "rejection").length)
  }, 120_000)

  it("a deposed owner paused between its fence check and its insert inserts nothing: the new owner registered in partition_writers first", async () => {
    const h = open()
    const g = generate(400, 40, 23)
    const k = 5
    const recs = (from: number, to: number) => g.all.filter((r) => seqOf(r) >= from && seqOf(r) <= to)
    let gate: Promise<void> | null = null
    let paused: () => void = () => undefined
    const pausedAt = new Promise<void>((r) => (paused = r))
    const scope = (token: number, fence: () => Promise<void>) => ({ partition: k, fence, writer: { leaseStreamNs: 7n, token, name: `owner-${token}` }, insertLimitS: 1, graceMs: 2_000 })
    // A: its fence check passes, then it "stops" (SIGSTOP) until released.
    const a = makePartitionAnalyticsStore(h, scope(5, async () => { if (gate !== null) { paused(); await gate } }), migrate(h))
    await run(a.recover)
    await run(a.write(recs(1, 100).map((r) => a.encode(r)), 100))
    let release: () => void = () => undefined
    gate = new Promise<void>((r) => (release = r))
    const late = run(Effect.result(a.write(recs(101, 150).map((r) => a.encode(r)), 150)))
    await pausedAt
    // B takes over (token 6): registers, waits out A's possible inserts, reads the watermarks, writes 101..400.
    const b = makePartitionAnalyticsStore(h, scope(6, async () => {}), migrate(h))
    const w = await run(b.recover)
    expect(w.durableSeq).toBe(100)
    await run(b.write(recs(101, 400).map((r) => b.encode(r)), 400))
    // A wakes up and sends its insert of 101..150 (another block than B's): ClickHouse drops it.
    release()
    await late
    const mine = `stream_partition = ${k}`
    expect(await scalar(h, `SELECT count() FROM awards WHERE ${mine}`)).toBe(recs(1, 400).filter((r) => r.kind === "award").length)
    expect(await scalar(h, `SELECT count() FROM (SELECT seq FROM awards WHERE ${mine} GROUP BY seq HAVING count() > 1)`)).toBe(0)
    expect(await scalar(h, `SELECT max(through_seq) FROM sink_progress WHERE ${mine}`)).toBe(400)
    expect(await scalar(h, `SELECT count() FROM sink_progress WHERE ${mine} AND through_seq = 150`)).toBe(0)
  }, 60_000)
})
