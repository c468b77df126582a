// ClickHouse analytics in partitioned mode (ARCHITECTURE §9 "ClickHouse watermarks per partition",
// §2 exactly once; docs/scaling.md) on a real 3-node nats-server cluster with P = 8. The shared
// ClickHouse is the STAND-IN (src/adapters/clickhouse/ClickHouseStandIn.ts: ClickHouse's HTTP
// interface over one embedded chDB, run in this test's process — not a ClickHouse server; this
// machine has none), reached by every processor through CLICKHOUSE_URL=http://….
// Processors A and B own the partitions; A is killed with -9 while events flow (its partitions are
// taken over once its leases expire, each continuing from its own ClickHouse watermark), C joins
// (handovers with final snapshots), B is SIGSTOPped past its lease and resumed (its partitions move;
// whatever it still holds must never reach ClickHouse). After quiescence the ClickHouse award rows
// equal the oracle's ledger exactly (no row twice, none missing), every row carries its user's
// partition, the rejections equal the oracle's, and every partition's watermark is at or past the
// last message of its users. The gateway serves the dashboards from the same ClickHouse.
import type { JetStreamClient, JetStreamManager } from "@nats-io/jetstream"
import type postgres from "postgres"
import { afterAll, beforeAll, expect, it } from "vitest"
import { readWatermarks } from "../../src/adapters/clickhouse/ClickHouseAnalyticsStore.js"
import type { ClickHouseHandle } from "../../src/adapters/clickhouse/ClickHouseClient.js"
import { ingestSubject, partitionOfUser } from "../../src/domain/Partition.js"
import { Oracle } from "../oracle/Oracle.js"
import { readStream } from "../oracle/stream.js"
import { makeWorkload } from "../oracle/workload.js"
import { sleep } from "../support/arena.js"
import { clusterClickHouse } from "../support/clusterClickHouse.js"
import { clusterWorld } from "../support/clusterWorld.js"
import { partitionedMembers } from "../support/partitionedMembers.js"

const P = 8
const world = clusterWorld("pa", { partitions: P })
const { cluster, id, databaseUrl: dbUrl, dataDir } = world

let ch: ClickHouseHandle
let js: JetStreamClient
let jsm: JetStreamManager
let sql: postgres.Sql
// Set in beforeAll (the stand-in's URL is known then); read by `start` when a member spawns.
const env: Record<string, string> = {}
const clickhouse = clusterClickHouse(dataDir, env)
const { procs, start, kill9 } = partitionedMembers({ cluster, partitions: P, databaseUrl: dbUrl, dataDir, env })

beforeAll(async () => {
  ;({ js, jsm, sql } = await world.up())
  ch = await clickhouse.start()
})

afterAll(async () => {
  for (const p of procs) await kill9(p)
  await clickhouse.stop()
  await world.down()
})

const publish = async (items: ReadonlyArray<{ readonly data: string | Uint8Array; readonly msgId: string | undefined }>): Promise<void> => {
  const pending = new Set<Promise<unknown>>()
  for (const it of items) {
    let user: unknown
    try { user = (JSON.parse(typeof it.data === "string" ? it.data : new TextDecoder().decode(it.data)) as { user_id?: unknown }).user_id } catch { continue }
    if (typeof user !== "string" || !/^[A-Za-z0-9._:@-]{1,128}$/.test(user)) continue
    const p = (async () => {
      for (let attempt = 0; ; attempt++) {
        try { return await js.publish(ingestSubject(user), it.data, it.msgId === undefined ? {} : { msgID: it.msgId }) } catch (e) {
          if (attempt > 20) throw e
          await sleep(100)
        }
      }
    })()
    pending.add(p)
    void p.finally(() => pending.delete(p))
    if (pending.size >= 200) await Promise.race(pending)
  }
  await Promise.all(pending)
}

const owners = async (): Promise<Map<number, { epoch: number; owner: string }>> =>
  new Map((await sql<Array<{ partition: number; epoch: string; owner: string }>>`SELECT partition, epoch, owner FROM arena_partition_checkpoint`)
    .map((r) => [Number(r.partition), { epoch: Number(r.epoch), owner: r.owner }]))

const rows = async <T>(query: string): Promise<T[]> => (await ch.client.query({ query, format: "JSONEachRow" })).json<T>()

const logs = () => procs.map((p) => `--- ${p.name}:\n${p.log.slice(-2500)}`).join("\n")

it("P = 8, kill -9, a join and a SIGSTOP past the lease: ClickHouse holds every award of the oracle exactly once, each partition's watermark at its last seq", async () => {
  const a = await start("proc-a", "processor", 1)
  const b = await start("proc-b", "processor", 2)
  const gw = await start("gw", "gateway", 3)
  const items = makeWorkload({ events: 1800, users: 120, seed: 61, runId: id, nowMs: Date.now(), spanDays: 20 })
  const third = Math.floor(items.length / 3)
  const waitFor = async (what: string, ok: () => Promise<boolean>, ms = 60_000) => {
    const end = Date.now() + ms
    while (!(await ok().catch(() => false))) {
      if (Date.now() > end) throw new Error(`${what}: timed out\n${logs()}`)
      await sleep(250)
    }
  }
  await waitFor("every partition owned", async () => (await fetch(`http://127.0.0.1:${gw.port}/readyz`)).status === 200)
  await publish(items.slice(0, third))
  const before = await owners()
  const ofA = [...before].filter(([, e]) => e.owner === "proc-a").map(([k]) => k)
  expect(ofA.length).toBeGreaterThan(0)

  // kill -9 A while events flow; C joins.
  const flowing = publish(items.slice(third, 2 * third))
  await sleep(300)
  await kill9(a)
  await flowing
  const c = await start("proc-c", "processor", 1)
  await waitFor("C owns a partition", async () => [...(await owners()).values()].some((e) => e.owner === "proc-c"))

  // SIGSTOP B past its lease while events flow; its partitions move; then it resumes (fenced).
  const atStop = await owners()
  const ofB = [...atStop].filter(([, e]) => e.owner === "proc-b").map(([k]) => k)
  process.kill(b.child.pid!, "SIGSTOP")
  const stoppedAt = Date.now()
  await publish(items.slice(2 * third))
  await sleep(Math.max(0, 7_000 - (Date.now() - stoppedAt)))
  process.kill(b.child.pid!, "SIGCONT")

  // Quiescence: every partition's ClickHouse watermark at or past the last message of its users.
  const stored = await readStream(js, jsm, "ARENA_XP")
  const lastOf = new Map<number, number>()
  for (const m of stored) {
    if (m.subject!.endsWith(".$tick")) continue
    const k = Number(m.subject!.split(".")[3])
    lastOf.set(k, Math.max(lastOf.get(k) ?? 0, m.seq))
  }
  expect(lastOf.size).toBe(P)
  await waitFor("every partition's watermark at its last seq", async () => {
    for (let k = 0; k < P; k++) if ((await readWatermarks(ch.client, 0, k)).durableSeq < lastOf.get(k)!) return false
    const o = await owners()
    return ofB.every((k) => o.get(k)!.epoch > atStop.get(k)!.epoch) && [...o.values()].every((e) => e.owner !== "proc-a")
  }, 90_000)
  for (const k of ofA) expect((await owners()).get(k)!.epoch, `partition ${k} taken over`).toBeGreaterThan(before.get(k)!.epoch)
  expect(b.log).toMatch(/lease lost/)

  // The oracle over the stored stream.
  const oracle = new Oracle("arena.xp.corrections")
  for (const m of stored) oracle.apply(m)
  const expected = oracle.ledger.map((e) => ({ seq: e.seq, event_id: e.event_id, user_id: e.user_id, total_awarded: e.total_awarded })).sort((x, y) => x.seq - y.seq)
  expect(expected.length).toBeGreaterThan(1000)
  const got = (await rows<{ seq: number | string; event_id: string; user_id: string; total_awarded: number; stream_partition: number }>(
    "SELECT seq, event_id, user_id, total_awarded, stream_partition FROM awards ORDER BY seq, event_id"))
  // Exactly once: no seq twice, none missing, each with its oracle values.
  expect(got.length, "award rows (duplicates or losses)").toBe(expected.length)
  expect(got.map((r) => ({ seq: Number(r.seq), event_id: r.event_id, user_id: r.user_id, total_awarded: Number(r.total_awarded) }))).toEqual(expected)
  for (const r of got) expect(Number(r.stream_partition), `partition of ${r.user_id}`).toBe(partitionOfUser(r.user_id, P))
  // Rejections (bad events of the workload), once each, on their partition.
  const rej = await rows<{ seq: number | string; reason: string }>("SELECT seq, reason FROM rejections ORDER BY seq")
  expect(rej.map((r) => Number(r.seq))).toEqual([...oracle.rejections.keys()].sort((x, y) => x - y))
  // The rollups the dashboards read count each award once too.
  const [agents] = await rows<{ n: number | string }>("SELECT sum(events) AS n FROM agent_daily")
  expect(Number(agents?.n)).toBe(expected.length)
  // A watermark per partition: past its users' last message; no award above it.
  for (let k = 0; k < P; k++) {
    const w = await readWatermarks(ch.client, 0, k)
    expect(w.durableSeq).toBeGreaterThanOrEqual(lastOf.get(k)!)
    expect(w.maxSeq.award).toBeLessThanOrEqual(lastOf.get(k)!)
  }

  // The fence inside ClickHouse: each partition's latest registered writer is its owner in Postgres now.
  // (An owner registers when its sink first recovers: one that took a partition after the last event may still be on its way.)
  const writers = async () => (await rows<{ k: number; t: number | string; w: string }>(
    "SELECT stream_partition AS k, argMax(token, (lease_stream_ns, token)) AS t, argMax(writer, (lease_stream_ns, token)) AS w FROM partition_writers GROUP BY k ORDER BY k"))
    .map((r) => ({ k: Number(r.k), token: Number(r.t), writer: r.w }))
  const ownersNow = async () => [...(await owners())].sort(([x], [y]) => x - y).map(([k, e]) => ({ k, token: e.epoch, writer: e.owner }))
  // B, resumed and fenced, rejoins and gets its share back: partitions keep moving until B and C
  // own P/2 each, and a comparison taken while one moves races its handover (a failed CI run read
  // the writers, then the owners after two partitions had moved to B). Wait for the settled
  // assignment first; from then on nobody joins or leaves, so ownership stays put.
  await waitFor("the assignment settled: B and C own P/2 each", async () => {
    const n = (who: string, o: Map<number, { owner: string }>) => [...o.values()].filter((e) => e.owner === who).length
    const o = await owners()
    return n("proc-b", o) === P / 2 && n("proc-c", o) === P / 2
  })
  await waitFor("each partition's latest ClickHouse writer = its owner", async () => JSON.stringify(await writers()) === JSON.stringify(await ownersNow()), 30_000)
    .catch(async (e: unknown) => { throw new Error(`${JSON.stringify(await writers())} vs ${JSON.stringify(await ownersNow())}: ${String(e)}`) })
  expect(await writers()).toEqual(await ownersNow())
  const refused = procs.map((p) => (p.log.match(/not written to ClickHouse/g) ?? []).length).reduce((x, y) => x + y, 0)
  console.log(`partitionedAnalytics: ${got.length} award rows; writes refused by the fence check: ${refused}`)

  // The gateway serves the dashboards from the same ClickHouse.
  const list = await fetch(`http://127.0.0.1:${gw.port}/v1/analytics/dashboards`)
  expect(list.status).toBe(200)
  const dash = await fetch(`http://127.0.0.1:${gw.port}/v1/analytics/dashboards/agent_popularity?from=0&to=${Date.now() + 86_400_000 * 30}`)
  expect(dash.status, await dash.clone().text()).toBe(200)
  void c
}, 240_000)
