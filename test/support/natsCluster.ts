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
  /** First client port; the nodes use base, base+1, base+2 (routes at base+2000, monitor at base+4000). */
  readonly clientPort: number
  readonly partitions: number
  /** State directory; a fresh temporary one when absent. */
  readonly dir?: string
}

export interface TestCluster {
  readonly dir: string
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

export const clusterEnv = (o: ClusterOptions, dir: string): Record<string, string> => ({
  ARENA_CLUSTER_DIR: dir,
  ARENA_PARTITIONS: String(o.partitions),
  ARENA_CLUSTER_CLIENT_PORT: String(o.clientPort),
  ARENA_CLUSTER_ROUTE_PORT: String(o.clientPort + 2000),
  ARENA_CLUSTER_HTTP_PORT: String(o.clientPort + 4000)
})

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
  const env = clusterEnv(o, dir)
  const port = (i: number) => o.clientPort + i - 1
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
    }
  }
}
