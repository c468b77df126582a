// The event and dead-letter streams in partitioned mode on a real 3-node nats-server cluster
// (src/adapters/nats/Streams.ts, ARCHITECTURE §9 "R3 in production"): provisioned with 3 replicas
// (the files say R1, which single-process mode keeps), an R1 stream made earlier is scaled up in
// place and never down (a process that does not pass replicas, like `arena produce`, leaves R3 alone),
// and killing the node leading the event stream elects a new leader that acks publishes. With R1 the
// stream lived on one node, and killing it stopped every partition until the node came back
// (found by test/cluster/partitionedChaos.test.ts).
import { connect } from "@nats-io/transport-node"
import type { NatsConnection } from "@nats-io/transport-node"
import { jetstream, jetstreamManager } from "@nats-io/jetstream"
import type { JetStreamManager } from "@nats-io/jetstream"
import { Effect } from "effect"
import { afterAll, beforeAll, expect, it } from "vitest"
import { provisionStreams } from "../../src/adapters/nats/Streams.js"
import { freshNames, sleep } from "../support/arena.js"
import { testCluster } from "../support/natsCluster.js"

const cluster = testCluster({ partitions: 4 })
const names = freshNames("rep")
let nc: NatsConnection
let jsm: JetStreamManager

beforeAll(async () => {
  const r = await cluster.run("start")
  if (r.code !== 0) throw new Error(r.out)
  nc = await connect({ servers: [...cluster.urls], pingInterval: 500, maxPingOut: 2, maxReconnectAttempts: -1, reconnectTimeWait: 200 })
  jsm = await jetstreamManager(nc)
})

afterAll(async () => {
  await nc?.close()
  await cluster.destroy()
})

it("partitioned mode on a cluster: R3 event and DLQ streams, R1 scaled up in place (never down), a new leader after the leader node's kill -9", async () => {
  const base = { stream: names.stream, subjectPrefix: names.prefix, duplicateWindowMs: 120_000, partitions: 4 }
  // Made earlier with the files' R1 (a processor before this fix): scaled up in place.
  await Effect.runPromise(provisionStreams(jsm, base))
  expect((await jsm.streams.info(names.stream)).config.num_replicas).toBe(1)
  const lines = await Effect.runPromise(provisionStreams(jsm, { ...base, replicas: 3 }))
  expect(lines).toEqual([`stream ${names.stream}: updated (num_replicas 1 → 3)`, `stream ${names.dlqStream}: updated (num_replicas 1 → 3)`])
  for (const s of [names.stream, names.dlqStream]) expect((await jsm.streams.info(s)).config.num_replicas).toBe(3)
  // A process without replicas (`arena produce`) changing something else never scales it down.
  await Effect.runPromise(provisionStreams(jsm, { ...base, duplicateWindowMs: 60_000 }))
  expect((await jsm.streams.info(names.stream)).config.num_replicas).toBe(3)
  // Single-process mode keeps the files' R1 whatever it is told.
  const single = freshNames("rep1")
  await Effect.runPromise(provisionStreams(jsm, { stream: single.stream, subjectPrefix: single.prefix, duplicateWindowMs: 60_000, replicas: 3 }))
  expect((await jsm.streams.info(single.stream)).config.num_replicas).toBe(1)

  // kill -9 of the event stream's leader: the two others elect a new one, and a publish is acked.
  const js = jetstream(nc, { timeout: 3_000 })
  await js.publish(`${names.prefix}.p.0.u1`, "{}")
  let info = await jsm.streams.info(names.stream)
  // Both followers current first, so either may take over.
  for (const until = Date.now() + 30_000; info.cluster?.replicas?.length !== 2 || info.cluster.replicas.some((r) => !r.current);) {
    if (Date.now() > until) throw new Error(`the followers never became current: ${JSON.stringify(info.cluster)}`)
    await sleep(200)
    info = await jsm.streams.info(names.stream)
  }
  const leader = info.cluster!.leader!
  expect(leader).toMatch(/^n[123]$/)
  await cluster.kill9(Number(leader.slice(1)) as 1 | 2 | 3)
  let acked = 0
  let last = ""
  for (const until = Date.now() + 60_000; acked === 0;) {
    try { acked = (await js.publish(`${names.prefix}.p.1.u2`, "{}")).seq } catch (e) {
      last = String(e)
      if (Date.now() > until) throw new Error(`no publish acked within 60 s of ${leader}'s death; last error: ${last}`)
      await sleep(250)
    }
  }
  expect(acked).toBe(2)
  expect((await jsm.streams.info(names.stream)).cluster?.leader).not.toBe(leader)
}, 180_000)
