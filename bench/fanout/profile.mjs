// Top functions by self time in V8 CPU profiles (node --cpu-prof), per file: where a thread's
// JavaScript time goes. Run: node bench/fanout/profile.mjs DIR [top=25]
import * as fs from "node:fs"
import * as path from "node:path"

const dir = process.argv[2], top = Number(process.argv[3] ?? 25)
for (const f of fs.readdirSync(dir).filter((x) => x.endsWith(".cpuprofile")).sort()) {
  const p = JSON.parse(fs.readFileSync(path.join(dir, f), "utf8"))
  const self = new Map(), byId = new Map(p.nodes.map((n) => [n.id, n]))
  const dt = p.timeDeltas, total = (p.endTime - p.startTime) / 1000
  for (let i = 0; i < p.samples.length; i++) {
    const n = byId.get(p.samples[i])
    const cf = n.callFrame
    const key = `${cf.functionName || "(anonymous)"} ${cf.url.split("/").slice(-2).join("/")}:${cf.lineNumber + 1}`
    self.set(key, (self.get(key) ?? 0) + (dt[i] ?? 0) / 1000)
  }
  const busy = [...self].filter(([k]) => !k.startsWith("(idle)")).reduce((s, [, v]) => s + v, 0)
  console.log(`\n${f}: ${(total / 1000).toFixed(1)} s profiled, ${(busy / 1000).toFixed(1)} s not idle`)
  for (const [k, v] of [...self].sort((a, b) => b[1] - a[1]).slice(0, top)) console.log(`${(v / 1000).toFixed(2).padStart(7)} s ${(100 * v / busy).toFixed(1).padStart(5)}%  ${k}`)
}
