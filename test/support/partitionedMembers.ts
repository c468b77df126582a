// `arena serve --role processor|gateway` children on a test NATS cluster (partitioned mode,
// ARCHITECTURE §9), as the cluster tests start them: one database, one data directory per member,
// ARENA_MEMBER_ID = the member's name, a short lease TTL and snapshot interval (each test may set
// others through `env`). `start` resolves once a processor follows the coordinator's assignment or
// a gateway listens (its port then known); `kill9` waits for the exit.
import { spawn } from "node:child_process"
import type { ChildProcess } from "node:child_process"
import * as path from "node:path"
import type { TestCluster } from "./natsCluster.js"

const ROOT = path.resolve(import.meta.dirname, "../..")

export interface Member { readonly name: string; readonly child: ChildProcess; log: string; port: number }

export interface MembersOptions {
  readonly cluster: TestCluster
  readonly partitions: number
  readonly databaseUrl: string
  readonly dataDir: string
  /** Settings of this test over the defaults below (ARENA_LEASE_TTL 3s, ARENA_SNAPSHOT_INTERVAL 500ms). */
  readonly env?: Record<string, string>
}

export const partitionedMembers = (o: MembersOptions) => {
  const procs: Array<Member> = []
  const start = (name: string, role: "processor" | "gateway", node: 1 | 2 | 3): Promise<Member> => {
    const child = spawn(process.execPath, [path.join(ROOT, "bin/arena"), "serve", "--role", role], {
      cwd: ROOT,
      env: {
        ...process.env,
        NATS_URL: o.cluster.url(node),
        DATABASE_URL: o.databaseUrl,
        ARENA_PARTITIONS: String(o.partitions),
        ARENA_STREAM: "ARENA_XP",
        ARENA_SUBJECT_PREFIX: "arena.xp",
        ARENA_LEASE_TTL: "3s",
        ARENA_SNAPSHOT_INTERVAL: "500ms",
        ARENA_DATA_DIR: path.join(o.dataDir, name),
        ARENA_MEMBER_ID: name,
        PORT: "0",
        ...o.env
      },
      stdio: ["ignore", "pipe", "pipe"]
    })
    const p: Member = { name, child, log: "", port: 0 }
    procs.push(p)
    const ready = role === "gateway" ? /listening on http:\/\/[\d.]+:(\d+)/ : /following the coordinator's assignment/
    return new Promise((resolve, reject) => {
      const onData = (b: Buffer) => {
        p.log += b.toString()
        const m = ready.exec(p.log)
        if (m !== null) { if (m[1] !== undefined) p.port = Number(m[1]); resolve(p) }
      }
      child.stdout!.on("data", onData)
      child.stderr!.on("data", onData)
      child.once("exit", (code) => reject(new Error(`${name} exited with ${code}:\n${p.log.slice(-3000)}`)))
      setTimeout(() => reject(new Error(`${name} did not start within 90 s:\n${p.log.slice(-3000)}`)), 90_000).unref()
    })
  }
  const kill9 = async (p: Member): Promise<void> => {
    if (p.child.exitCode !== null || p.child.signalCode !== null) return
    const exited = new Promise<void>((r) => p.child.once("exit", () => r()))
    p.child.kill("SIGKILL")
    await exited
  }
  return { procs, start, kill9 }
}
