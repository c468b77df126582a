// scripts/cluster.sh on the real nats-server (Debian's 2.9.10): it starts three clustered
// JetStream nodes with the partition() subject mapping, answers status truthfully, restarts a
// node killed by hand, refuses taken ports and a changed P with a sentence naming the fix, and
// stops every node it started; `up` runs Arena's processors and gateways on it (a produced event is
// served by a gateway) and `down` stops all of them.
import { execFile } from "node:child_process"
import * as fs from "node:fs"
import * as path from "node:path"
import { promisify } from "node:util"
import { jetstreamManager } from "@nats-io/jetstream"
import { connect } from "@nats-io/transport-node"
import postgres from "postgres"
import { afterAll, expect, it } from "vitest"
import { PG_URL } from "../support/arena.js"
import { alive } from "../support/procs.js"
import { testCluster } from "../support/natsCluster.js"

const cluster = testCluster({ partitions: 8 })
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
  const other = testCluster({ clientPort: cluster.clientPort, partitions: 8 })
  try {
    const r = await other.run("start")
    expect(r.code).not.toBe(0)
    expect(r.out).toMatch(new RegExp(`port (${cluster.clientPort}|${cluster.clientPort + 1}|${cluster.clientPort + 2}) on 127\\.0\\.0\\.1 is taken.*ARENA_CLUSTER_CLIENT_PORT`))
    expect(other.pid(1)).toBeNull()
  } finally {
    await other.run("clean")
  }
})

it("up starts processors and a gateway on the cluster that serve what a producer sends; down stops them and the nodes", async () => {
  const db = `arena_clup_${process.pid}`
  const u = new URL(PG_URL)
  u.pathname = `/${db}`
  // The gateway takes base + 3: the four ports from the reserved base are this cluster's alone.
  const gatewayPort = cluster.clientPort + 3
  const env = { ARENA_CLUSTER_PROCESSORS: "2", ARENA_CLUSTER_GATEWAYS: "1", ARENA_CLUSTER_GATEWAY_PORT: String(gatewayPort), ARENA_CLUSTER_DATABASE_URL: u.toString() }
  try {
    const up = await cluster.run("up", env)
    expect(up.code, up.out).toBe(0)
    expect(up.out).toContain("Arena runs partitioned: P = 8, 2 processors, 1 gateways")
    const pids = ["p1", "p2", "g1"].map((m) => Number(fs.readFileSync(path.join(cluster.dir, `${m}.pid`), "utf8")))
    for (const p of pids) expect(alive(p)).toBe(true)
    const root = path.resolve(import.meta.dirname, "../..")
    await promisify(execFile)(process.execPath, [path.join(root, "bin/arena"), "produce", "--count", "40"], {
      cwd: root, env: { ...process.env, NATS_URL: cluster.urls.join(","), ARENA_PARTITIONS: "8" }
    })
    // The stream also holds the coordinator's ticks: the board is caught up once its seq reaches
    // the stream's head as it was after the 40 events.
    const nc = await connect({ servers: cluster.url(2) })
    const head = await jetstreamManager(nc).then((jsm) => jsm.streams.info("ARENA_XP")).then((i) => i.state.last_seq).finally(() => nc.close())
    expect(head).toBeGreaterThanOrEqual(40)
    let board: { seq?: number; total?: number } = {}
    for (let i = 0; i < 600 && !((board.seq ?? 0) >= head); i++) {
      board = await fetch(`http://127.0.0.1:${gatewayPort}/v1/leaderboards/global?limit=5`).then((r) => r.json() as Promise<typeof board>, () => ({}))
      if (!((board.seq ?? 0) >= head)) await new Promise((r) => setTimeout(r, 100))
    }
    expect(board.seq).toBeGreaterThanOrEqual(head)
    expect(board.total).toBeGreaterThan(0)
    const down = await cluster.run("down", env)
    expect(down.code, down.out).toBe(0)
    for (const p of pids) expect(alive(p)).toBe(false)
    expect((await cluster.run("status")).code).toBe(1)
    const again = await cluster.run("start")
    expect(again.code, again.out).toBe(0)
  } finally {
    await cluster.run("down", env)
    await cluster.run("start")
    const admin = postgres(PG_URL, { max: 1, onnotice: () => {} })
    await admin.unsafe(`DROP DATABASE IF EXISTS "${db}" WITH (FORCE)`).catch(() => undefined)
    await admin.end()
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
