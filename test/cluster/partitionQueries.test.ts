// Scatter-gather board queries (src/adapters/nats/PartitionQueries.ts + domain/MergedBoard.ts) on
// a real 3-node nats-server 2.9.10 cluster from scripts/cluster.sh: 8 partitions answered by three
// owners on three different nodes; merged top-N, ranks, pages and around-me equal one board's
// answers; when an owner goes away, a query names exactly the partitions without an owner. The
// owners are subscriptions in this test process over their own connections (stand-ins for
// processors, which would answer from their partial boards).
import { connect } from "@nats-io/transport-node"
import type { NatsConnection, Subscription } from "@nats-io/transport-node"
import { Effect, Exit } from "effect"
import { afterAll, beforeAll, expect, it } from "vitest"
import { gather, servePartition } from "../../src/adapters/nats/PartitionQueries.js"
import type { PartAround, PartEntry, PartPage } from "../../src/domain/MergedBoard.js"
import { compareEntries, globalRank, mergeAround, mergePage, mergeTop } from "../../src/domain/MergedBoard.js"
import { partitionOfUser } from "../../src/domain/Partition.js"
import { testCluster } from "../support/natsCluster.js"

const P = 8
const PREFIX = `t${Math.random().toString(36).slice(2, 8)}`
const cluster = testCluster({ clientPort: 4361, partitions: P })
const conns: Array<NatsConnection> = []
const subs = new Map<number, Array<Subscription>>()

// One board: 600 users, many xp ties, distinct seqs; user ids with dots and @ like real ones.
const board: Array<PartEntry> = Array.from({ length: 600 }, (_, i) => ({ userId: i % 7 === 0 ? `u.${i}@x` : `u${i}`, xp: (i * 37) % 50, seq: 1 + ((i * 7919) % 100_000) }))
const global = [...board].sort(compareEntries)
const parts: Array<Array<PartEntry>> = Array.from({ length: P }, () => [])
for (const e of board) parts[partitionOfUser(e.userId, P)]!.push(e)
for (const p of parts) p.sort(compareEntries)

/** What a partition owner answers, from its sorted partial board. */
const handler = (k: number) => (op: string, body: unknown): unknown => {
  const q = parts[k]!
  const b = body as { n?: number; at?: PartEntry; limit?: number; r?: number }
  switch (op) {
    case "top": return q.slice(0, b.n)
    case "better": return q.filter((v) => compareEntries(v, b.at!) < 0).length
    case "page": return { entries: q.filter((v) => compareEntries(v, b.at!) > 0).slice(0, b.limit), throughCursor: q.filter((v) => compareEntries(v, b.at!) <= 0).length, size: q.length } satisfies PartPage
    case "around": {
      const better = q.filter((v) => compareEntries(v, b.at!) < 0)
      return { better: better.slice(Math.max(0, better.length - b.r!)), worse: q.filter((v) => compareEntries(v, b.at!) > 0).slice(0, b.r), betterCount: better.length } satisfies PartAround
    }
    default: throw new Error(`unknown op ${op}`)
  }
}

const ask = <A>(op: string, body: unknown) => Effect.runPromise(gather<A>(conns[0]!, PREFIX, P, op, body))

beforeAll(async () => {
  const r = await cluster.run("start")
  if (r.code !== 0) throw new Error(r.out)
  for (const i of [1, 2, 3] as const) conns.push(await connect({ servers: cluster.url(i) }))
  // Owner i (on node i+1) answers partitions k with k % 3 == i.
  for (let k = 0; k < P; k++) subs.set(k, [servePartition(conns[k % 3]!, PREFIX, k, handler(k))])
  await Promise.all(conns.map((c) => c.flush()))
  // Interest reaches every node over the routes: wait until a query finds all owners.
  const end = Date.now() + 30_000
  while ((await Effect.runPromiseExit(gather(conns[0]!, PREFIX, P, "top", { n: 1 }, 500)))._tag === "Failure") {
    if (Date.now() > end) throw new Error("owners' interest never reached node 1")
    await new Promise((r) => setTimeout(r, 100))
  }
})

afterAll(async () => {
  await Promise.all(conns.map((c) => c.close()))
  await cluster.destroy()
})

it("merged top-N over request/reply equals the single board's", async () => {
  for (const n of [1, 10, 100]) {
    const tops = await ask<Array<PartEntry>>("top", { n })
    expect(mergeTop(tops, n)).toEqual(global.slice(0, n).map((e, i) => ({ ...e, rank: i + 1 })))
  }
})

it("every 37th user's rank = 1 + Σ partitions' better counts = its single-board rank", async () => {
  for (let i = 0; i < global.length; i += 37) {
    expect(globalRank(await ask<number>("better", { at: global[i] }))).toBe(i + 1)
  }
})

it("keyset pages and around-me equal the single board's", async () => {
  const at = 250
  const page = mergePage(await ask<PartPage>("page", { at: global[at], limit: 20 }), 20)
  expect(page.total).toBe(global.length)
  expect(page.entries).toEqual(global.slice(at + 1, at + 21).map((e, i) => ({ ...e, rank: at + 2 + i })))
  const around = mergeAround(global[at]!, await ask<PartAround>("around", { at: global[at], r: 5 }), 5)
  expect(around).toEqual(global.slice(at - 5, at + 6).map((e, i) => ({ ...e, rank: at - 4 + i })))
})

it("an owner gone: the query fails naming exactly its partitions", async () => {
  for (let k = 0; k < P; k++) if (k % 3 === 2) for (const s of subs.get(k)!) s.unsubscribe()
  await conns[2]!.flush()
  const want = Array.from({ length: P }, (_, k) => k).filter((k) => k % 3 === 2)
  const end = Date.now() + 30_000
  for (;;) {
    const exit = await Effect.runPromiseExit(gather(conns[0]!, PREFIX, P, "top", { n: 1 }, 500))
    if (Exit.isFailure(exit)) {
      const e = exit.cause.toString()
      expect(e).toContain(`partitions ${want.join(", ")} of ${P} have no owner answering`)
      break
    }
    if (Date.now() > end) throw new Error("the unsubscribe never reached node 1")
    await new Promise((r) => setTimeout(r, 100))
  }
})
