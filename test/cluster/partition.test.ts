// Arena's partition function (src/domain/Partition.ts) agrees with nats-server's own
// `{{partition(P,1)}}` mapping, on a real 3-node 2.9.10 cluster started by scripts/cluster.sh:
// for thousands of user ids (dots, `@`, `:`, `-`, `_`, lengths 1..128) the subject the server
// produces is exactly `arena.xp.p.<partitionOfUser(id)>.<userToken(id)>`. P = 61 (a prime), so the
// check covers all 32 hash bits, not only the low ones a power of two keeps. Then the escaped
// tokens survive JetStream delivery over routes: per-partition ordered consumers on every node
// receive exactly their partition's records.
import { jetstream, jetstreamManager } from "@nats-io/jetstream"
import { connect } from "@nats-io/transport-node"
import { Effect } from "effect"
import { afterAll, beforeAll, expect, it } from "vitest"
import { ensureStream } from "../../src/adapters/nats/ClusterOps.js"
import { checkPartitionSubject, ingestSubject, partitionFilter, partitionOfUser, userToken } from "../../src/domain/Partition.js"
import { testCluster } from "../support/natsCluster.js"

const P = 61
const cluster = testCluster({ clientPort: 4331, partitions: P })

beforeAll(async () => {
  const r = await cluster.run("start")
  if (r.code !== 0) throw new Error(r.out)
})
afterAll(() => cluster.destroy())

/** Deterministic user ids over the whole user_id alphabet; every 5th has an @, every 3rd a dot. */
const userIds = (n: number): Array<string> => {
  const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._:@-"
  let x = 0x2545f491
  const next = () => { x ^= x << 13; x ^= x >>> 17; x ^= x << 5; return x >>> 0 }
  const out = new Set<string>(["a", "bob@example.com", "x.y.z", "@", ".", "user:1", "-_-"])
  while (out.size < n) {
    const len = 1 + (next() % (out.size % 10 === 0 ? 128 : 24))
    let s = ""
    for (let i = 0; i < len; i++) s += alphabet[next() % alphabet.length]
    if (out.size % 5 === 0) s += "@mail"
    if (out.size % 3 === 0) s = "u." + s
    out.add(s.slice(0, 128))
  }
  return [...out]
}

it("the server's partition() mapping equals partitionOfUser for 3,000 user ids", async () => {
  const ids = userIds(3000)
  const pub = await connect({ servers: cluster.url(1) })
  const sub = await connect({ servers: cluster.url(2) })
  try {
    const got: Array<string> = []
    const s = sub.subscribe("arena.xp.p.>", { callback: (_e, m) => { got.push(m.subject) } })
    await sub.flush()
    // Wait until node 1 knows node 2's interest (core NATS drops what has no interest yet).
    const deadline = Date.now() + 20_000
    while (got.length === 0 && Date.now() < deadline) {
      pub.publish("arena.xp.events.warmup", "")
      await pub.flush()
      await new Promise((r) => setTimeout(r, 100))
    }
    got.length = 0
    for (const id of ids) pub.publish(ingestSubject(id), "")
    await pub.flush()
    while (got.length < ids.length && Date.now() < deadline + 20_000) await new Promise((r) => setTimeout(r, 50))
    s.unsubscribe()
    // One publisher: core NATS keeps its order, so the lists compare element by element.
    expect(got).toEqual(ids.map((id) => `arena.xp.p.${partitionOfUser(id, P)}.${userToken(id)}`))
    // The mapping is not degenerate: most of the 61 partitions are hit.
    expect(new Set(ids.map((id) => partitionOfUser(id, P))).size).toBe(P)
  } finally {
    await pub.close()
    await sub.close()
  }
})

it("escaped tokens (no @ in a subject) are delivered over routes: each node's partition consumers get exactly their records", async () => {
  const ids = userIds(400)
  const nc = await connect({ servers: cluster.url(1) })
  try {
    const jsm = await jetstreamManager(nc)
    await Effect.runPromise(ensureStream(jsm, { name: "PART_TEST", subjects: ["arena.xp.p.>"], num_replicas: 3 }))
    const js = jetstream(nc)
    for (const [i, id] of ids.entries()) await js.publish(ingestSubject(id), JSON.stringify({ user_id: id }), { msgID: `e${i}` })
    const perPartition = new Map<number, Array<string>>()
    for (const id of ids) {
      const k = partitionOfUser(id, P)
      perPartition.set(k, [...(perPartition.get(k) ?? []), id])
    }
    // Clients on all three nodes, so deliveries cross routes whichever node leads the stream.
    const clients = await Promise.all(([1, 2, 3] as const).map((i) => connect({ servers: cluster.url(i) })))
    try {
      for (const [k, want] of perPartition) {
        const client = clients[k % 3]!
        const c = await jetstream(client).consumers.get("PART_TEST", { filter_subjects: partitionFilter(k) })
        const got: Array<string> = []
        while (got.length < want.length) {
          const m = await c.next({ expires: 5_000 })
          if (m === null) break
          const userId = (m.json() as { user_id: string }).user_id
          expect(checkPartitionSubject(m.subject, userId, P, k)).toEqual({ ok: true, partition: k })
          got.push(userId)
        }
        expect(got, `partition ${k} read on node ${(k % 3) + 1}`).toEqual(want)
      }
    } finally {
      await Promise.all(clients.map((c) => c.close()))
    }
  } finally {
    await nc.close()
  }
})
