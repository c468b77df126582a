// A 3-node nats-server cluster for integration tests, started through scripts/cluster.sh itself
// (its own state directory and ports, so it never meets the machine's NATS on 4222 or a
// developer's cluster on 4301-4303), with the node-level faults tests need: kill -9, SIGSTOP/SIGCONT,
// restart of a killed node.
import { spawn } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { alive } from "./procs.js"

const ROOT = path.resolve(import.meta.dirname, "../..")

export interface ClusterRun { readonly code: number | null; readonly out: string }

export interface ClusterOptions {
  /**
   * First client port; the nodes use base, base+1, base+2 (routes at base+2000, monitor at
   * base+4000). Absent: a free range is reserved for this process (reservePorts), so test files
   * and CI runs on one machine never meet.
   */
  readonly clientPort?: number
  readonly partitions: number
  /** State directory; a fresh temporary one when absent. */
  readonly dir?: string
}

export interface TestCluster {
  readonly dir: string
  /** The first node's client port (the others follow). */
  readonly clientPort: number
  readonly partitions: number
  readonly urls: ReadonlyArray<string>
  readonly url: (i: 1 | 2 | 3) => string
  readonly monitor: (i: 1 | 2 | 3) => string
  /** Runs `scripts/cluster.sh <cmd>` with this cluster's settings. */
  readonly run: (cmd: string, env?: Record<string, string>) => Promise<ClusterRun>
  readonly pid: (i: 1 | 2 | 3) => number | null
  readonly kill9: (i: 1 | 2 | 3) => Promise<void>
  /** Stops the cluster and removes its state directory. */
  readonly destroy: () => Promise<void>
}

/** The processors' database `scripts/cluster.sh up` would use (and `clean` drops): this cluster's own. */
const clusterDatabaseUrl = (clientPort: number): string => {
  const u = new URL(process.env.DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/arena")
  u.pathname = `/arena_cluster_${clientPort}`
  return u.toString()
}

export const clusterEnv = (o: { readonly clientPort: number; readonly partitions: number }, dir: string): Record<string, string> => ({
  ARENA_CLUSTER_DIR: dir,
  ARENA_CLUSTER_DATABASE_URL: clusterDatabaseUrl(o.clientPort),
  ARENA_PARTITIONS: String(o.partitions),
  ARENA_CLUSTER_CLIENT_PORT: String(o.clientPort),
  ARENA_CLUSTER_ROUTE_PORT: String(o.clientPort + 2000),
  ARENA_CLUSTER_HTTP_PORT: String(o.clientPort + 4000),
  // `up`'s ClickHouse stand-in: base + 2003, this reservation's alone (the default 8124 collided
  // when two CI runs ran cluster.test at once).
  ARENA_CLUSTER_CLICKHOUSE_PORT: String(o.clientPort + 2003)
})

/** TCP ports something listens on (IPv4 and IPv6), from /proc/net. */
const listeningPorts = (): Set<number> => {
  const out = new Set<number>()
  for (const f of ["/proc/net/tcp", "/proc/net/tcp6"]) {
    let text = ""
    try { text = fs.readFileSync(f, "utf8") } catch { continue }
    for (const line of text.split("\n").slice(1)) {
      const cols = line.trim().split(/\s+/)
      if (cols.length > 3 && cols[3] === "0A") out.add(parseInt(cols[1]!.split(":")[1]!, 16)) // 0A = LISTEN
    }
  }
  return out
}

const ownedBy = (lock: string): number => {
  try { return Number(fs.readFileSync(lock, "utf8")) } catch { return 0 }
}

/**
 * Reserves a client-port base for a test cluster: bases are 10000 + 4k (k < 2000; below Linux's
 * ephemeral range, so outgoing connections never take them), none of its eleven ports listened on,
 * and a lock file per base created exclusively with this process's pid (a lock whose pid is gone
 * is stale and taken over). Parallel test files and parallel CI runs on one machine therefore never
 * pick the same ports — fixed ports collided when three CI runs shared the machine.
 */
export const reservePorts = (): { readonly base: number; readonly release: () => void } => {
  const busy = listeningPorts()
  for (let attempt = 0; attempt < 500; attempt++) {
    const base = 10_000 + 4 * Math.floor(Math.random() * 2000)
    // The nodes' client, route and monitoring ports, and base + 3 / base + 2003 (a test's gateway
    // and ClickHouse stand-in): bases are 4 apart, so these are no other reservation's.
    const ports = [...[0, 1, 2].flatMap((i) => [base + i, base + 2000 + i, base + 4000 + i]), base + 3, base + 2003]
    if (ports.some((p) => busy.has(p))) continue
    const lock = path.join(os.tmpdir(), `arena-cluster-ports-${base}.lock`)
    try {
      fs.writeFileSync(lock, String(process.pid), { flag: "wx" })
    } catch {
      const owner = ownedBy(lock)
      if (owner > 0 && alive(owner)) continue
      try { fs.unlinkSync(lock) } catch { /* taken over meanwhile */ }
      continue
    }
    return { base, release: () => { if (ownedBy(lock) === process.pid) fs.rmSync(lock, { force: true }) } }
  }
  throw new Error("no free port range for a test cluster after 500 tries")
}

export const runClusterScript = (args: ReadonlyArray<string>, env: Record<string, string>): Promise<ClusterRun> =>
  new Promise((resolve) => {
    const c = spawn("bash", ["scripts/cluster.sh", ...args], { cwd: ROOT, env: { ...process.env, ...env }, stdio: ["ignore", "pipe", "pipe"] })
    let out = ""
    c.stdout.on("data", (b: Buffer) => (out += b.toString()))
    c.stderr.on("data", (b: Buffer) => (out += b.toString()))
    c.on("close", (code) => resolve({ code, out }))
  })

/** A cluster object for `o` (not started: call `run("start")`). */
export const testCluster = (o: ClusterOptions): TestCluster => {
  const dir = o.dir ?? fs.mkdtempSync(path.join(os.tmpdir(), "arena-cluster-"))
  const reserved = o.clientPort === undefined ? reservePorts() : null
  const clientPort = o.clientPort ?? reserved!.base
  const env = clusterEnv({ clientPort, partitions: o.partitions }, dir)
  const port = (i: number) => clientPort + i - 1
  const pid = (i: 1 | 2 | 3): number | null => {
    try {
      const n = Number(fs.readFileSync(path.join(dir, `n${i}.pid`), "utf8").trim())
      return Number.isInteger(n) && n > 0 && alive(n) ? n : null
    } catch {
      return null
    }
  }
  const run = (cmd: string, extra: Record<string, string> = {}) => runClusterScript(cmd.split(" "), { ...env, ...extra })
  return {
    dir,
    clientPort,
    partitions: o.partitions,
    urls: [1, 2, 3].map((i) => `nats://127.0.0.1:${port(i)}`),
    url: (i) => `nats://127.0.0.1:${port(i)}`,
    monitor: (i) => `http://127.0.0.1:${port(i) + 4000}`,
    run,
    pid,
    kill9: async (i) => {
      const p = pid(i)
      if (p === null) return
      process.kill(p, "SIGKILL")
      while (alive(p)) await new Promise((r) => setTimeout(r, 50))
    },
    destroy: async () => {
      for (const i of [1, 2, 3] as const) {
        const p = pid(i)
        if (p !== null) try { process.kill(p, "SIGCONT") } catch { /* gone */ }
      }
      await run("clean")
      reserved?.release()
    }
  }
}
