// docker-compose.yml's `cluster` profile (partitioned mode in containers) without Docker: this
// machine has no Docker daemon, so the test checks what can be checked for real. The NATS node
// config (deploy/nats-cluster.conf) runs on the real nats-server (Debian's 2.9.10) with only its
// addresses moved to loopback, and its mapping puts an ingest subject on the partition Arena's own
// partition function computes; the compose file's processors and gateways agree with that config
// on P, reach all three nodes, have distinct member names and volumes, and publish only loopback
// ports. Whether the images build and the containers start is not tested here.
import { spawn } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { connect } from "@nats-io/transport-node"
import * as yaml from "js-yaml"
import { afterAll, expect, it } from "vitest"
import { partitionOfUser, userToken } from "../../src/domain/Partition.js"
import { reservePorts } from "../support/natsCluster.js"

const ROOT = path.resolve(import.meta.dirname, "../..")
const CONF = fs.readFileSync(path.join(ROOT, "deploy/nats-cluster.conf"), "utf8")

interface Service {
  readonly profiles?: ReadonlyArray<string>
  readonly command?: ReadonlyArray<string>
  readonly environment?: Record<string, string>
  readonly ports?: ReadonlyArray<string>
  readonly volumes?: ReadonlyArray<string>
  readonly depends_on?: Record<string, unknown>
}
const compose = yaml.load(fs.readFileSync(path.join(ROOT, "docker-compose.yml"), "utf8")) as { services: Record<string, Service> }
const inCluster = Object.entries(compose.services).filter(([, s]) => s.profiles?.includes("cluster"))
const withRole = (role: string) => inCluster.filter(([, s]) => s.command?.join(" ").includes(`serve --role ${role}`))

const mappedP = (): number => {
  const m = /"arena\.xp\.events\.\*":\s*"arena\.xp\.p\.\{\{partition\((\d+),1\)\}\}\.\{\{wildcard\(1\)\}\}"/.exec(CONF)
  if (m === null) throw new Error("deploy/nats-cluster.conf has no arena.xp.events.* partition mapping")
  return Number(m[1])
}

it("the cluster profile: 3 NATS nodes, 3 processors and 2 gateways that agree with the node config on P", () => {
  const P = mappedP()
  const nodes = inCluster.filter(([, s]) => s.command?.includes("/etc/nats/cluster.conf"))
  expect(nodes.map(([n]) => n).sort()).toEqual(["nats-1", "nats-2", "nats-3"])
  expect(new Set(nodes.map(([, s]) => s.environment?.NATS_SERVER_NAME)).size).toBe(3)
  for (const [, s] of nodes) expect(s.volumes).toContain("./deploy/nats-cluster.conf:/etc/nats/cluster.conf:ro")
  const processors = withRole("processor")
  const gateways = withRole("gateway")
  expect(processors.length).toBe(3)
  expect(gateways.length).toBe(2)
  for (const [name, s] of [...processors, ...gateways]) {
    expect(s.environment?.ARENA_PARTITIONS, `${name}'s ARENA_PARTITIONS`).toBe(String(P))
    expect(s.environment?.NATS_URL?.split(",").sort(), `${name}'s NATS_URL`).toEqual(["nats://nats-1:4222", "nats://nats-2:4222", "nats://nats-3:4222"])
    expect(s.environment?.DATABASE_URL, `${name}'s database`).toMatch(/\/arena_cluster$/)
    for (const n of ["nats-1", "nats-2", "nats-3", "postgres"]) expect(Object.keys(s.depends_on ?? {}), `${name} waits for ${n}`).toContain(n)
  }
  // Members keep stable, distinct names and their own data volumes.
  expect(new Set(processors.map(([, s]) => s.environment?.ARENA_MEMBER_ID)).size).toBe(3)
  expect(new Set(processors.map(([, s]) => s.volumes?.[0])).size).toBe(3)
  // Only the gateways publish a port, on loopback, apart from the single-process 8080.
  for (const [name, s] of processors) expect(s.ports, `${name} publishes no port`).toBeUndefined()
  const published = gateways.flatMap(([, s]) => s.ports ?? [])
  expect(published.sort()).toEqual(["127.0.0.1:8181:8080", "127.0.0.1:8182:8080"])
  // The single-process services are not in the profile: `docker compose up` is unchanged.
  for (const n of ["nats", "postgres", "clickhouse", "arena", "producer"]) expect(compose.services[n]?.profiles).toBeUndefined()
})

const ports = reservePorts()
const dir = fs.mkdtempSync(path.join(os.tmpdir(), "arena-compose-conf-"))
let server: ReturnType<typeof spawn> | null = null
afterAll(() => {
  server?.kill("SIGKILL")
  fs.rmSync(dir, { recursive: true, force: true })
  ports.release()
})

it("the node config runs on the real nats-server, and its mapping routes a user's ingest subject to Arena's partition of that user", async () => {
  const P = mappedP()
  const client = ports.base
  const http = ports.base + 2000
  // The container addresses moved to loopback and the cluster block left out (one node: the
  // mapping is core NATS); everything else is the file as the containers read it.
  const conf = CONF
    .replace("listen: 0.0.0.0:4222", `listen: 127.0.0.1:${client}`)
    .replace("http: 0.0.0.0:8222", `http: 127.0.0.1:${http}`)
    .replace('store_dir: "/data"', `store_dir: "${path.join(dir, "js")}"`)
    .replace(/\ncluster \{[\s\S]*?\n\}\n/, "\n")
  expect(conf).not.toContain("0.0.0.0")
  const file = path.join(dir, "node.conf")
  fs.writeFileSync(file, conf)
  const bin = fs.existsSync("/usr/sbin/nats-server") ? "/usr/sbin/nats-server" : "nats-server"
  let log = ""
  server = spawn(bin, ["-c", file], { env: { ...process.env, NATS_SERVER_NAME: "n1" }, stdio: ["ignore", "pipe", "pipe"] })
  server.stdout!.on("data", (d: Buffer) => (log += d.toString()))
  server.stderr!.on("data", (d: Buffer) => (log += d.toString()))
  // Wait for the server to accept clients (a state, not a time).
  const deadline = Date.now() + 30_000
  let nc: Awaited<ReturnType<typeof connect>> | null = null
  while (nc === null) {
    nc = await connect({ servers: `127.0.0.1:${client}`, reconnect: false }).catch(() => null)
    if (nc === null) {
      if (Date.now() > deadline || server.exitCode !== null) throw new Error(`nats-server did not start from deploy/nats-cluster.conf:\n${log}`)
      await new Promise((r) => setTimeout(r, 100))
    }
  }
  expect(log).toContain("n1")
  try {
    const users = ["bob", "alice@example.com", "first.last", "x".repeat(64)]
    const sub = nc.subscribe("arena.xp.p.>", { max: users.length })
    const seen: string[] = []
    const done = (async () => { for await (const m of sub) seen.push(m.subject) })()
    await nc.flush()
    for (const u of users) nc.publish(`arena.xp.events.${userToken(u)}`, "{}")
    await done
    expect(seen.sort()).toEqual(users.map((u) => `arena.xp.p.${partitionOfUser(u, P)}.${userToken(u)}`).sort())
  } finally {
    await nc.close()
  }
})
