// Top functions by self time in V8 CPU profiles (node --cpu-prof; `run.mjs --prof DIR` writes one
// per service thread), per file, and self time by area (dist/<folder>, npm package, V8/native).
// With a run file (run.mjs --out), only samples inside its measured window count (CLOCK_MONOTONIC
// µs, the clock of both the profiles and process.hrtime).
// Run: node bench/fanout/profile.mjs DIR [--top 25] [--run run.json]
import * as fs from "node:fs"
import * as path from "node:path"
import { parseArgs } from "node:util"

const { values: a, positionals: [dir] } = parseArgs({ allowPositionals: true, options: { top: { type: "string" }, run: { type: "string" } } })
const top = Number(a.top ?? 25)
const win = a.run ? JSON.parse(fs.readFileSync(a.run, "utf8")).arena.monoWindow : null
const areaOf = (cf) => {
  const u = cf.url
  const d = /\/dist\/(.*)\/[^/]*$/.exec(u)
  if (d) return d[1]
  if (u.includes("node_modules/")) return u.split("node_modules/")[1].split("/").slice(0, u.includes("node_modules/@") ? 2 : 1).join("/")
  if (u.startsWith("node:")) return "node internals"
  return cf.functionName.startsWith("(") ? cf.functionName : "native/V8"
}
for (const f of fs.readdirSync(dir).filter((x) => x.endsWith(".cpuprofile")).sort()) {
  const p = JSON.parse(fs.readFileSync(path.join(dir, f), "utf8"))
  const self = new Map(), areas = new Map(), byId = new Map(p.nodes.map((n) => [n.id, n]))
  const dt = p.timeDeltas
  let t = p.startTime, total = 0
  for (let i = 0; i < p.samples.length; i++) {
    t += dt[i] ?? 0
    if (win !== null && (t < win[0] || t > win[1])) continue
    const d = (dt[i + 1] ?? 0) / 1000
    total += d
    const cf = byId.get(p.samples[i]).callFrame
    const key = `${cf.functionName || "(anonymous)"} ${cf.url.split("/").slice(-2).join("/")}:${cf.lineNumber + 1}`
    self.set(key, (self.get(key) ?? 0) + d)
    const area = areaOf(cf)
    areas.set(area, (areas.get(area) ?? 0) + d)
  }
  const busy = [...self].filter(([k]) => !k.startsWith("(idle)")).reduce((s, [, v]) => s + v, 0)
  console.log(`\n${f}: ${(total / 1000).toFixed(1)} s profiled${win ? " (measured window)" : ""}, ${(busy / 1000).toFixed(1)} s not idle`)
  for (const [k, v] of [...self].sort((x, y) => y[1] - x[1]).slice(0, top)) console.log(`${(v / 1000).toFixed(2).padStart(7)} s ${(100 * v / busy).toFixed(1).padStart(5)}%  ${k}`)
  console.log("  by area: " + [...areas].filter(([k]) => k !== "(idle)").sort((x, y) => y[1] - x[1]).slice(0, 12).map(([k, v]) => `${k} ${(100 * v / busy).toFixed(1)}%`).join(", "))
}
