// Child-process plumbing for the fan-out bench: fork a script with IPC, wait for a message type,
// CPU of a process tree and of the whole machine (/proc), resident memory.
import { fork, execFileSync } from "node:child_process"
import * as fs from "node:fs"

// Every child this bench starts dies with it, however it ends (a crash must not leave a service
// or 10k sockets running on a shared machine).
const children = new Set()
export const track = (child) => {
  children.add(child)
  child.once("exit", () => children.delete(child))
  return child
}
process.on("exit", () => { for (const c of children) { try { c.kill("SIGKILL") } catch { /* gone */ } } })
for (const sig of ["SIGINT", "SIGTERM"]) process.on(sig, () => process.exit(130))
process.on("uncaughtException", (e) => { console.error(e); process.exit(1) })

export const forkScript = (file, args, opts = {}) => {
  const c = fork(new URL(file, import.meta.url).pathname, args, { stdio: ["ignore", "inherit", "inherit", "ipc"], ...opts })
  c.on("error", () => {}) // a send to a process that already exited
  return track(c)
}

export const waitMsg = (child, type, timeoutMs = 600_000) => new Promise((resolve, reject) => {
  const timer = setTimeout(() => reject(new Error(`no ${type} from ${child.pid} in ${timeoutMs} ms`)), timeoutMs)
  const onMsg = (m) => { if (m.type === type) { clearTimeout(timer); child.off("message", onMsg); resolve(m) } }
  child.on("message", onMsg)
  child.once("exit", (code) => { clearTimeout(timer); reject(new Error(`${child.pid} exited ${code} before ${type}`)) })
})

const TICK = 100
/** CPU seconds (user + system) of one process, all its threads. */
export const cpuOf = (pid) => {
  try {
    const f = fs.readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1].split(" ")
    return (Number(f[11]) + Number(f[12])) / TICK
  } catch { return 0 }
}
export const childrenOf = (pid) => {
  try { return execFileSync("pgrep", ["-P", String(pid)]).toString().trim().split("\n").filter(Boolean).map(Number) } catch { return [] }
}
export const rssOf = (pid) => {
  try { return Number(/VmRSS:\s+(\d+)/.exec(fs.readFileSync(`/proc/${pid}/status`, "utf8"))[1]) * 1024 } catch { return 0 }
}
/** Machine-wide busy and total jiffies (all cores), to report how loaded the box was. */
export const machineCpu = () => {
  const f = fs.readFileSync("/proc/stat", "utf8").split("\n")[0].trim().split(/\s+/).slice(1).map(Number)
  const idle = f[3] + f[4]
  const total = f.reduce((x, y) => x + y, 0)
  return { busy: total - idle, total }
}

/** Per-thread CPU seconds of a process: tid → { name, user, sys }. */
export const threadsCpu = (pid) => {
  const out = new Map()
  let tids = []
  try { tids = fs.readdirSync(`/proc/${pid}/task`) } catch { return out }
  for (const tid of tids) {
    try {
      const raw = fs.readFileSync(`/proc/${pid}/task/${tid}/stat`, "utf8")
      const name = tid === String(pid) ? "main" : raw.slice(raw.indexOf("(") + 1, raw.lastIndexOf(")"))
      const f = raw.slice(raw.lastIndexOf(")") + 2).split(" ")
      // schedstat: time on a CPU, time runnable but waiting for one (ns), timeslices.
      let wait = 0
      try { wait = Number(fs.readFileSync(`/proc/${pid}/task/${tid}/schedstat`, "utf8").split(" ")[1]) / 1e9 } catch { /* no schedstats */ }
      out.set(tid, { name, user: Number(f[11]) / TICK, sys: Number(f[12]) / TICK, wait })
    } catch { /* thread ended */ }
  }
  return out
}

/**
 * Threads that used CPU between two threadsCpu samples, busiest first (cores = CPU-s per second;
 * `wait`: seconds per second the thread was runnable but had no CPU — contention from other work).
 */
export const threadsDelta = (a, b, secs) => {
  const rows = []
  for (const [tid, x] of b) {
    const y = a.get(tid) ?? { user: 0, sys: 0, wait: 0 }
    const user = (x.user - y.user) / secs, sys = (x.sys - y.sys) / secs, wait = (x.wait - y.wait) / secs
    if (user + sys >= 0.01) rows.push({ tid, name: x.name, user: Math.round(user * 100) / 100, sys: Math.round(sys * 100) / 100, wait: Math.round(wait * 100) / 100 })
  }
  return rows.sort((p, q) => q.user + q.sys - p.user - p.sys)
}
