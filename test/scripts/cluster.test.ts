// scripts/cluster.sh on the real nats-server (Debian's 2.9.10): it starts three clustered
// JetStream nodes with the partition() subject mapping, answers status truthfully, restarts a
// node killed by hand, refuses taken ports and a changed P with a sentence naming the fix, and
// stops every node it started.
import { connect } from "@nats-io/transport-node"
import { afterAll, expect, it } from "vitest"
import { alive } from "../support/procs.js"
import { testCluster } from "../support/natsCluster.js"

const cluster = testCluster({ clientPort: 4321, partitions: 8 })
afterAll(() => cluster.destroy())

it("status says down before start", async () => {
  const r = await cluster.run("status")
  expect(r.code).toBe(1)
  expect(r.out).toContain("cluster down: 0 of 3 nodes healthy")
})

it("start brings up three healthy nodes with a JetStream meta leader and prints NATS_URL", async () => {
  const r = await cluster.run("start")
  expect(r.code, r.out).toBe(0)
  expect(r.out).toContain(`export NATS_URL=${cluster.urls.join(",")}`)
  const s = await cluster.run("status")
  expect(s.code, s.out).toBe(0)
  expect(s.out).toMatch(/cluster up: P = 8/)
  expect(s.out.match(/healthy, meta leader n[123]/g)).toHaveLength(3)
  const again = await cluster.run("start")
  expect(again.code).toBe(0)
  expect(again.out).toContain("the cluster already runs")
})

it("maps arena.xp.events.<token> onto arena.xp.p.<partition>.<token> across routes", async () => {
  // Published on node 1, received on node 3: the mapping is applied where the message enters.
  const pub = await connect({ servers: cluster.url(1) })
  const sub = await connect({ servers: cluster.url(3) })
  try {
    const got: Array<string> = []
    const s = sub.subscribe("arena.xp.p.>", { callback: (_e, m) => { got.push(m.subject) } })
    await sub.flush()
    // Interest must have reached node 1 over the route before publishing (core NATS is at-most-once).
    const deadline = Date.now() + 10_000
    while (got.length === 0 && Date.now() < deadline) {
      pub.publish("arena.xp.events.probe", "")
      await pub.flush()
      await new Promise((r) => setTimeout(r, 100))
    }
    got.length = 0
    for (const t of ["alice", "bob=example:com", "carol~x"]) pub.publish(`arena.xp.events.${t}`, "")
    await pub.flush()
    while (got.length < 3 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50))
    s.unsubscribe()
    // FNV-1a 32 of the token mod 8, as nats-server 2.9.10 computes it (checked by hand once here;
    // test/cluster/partition.test.ts compares Arena's function with the server for many ids).
    expect(got).toEqual(["arena.xp.p.7.alice", "arena.xp.p.0.bob=example:com", "arena.xp.p.4.carol~x"])
  } finally {
    await pub.close()
    await sub.close()
  }
})

it("start restarts only a node that was killed, and it rejoins", async () => {
  const before = cluster.pid(2)
  await cluster.kill9(2)
  const s = await cluster.run("status")
  expect(s.code).toBe(1)
  expect(s.out).toMatch(/n2 .* not running/)
  const r = await cluster.run("start")
  expect(r.code, r.out).toBe(0)
  expect(r.out).toContain("starting 1 of 3 nodes")
  expect(cluster.pid(2)).not.toBe(before)
  expect((await cluster.run("status")).code).toBe(0)
})

it("a second cluster on the same ports is refused, naming the port and the settings to change", async () => {
  const other = testCluster({ clientPort: 4321, partitions: 8 })
  try {
    const r = await other.run("start")
    expect(r.code).not.toBe(0)
    expect(r.out).toMatch(/port 432[123] on 127\.0\.0\.1 is taken.*ARENA_CLUSTER_CLIENT_PORT/)
    expect(other.pid(1)).toBeNull()
  } finally {
    await other.run("clean")
  }
})

it("stop ends every node; start with another P is refused; clean removes the state", async () => {
  const pids = [cluster.pid(1), cluster.pid(2), cluster.pid(3)]
  expect(pids.every((p) => p !== null)).toBe(true)
  const r = await cluster.run("stop")
  expect(r.code, r.out).toBe(0)
  for (const p of pids) expect(alive(p!)).toBe(false)
  const s = await cluster.run("status")
  expect(s.code).toBe(1)
  const p4 = await cluster.run("start", { ARENA_PARTITIONS: "4" })
  expect(p4.code).not.toBe(0)
  expect(p4.out).toContain("was written with ARENA_PARTITIONS=8, not 4")
  const bad = await cluster.run("start", { ARENA_PARTITIONS: "eight" })
  expect(bad.code).not.toBe(0)
  expect(bad.out).toContain("ARENA_PARTITIONS must be an integer 1..1024, got 'eight'")
  const c = await cluster.run("clean")
  expect(c.code).toBe(0)
  expect(c.out).toContain(`removed ${cluster.dir}`)
})
