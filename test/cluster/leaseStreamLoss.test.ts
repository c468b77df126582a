// The lease stream lost while Postgres keeps the partition fences (docs/scaling.md, "Fences and
// lost lease streams"; adapters/postgres/PartitionFence.ts, 0011): on a real 3-node nats-server
// cluster from scripts/cluster.sh with P = 4 and a real `arena serve --role processor`, the lease
// stream ARENA_LEASES is deleted and created again (a NATS cluster whose stores were wiped starts
// its sequences at 1 again) while the fences hold tokens far above anything the new stream issues.
// The processor claims every partition again promptly — the first claim from the newer lease
// stream resets the epoch, logged — and resumes each from its checkpoint, because the event stream
// its snapshot describes is still the same one; a deposed holder's token of the old stream is
// refused, at claim and at commit, whatever its value. Before 0011 every claim was refused ("token
// 140 is fenced off by token 7562") until the new stream's sequence passed the old one.
import { spawn } from "node:child_process"
import * as path from "node:path"
import type { JetStreamClient, JetStreamManager } from "@nats-io/jetstream"
import { Effect } from "effect"
import type postgres from "postgres"
import { afterAll, beforeAll, expect, it } from "vitest"
import { LEASE_PREFIX, LEASE_STREAM } from "../../src/PartitionedApp.js"
import { ensureStream } from "../../src/adapters/nats/ClusterOps.js"
import { leaseStreamConfig } from "../../src/adapters/nats/Leases.js"
import { claimPartition, commitFenced } from "../../src/adapters/postgres/PartitionFence.js"
import { partitionFilter } from "../../src/domain/Partition.js"
import { clusterWorld } from "../support/clusterWorld.js"
import { partitionedMembers } from "../support/partitionedMembers.js"

const ROOT = path.resolve(import.meta.dirname, "../..")
const P = 4
const TTL_MS = 3_000
const world = clusterWorld("ls", { partitions: P })
const { cluster, databaseUrl: dbUrl, dataDir } = world
const leaseConfig = leaseStreamConfig({ stream: LEASE_STREAM, prefix: LEASE_PREFIX, ttlMs: TTL_MS, replicas: 3 })
const run = <A, E>(e: Effect.Effect<A, E>) => Effect.runPromise(e)

const { procs, start } = partitionedMembers({ cluster, partitions: P, databaseUrl: dbUrl, dataDir, env: { ARENA_LEASE_TTL: `${TTL_MS}ms` } })
let js: JetStreamClient
let jsm: JetStreamManager
let sql: postgres.Sql

const waitFor = async <T>(what: string, f: () => Promise<T | null | undefined | false> | T | null | undefined | false, timeoutMs = 60_000): Promise<T> => {
  const end = Date.now() + timeoutMs
  for (;;) {
    const v = await f()
    if (v !== null && v !== undefined && v !== false) return v
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}; processor log tail:\n${procs.map((p) => p.log.slice(-3000)).join("\n")}`)
    await new Promise((r) => setTimeout(r, 100))
  }
}

const startProcessor = (name: string, node: 1 | 2 | 3) => start(name, "processor", node)

const produce = (count: number, seed: number) =>
  new Promise<{ code: number | null; out: string }>((resolve) => {
    const p = spawn(process.execPath, [path.join(ROOT, "bin/arena"), "produce", "--count", String(count), "--users", "20", "--seed", String(seed)], {
      cwd: ROOT, env: { ...process.env, NATS_URL: cluster.url(2), ARENA_PARTITIONS: String(P), ARENA_STREAM: "ARENA_XP", ARENA_SUBJECT_PREFIX: "arena.xp" }, stdio: ["ignore", "pipe", "pipe"]
    })
    let out = ""
    p.stdout.on("data", (d: Buffer) => (out += d.toString()))
    p.stderr.on("data", (d: Buffer) => (out += d.toString()))
    p.on("close", (code) => resolve({ code, out }))
  })

interface FenceRow { readonly partition: number; readonly epoch: number; readonly owner: string; readonly lease: string | null; readonly seq: number; readonly stream: string | null }
const fences = async (): Promise<Array<FenceRow>> =>
  (await sql<Array<{ partition: number; epoch: string; owner: string; lease_stream_created: string | null; seq: string; stream_created: string | null }>>`
    SELECT partition, epoch, owner, lease_stream_created, seq, stream_created FROM arena_partition_checkpoint ORDER BY partition`)
    .map((r) => ({ partition: r.partition, epoch: Number(r.epoch), owner: r.owner, lease: r.lease_stream_created, seq: Number(r.seq), stream: r.stream_created }))

beforeAll(async () => {
  ;({ js, jsm, sql } = await world.up())
})

afterAll(async () => {
  for (const p of procs) if (p.child.exitCode === null && p.child.signalCode === null) p.child.kill("SIGKILL")
  await world.down()
})

it("the lease stream deleted and recreated while Postgres keeps the fences: the processor claims every partition again with the epoch reset, resumes from the checkpoints, and the old stream's tokens are refused", async () => {
  // A long-lived lease stream: its sequence far above what a new stream issues for a while.
  await run(ensureStream(jsm, leaseConfig))
  const PAD = 600
  for (let i = 0; i < PAD; i += 100) {
    await Promise.all(Array.from({ length: 100 }, (_, j) => js.publish(`${LEASE_PREFIX}.pad.${i + j}`, "{}")))
  }
  const p1 = await startProcessor("p1", 1)
  const first = await produce(120, 3)
  expect(first.code, first.out).toBe(0)
  const oldLeases = (await jsm.streams.info(LEASE_STREAM)).created
  const xpCreated = (await jsm.streams.info("ARENA_XP")).created
  // Every partition claimed under the old lease stream and snapshotted (events and ticks applied).
  const before = await waitFor("every partition claimed and snapshotted", async () => {
    const rows = await fences()
    return rows.length === P && rows.every((r) => r.owner === "p1" && r.lease === oldLeases && r.seq > 0 && r.stream === xpCreated) ? rows : null
  })
  for (const r of before) expect(r.epoch).toBeGreaterThan(PAD)

  // The lease stream is lost and created again (empty, sequences from 1).
  const mark = p1.log.length
  await jsm.streams.delete(LEASE_STREAM)
  await run(ensureStream(jsm, leaseConfig)) // or finds the one the processor created again first
  const newLeases = (await jsm.streams.info(LEASE_STREAM)).created
  expect(newLeases).not.toBe(oldLeases)

  // Every partition claimed again under the new stream, with tokens lower than the old epochs.
  const after = await waitFor("every partition claimed under the new lease stream", async () => {
    const rows = await fences()
    return rows.every((r) => r.lease === newLeases && r.owner === "p1") ? rows : null
  })
  const newSeq = (await jsm.streams.info(LEASE_STREAM)).state.last_seq
  for (const [i, r] of after.entries()) {
    expect(r.epoch).toBeLessThan(before[i]!.epoch)
    expect(r.epoch).toBeLessThanOrEqual(newSeq)
    // The event stream is the one the snapshots describe: resumed, not rebuilt from seq 0.
    expect(r.seq).toBeGreaterThanOrEqual(before[i]!.seq)
    expect(r.stream).toBe(xpCreated)
  }
  const since = () => p1.log.slice(mark)
  await waitFor("a reset line for every partition", () => Array.from({ length: P }, (_, k) => k).every((k) =>
    new RegExp(`partition ${k}: fence reset: the lease stream was recreated \\(now created ${newLeases}, the fence's was created ${oldLeases}\\)`).test(since())))
  for (const r of before) expect(since()).toMatch(new RegExp(`partition ${r.partition}: fence reset: [^\\n]*; epoch ${r.epoch} of the old lease stream replaced by token \\d+`))
  expect(since()).not.toMatch(/fenced off/)

  // A deposed holder of the old stream, with its (higher) token: refused at claim and at commit.
  for (const r of before) {
    const deposed = { token: r.epoch, streamCreated: oldLeases }
    await expect(run(claimPartition(sql, r.partition, deposed, "deposed"))).rejects.toThrow(new RegExp(`partition ${r.partition}: token ${r.epoch} is fenced off by token \\d+ .*older than the fence's`))
    await expect(run(commitFenced(sql, r.partition, deposed, { seq: r.seq + 1_000, streamTimeMs: 0 }, async () => undefined))).rejects.toThrow(/fenced off/)
  }
  expect((await fences()).every((r) => r.lease === newLeases && r.owner === "p1")).toBe(true)

  // The processor keeps committing under the new stream: every partition's checkpoint moves on.
  const second = await produce(60, 4)
  expect(second.code, second.out).toBe(0)
  const lastOf = new Map<number, number>()
  for (let k = 0; k < P; k++) lastOf.set(k, (await jsm.streams.getMessage("ARENA_XP", { last_by_subj: partitionFilter(k) }).catch(() => null))?.seq ?? 0)
  await waitFor("every partition committed past the events sent after the reset", async () =>
    (await fences()).every((r) => r.seq >= lastOf.get(r.partition)! && r.seq > after[r.partition]!.seq))
  expect(since()).not.toMatch(/fenced off|Not retrying/)
})

it("a wiped NATS cluster (event and lease streams recreated): the new lease stream still resets the fences, but no partition replays a snapshot of the old event stream onto the new one; each refuses once, as the single process does", async () => {
  const p1 = procs.find((p) => p.name === "p1")!
  const exited = new Promise<void>((r) => p1.child.once("exit", () => r()))
  p1.child.kill("SIGKILL")
  await exited
  const before = await fences()
  const oldXp = before[0]!.stream!
  const chunksBefore = Number((await sql`SELECT count(*) AS n FROM arena_partition_chunk`)[0]!.n)
  expect(chunksBefore).toBeGreaterThan(0)
  await jsm.streams.delete("ARENA_XP")
  await jsm.streams.delete(LEASE_STREAM)
  // p2 creates both streams again, as it would on an empty cluster.
  const p2 = await startProcessor("p2", 3)
  const newXp = (await jsm.streams.info("ARENA_XP")).created
  expect(newXp).not.toBe(oldXp)
  const newLeases = (await jsm.streams.info(LEASE_STREAM)).created
  const refusal = (k: number) => new RegExp(`partition ${k}: the snapshot in Postgres belongs to stream ARENA_XP created ${oldXp}, but ARENA_XP was created ${newXp}: the stream was recreated\\..*Not retrying`, "g")
  // The fences are reset to the new lease stream (p2's claims are not refused for their low tokens)...
  await waitFor("every partition's fence reset and its snapshot refused", async () =>
    (await fences()).every((r) => r.lease === newLeases && r.owner === "p2") && Array.from({ length: P }, (_, k) => k).every((k) => refusal(k).test(p2.log)))
  // ...and the checkpoints and chunks stay those of the old event stream: nothing was replayed or overwritten.
  const after = await fences()
  for (const [i, r] of after.entries()) expect({ seq: r.seq, stream: r.stream }).toEqual({ seq: before[i]!.seq, stream: oldXp })
  expect(Number((await sql`SELECT count(*) AS n FROM arena_partition_chunk`)[0]!.n)).toBe(chunksBefore)
  expect(p2.log).not.toMatch(/caught up at seq|answering queries/)
  // Not retried (a retry would come within 100 ms, then 200, 400, ...): still one refusal per
  // partition after two more rounds of the coordinator's ticks into every partition (one a second).
  const ticksAt = (await jsm.streams.info("ARENA_XP")).state.last_seq
  await waitFor("two more rounds of ticks", async () => (await jsm.streams.info("ARENA_XP")).state.last_seq >= ticksAt + 2 * P)
  const stopped = new Promise<void>((r) => p2.child.once("exit", () => r()))
  p2.child.kill("SIGTERM")
  await stopped
  expect(p2.log).toMatch(/every partition handed over/)
  for (let k = 0; k < P; k++) expect(p2.log.match(refusal(k))?.length, p2.log.slice(-3000)).toBe(1)
  expect((await fences()).map((r) => r.epoch)).toEqual(after.map((r) => r.epoch))
})
