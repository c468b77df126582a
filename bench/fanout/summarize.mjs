#!/usr/bin/env node
// Medians over repeated fan-out runs (the machine is shared: single runs are noisy). Groups the
// run files of bench/fanout/run.mjs by build label and ARENA_WS_THREADS, prints one markdown row
// per group, and with --append adds them to bench/RESULTS.md and renders bench/fanout-latency.png
// from the median run of the --chart group.
// Run: node bench/fanout/summarize.mjs [--append] [--chart "after t2"] run1.json run2.json …
import * as fs from "node:fs"
import * as path from "node:path"
import { parseArgs } from "node:util"
import { appendResult } from "../lib.mjs"
import { renderPng, svgOf } from "./chart.mjs"

const { values: a, positionals: files } = parseArgs({ allowPositionals: true, options: { append: { type: "boolean" }, chart: { type: "string" } } })
const runs = files.map((f) => ({ file: f, ...JSON.parse(fs.readFileSync(f, "utf8")) }))
const median = (xs) => {
  const s = xs.filter((x) => Number.isFinite(x)).sort((p, q) => p - q)
  return s.length === 0 ? NaN : s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2
}
const f1 = (x) => (Number.isFinite(x) ? x.toFixed(1) : "–")
const groups = new Map()
for (const r of runs) {
  const k = `${r.label || "arena"} t${r.threads}`
  groups.set(k, [...(groups.get(k) ?? []), r])
}

const rows = []
for (const [k, rs] of groups) {
  const m = (get) => median(rs.map(get))
  const g = {
    key: k, n: rs.length, gateway: rs[0].server === "gateway", sockets: rs[0].sockets, probes: rs[0].probes, rate: rs[0].rate, hold: rs[0].hold,
    p50: m((r) => r.arena.p50), p99: m((r) => r.arena.p99), max: m((r) => r.arena.max), gaps: rs.reduce((s, r) => s + r.arena.gaps, 0),
    firstP99: m((r) => r.arena.firstProbes?.n > 0 ? r.arena.firstProbes.p99 : NaN), bareFirstP99: m((r) => r.bare?.firstProbes?.n > 0 ? r.bare.firstProbes.p99 : NaN),
    bareP50: m((r) => r.bare?.p50), bareP99: m((r) => r.bare?.p99), ratio50: m((r) => r.arena.p50 / r.bare?.p50), ratio99: m((r) => r.arena.p99 / r.bare?.p99),
    fps: m((r) => r.arena.framesPerSec), bytes: m((r) => r.arena.meanFrameBytes), cores: m((r) => r.arena.serverCores), bareCores: m((r) => r.bare?.serverCores),
    us: m((r) => r.arena.usPerFrame), bareUs: m((r) => r.bare?.usPerFrame), rss: m((r) => r.arena.serverRssMiB), producer: m((r) => r.arena.producerCores),
    busy: m((r) => r.arena.machineBusy), closed: rs.reduce((s, r) => s + r.arena.closed, 0), resyncs: rs.reduce((s, r) => s + r.arena.resyncs, 0),
    hub50: m((r) => r.arena.hub?.p50), hub99: m((r) => r.arena.hub?.p99),
    load: m((r) => r.arena.loadAvg ? (r.arena.loadAvg[0] + r.arena.loadAvg[1]) / 2 : NaN),
    bareLoad: m((r) => r.bare?.loadAvg ? (r.bare.loadAvg[0] + r.bare.loadAvg[1]) / 2 : NaN),
    // Seconds per second the service's main thread was runnable but had no CPU (schedstat).
    mainWait: m((r) => r.arena.threads?.find((t) => t.name === "main")?.wait ?? NaN),
    loadCores: m((r) => r.arena.loadCores), probeCores: m((r) => r.arena.probeCores),
    builds: [...new Set(rs.map((r) => r.buildId ?? "?"))].join(", ")
  }
  rows.push(g)
}

console.log("| build, ws threads | runs | p50 / p99 / max ms | gaps | bare p50 / p99 ms | ratio p50 / p99 | frames/s | server cores (bare) | µs CPU/frame (bare) | RSS MiB | producer core | machine busy |")
console.log("|---|---|---|---|---|---|---|---|---|---|---|---|")
for (const g of rows) {
  console.log(`| ${g.key} | ${g.n} | ${f1(g.p50)} / ${f1(g.p99)} / ${f1(g.max)} | ${g.gaps} | ${f1(g.bareP50)} / ${f1(g.bareP99)} | ${g.ratio50.toFixed(1)} / ${g.ratio99.toFixed(1)} | ${Math.round(g.fps)} | ${g.cores.toFixed(2)} (${g.bareCores.toFixed(2)}) | ${f1(g.us)} (${f1(g.bareUs)}) | ${Math.round(g.rss)} | ${(g.producer * 100).toFixed(0)}% | ${(g.busy * 100).toFixed(0)}% |`)
}

if (a.append) {
  for (const g of rows) {
    appendResult("Fan-out (bench/fanout/run.mjs)",
      `${g.key}: ${g.sockets.toLocaleString("en-US")} sockets + ${g.probes} probes, ${g.gateway ? "gateway only (no pipeline): synthetic board views 20/s on global + 3/s per agent board" : `${g.rate} ev/s`}, ${g.hold} s, ${g.n > 1 ? `median of ${g.n} runs` : "1 run"} | ` +
      `${g.gateway ? "board view → delta frame" : "NATS publish → delta frame"} p50 ${f1(g.p50)} / p99 ${f1(g.p99)} / max ${f1(g.max)} ms` +
      `${Number.isFinite(g.firstP99) ? ` (probes connected last; connected first p99 ${f1(g.firstP99)}, bare ${f1(g.bareFirstP99)})` : ""}, gaps ${g.gaps}, closed ${g.closed}, resyncs ${g.resyncs} | ` +
      `bare uWS, same frames: p50 ${f1(g.bareP50)} / p99 ${f1(g.bareP99)} ms → ratio p50 ${g.ratio50.toFixed(1)} / p99 ${g.ratio99.toFixed(1)} | ` +
      `${Math.round(g.fps).toLocaleString("en-US")} frames/s of ${Math.round(g.bytes)} B; server ${g.cores.toFixed(2)} cores (bare ${g.bareCores.toFixed(2)}), ${f1(g.us)} µs CPU/frame (bare ${f1(g.bareUs)}), RSS ${Math.round(g.rss)} MiB; ` +
      `load clients ${(g.loadCores * 100).toFixed(0)}% core, probes ${(g.probeCores * 100).toFixed(0)}%, producer ${(g.producer * 100).toFixed(0)}%; machine busy ${(g.busy * 100).toFixed(0)}%, ` +
      `load avg ${f1(g.load)} (bare ${f1(g.bareLoad)}), service main thread waited ${f1(g.mainWait)} s/s for a CPU; hub wait p50 ≤ ${g.hub50} ms | ` +
      `build ${g.builds} | ${runs[0].machine.replace(/, load avg .*$/, "")}`)
  }
  const want = a.chart ?? rows[rows.length - 1].key
  const rs = groups.get(want)
  if (rs !== undefined) {
    const mid = [...rs].sort((p, q) => p.arena.p99 - q.arena.p99)[Math.floor((rs.length - 1) / 2)]
    const png = path.join(import.meta.dirname, "..", "fanout-latency.png")
    await renderPng(svgOf(mid), png)
    appendResult("Fan-out (bench/fanout/run.mjs)", `latency histogram of the median ${want} run (${mid.when.slice(0, 16)}): ![fan-out latency](fanout-latency.png)`)
    console.log(`wrote ${png}`)
  }
}
