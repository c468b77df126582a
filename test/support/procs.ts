// Process helpers for fault injection: a process's children (to kill -9 the embedded ClickHouse
// child of a running service) and its resident memory, read from /proc.
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

/** Running (a zombie — dead, not yet reaped by init — counts as gone: it holds no files or locks). */
export const alive = (pid: number): boolean => {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, "utf8")
    return stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3) !== "Z"
  } catch {
    return false
  }
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
