// `arena serve` from a given build (a private worktree, so other engineers' rebuilds of dist/
// cannot change the binary mid-run) as a child process; resolves once it listens.
import { spawn } from "node:child_process"
import * as path from "node:path"
import { envFor } from "../lib.mjs"
import { track } from "./procs.mjs"

export const startServiceAt = (root, n, extra = {}, nodeArgs = []) => new Promise((resolve, reject) => {
  // $BENCH_NODE_ARGS: extra V8/Node flags for the service (e.g. --trace-gc), space-separated.
  const extra2 = (process.env.BENCH_NODE_ARGS ?? "").split(" ").filter(Boolean)
  const child = spawn(process.execPath, ["--max-old-space-size=16384", ...nodeArgs, ...extra2, path.join(root, "bin/arena"), "serve"], { cwd: root, env: envFor(n, extra), stdio: ["ignore", "pipe", "pipe"] })
  track(child)
  let log = ""
  const onData = (b) => {
    log += b.toString()
    const m = /listening on http:\/\/[\d.]+:(\d+)/.exec(log)
    if (m && !child.port) { child.port = Number(m[1]); resolve({ child, port: child.port, log: () => log }) }
  }
  child.stderr.on("data", onData)
  child.stdout.on("data", onData)
  child.once("exit", (code) => reject(new Error(`service exited ${code}: ${log.slice(-2000)}`)))
})
