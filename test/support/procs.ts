// Process helpers, read from /proc: a process's children (to kill -9 or wait for the embedded
// ClickHouse child of a service), whether a process still runs or can still write, and orphans.
import * as fs from "node:fs"

/** PIDs whose parent is `pid` and whose command line contains `match`. */
export const childPids = (pid: number, match = ""): Array<number> => {
  const out: Array<number> = []
  for (const d of fs.readdirSync("/proc")) {
    if (!/^\d+$/.test(d)) continue
    try {
      const stat = fs.readFileSync(`/proc/${d}/stat`, "utf8")
      const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1])
      if (ppid !== pid) continue
      if (match !== "" && !fs.readFileSync(`/proc/${d}/cmdline`, "utf8").includes(match)) continue
      out.push(Number(d))
    } catch { /* exited meanwhile */ }
  }
  return out
}

/** The process's state letter from /proc (R, S, D, T, Z…), or null once it is gone. */
const stateOf = (pid: number): string | null => {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, "utf8")
    return stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3)
  } catch {
    return null
  }
}

/** Running (a zombie — dead, not yet reaped by init — counts as gone: it holds no files or locks). */
export const alive = (pid: number): boolean => {
  const s = stateOf(pid)
  return s !== null && s !== "Z"
}

/**
 * Still able to write: alive and not stopped (a process a test stopped with SIGSTOP to play a
 * hung orphan writes nothing more).
 */
export const canWrite = (pid: number): boolean => {
  const s = stateOf(pid)
  return s !== null && s !== "Z" && s !== "T" && s !== "t"
}

/** Every process below `pid` (children, their children…). */
export const descendantPids = (pid: number): Array<number> => {
  const out: Array<number> = []
  for (const c of childPids(pid)) out.push(c, ...descendantPids(c))
  return out
}

/** Kills (-9) embedded-ClickHouse children of `dataDir` left behind by a killed service (test hygiene). */
export const killOrphans = (dataDir: string): number => {
  let n = 0
  for (const d of fs.readdirSync("/proc")) {
    if (!/^\d+$/.test(d)) continue
    try {
      const argv = fs.readFileSync(`/proc/${d}/cmdline`, "utf8").split("\0")
      if (argv.some((a) => a.endsWith("chdbChild.mjs")) && argv.some((a) => a.startsWith(dataDir))) {
        process.kill(Number(d), "SIGKILL")
        n++
      }
    } catch { /* gone */ }
  }
  return n
}
