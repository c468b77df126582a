#!/usr/bin/env node
// Scenario 3, fan-out: `arena serve` with many WebSocket subscribers (other processes), a steady
// event stream from a separate producer, latency from NATS publish to delta frame at probe clients,
// then the bare uWS broadcaster replaying the same frame schedule to the same sockets (baseline).
// Run: npm run build && node bench/fanout/run.mjs [--sockets 19000] [--probes 300] [--first-probes 100]
//        [--threads N (default: unset, Arena's own default from the core count)] [--rate 2000] [--users 100000]
//        [--warm 10] [--hold 60] [--loaders 2] [--no-bare] [--no-append] [--root DIR (a private worktree's build)]
//        [--server arena|gateway] [--prof DIR] [--label L] [--out FILE] [--bare-stream]
//      --bare-stream: while the bare baseline replays its frames, the same producer publishes the same
//        rate to NATS and a consumer (reader.mjs: parse + top-10s) reads it, so the bare run carries
//        the producer → NATS → consumer load Arena's run carries (the issue's bare server consumed
//        the events); without it the bare run has no NATS or producer load.
//      the rate curve: node bench/fanout/run.mjs --curve 500,2000,8000 [same options] → one run per rate,
//        bench/fanout-curve.svg (p50/p99 against the event rate, Arena and bare uWS) and a RESULTS row each
// See bench/README.md §3 for what is measured and how to read it.
import { execFileSync } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { parseArgs } from "node:util"
import { appendResult, cleanup, freshNames, machine, nats, stopService, waitReady, ROOT } from "../lib.mjs"
import { startServiceAt } from "./service.mjs"
import { cpuOf, childrenOf, forkScript, waitMsg } from "./procs.mjs"
import { session } from "./session.mjs"
import { bareLatency, joinLatency, perSecond, readProbeLog, traceOf } from "./stats.mjs"
import { topicCounts } from "./plan.mjs"
import { curveSvg } from "./chart.mjs"

const { values: a } = parseArgs({ options: {
  sockets: { type: "string" }, probes: { type: "string" }, threads: { type: "string" }, rate: { type: "string" }, users: { type: "string" },
  warm: { type: "string" }, hold: { type: "string" }, loaders: { type: "string" }, "no-bare": { type: "boolean" }, "no-append": { type: "boolean" },
  out: { type: "string" }, root: { type: "string" }, server: { type: "string" }, "global-rate": { type: "string" }, "agent-rate": { type: "string" }, "service-log": { type: "string" }, prof: { type: "string" }, label: { type: "string" }, "read-every": { type: "string" },
  "first-probes": { type: "string" }, curve: { type: "string" }, "bare-stream": { type: "boolean" }
} })
const SOCKETS = Number(a.sockets ?? 19_000)
const RATE = Number(a.rate ?? 2000), USERS = Number(a.users ?? 100_000), WARM = Number(a.warm ?? 10), HOLD = Number(a.hold ?? 60)
const LOADERS = Number(a.loaders ?? 2)
// arena: `arena serve` + producer (latency from NATS publish); gateway: synthetic views (gateway only).
const SERVER = a.server ?? "arena"
// The Arena build to run (default: this checkout; a private `git worktree` keeps it stable).
const BUILD = path.resolve(a.root ?? ROOT)
// The commit the measured build holds ("+dirty": its src/ has local changes), read at start.
const buildId = (() => {
  try {
    const git = (...x) => execFileSync("git", x, { cwd: BUILD }).toString().trim()
    return `${git("rev-parse", "--short", "HEAD")}${git("status", "--porcelain", "src") ? "+dirty" : ""}`
  } catch { return "unknown" }
})()
// --threads unset: the service runs with its default (ARENA_WS_THREADS unset), which this reads
// from the measured build (0 for builds older than the core-count default); the bare baseline
// gets as many socket threads as Arena has.
const THREADS = a.threads ?? await import(path.join(BUILD, "dist/Config.js")).then((m) => String(m.defaultWsThreads?.(os.availableParallelism()) ?? 0))
const THREADS_NOTE = a.threads === undefined ? `ARENA_WS_THREADS unset (default: ${THREADS})` : `ARENA_WS_THREADS=${THREADS}`
const serviceThreads = a.threads === undefined ? {} : { ARENA_WS_THREADS: a.threads }
const FIRST = Number(a["first-probes"] ?? 100)
const READ_EVERY = a["read-every"] ?? "5000"
const OUT = a.out ?? path.join(import.meta.dirname, "last-run.json")
/** Cumulative buckets of an unlabelled histogram on /metrics. */
const bucketsOf = async (port, name) => {
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text()
  const out = []
  for (const m of text.matchAll(new RegExp(`^${name}_bucket\\{le="([^"]+)"\\} (\\d+)`, "gm"))) out.push([Number(m[1]), Number(m[2])])
  return out
}
/** The gateway's "view received → delta handed to socket hosts" histogram. */
const hubLatency = (port) => bucketsOf(port, "arena_ws_publish_latency_seconds")
/** "Batch handed to a WS worker thread → published there" (absent before the metric existed, or with 0 threads). */
const handoffLatency = (port) => bucketsOf(port, "arena_ws_handoff_seconds")
/** "Batch published on a WS worker thread → that iteration's frames written" (absent before the metric existed). */
const writeLatency = (port) => bucketsOf(port, "arena_ws_write_seconds")
/** Quantiles (bucket upper bounds, ms) of the window between two bucket snapshots. */
const hubQuantiles = (a, b) => {
  const d = b.map(([le, n], i) => [le, n - (a[i]?.[1] ?? 0)])
  const total = d[d.length - 1]?.[1] ?? 0
  const q = (p) => (d.find(([, n]) => n >= p * total)?.[0] ?? NaN) * 1000
  return { n: total, p50: q(0.5), p99: q(0.99) }
}
/** Cumulative buckets of a histogram with one label, per label value (default: arena_loop_block_seconds by kind: how long main-thread work held the loop). */
const loopBlocks = async (port, name = "arena_loop_block_seconds", label = "kind") => {
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text()
  const out = new Map()
  for (const m of text.matchAll(new RegExp(`^${name}_bucket\\{${label}="([^"]+)",le="([^"]+)"\\} (\\d+)`, "gm"))) {
    if (!out.has(m[1])) out.set(m[1], [])
    out.get(m[1]).push([Number(m[2]), Number(m[3])])
  }
  return out
}
/** Per kind over the window: count, p99 and max as bucket bounds (ms), and how many held the loop > 8 ms. */
const blockSummary = (a, b) => {
  const rows = {}
  for (const [kind, bs] of b) {
    const before = a.get(kind) ?? []
    const d = bs.map(([le, n], i) => [le, n - (before[i]?.[1] ?? 0)])
    const total = d[d.length - 1][1]
    if (total === 0) continue
    const q = (p) => (d.find(([, n]) => n >= p * total)?.[0] ?? NaN) * 1000
    const max = (d.find(([, n]) => n >= total)?.[0] ?? NaN) * 1000
    const le8 = d.find(([le]) => le >= 0.008)?.[1] ?? total
    rows[kind] = { n: total, p50: q(0.5), p99: q(0.99), max, over8ms: total - le8 }
  }
  return rows
}
const log = (s) => process.stdout.write(`${new Date().toISOString().slice(11, 19)} ${s}\n`)
const ms = (x) => x.toFixed(1)

// The bare replay only sends what the probes saw: every topic a load socket uses needs a probe
// (probe k subscribes like load socket k, so the first 160 cover all 84 topics).
const wanted = [...topicCounts(SOCKETS).keys()]
let PROBES = Number(a.probes ?? 300)
while (!wanted.every((t) => topicCounts(PROBES).has(t))) PROBES++
if (PROBES !== Number(a.probes ?? 300)) process.stdout.write(`--probes raised to ${PROBES}: every topic of the load sockets needs a probe (the bare replay sends what the probes saw)\n`)
if (a.curve) {
  // One run per rate (a child run of this script each, same options), then the picture and rows.
  const rates = a.curve.split(",").map(Number)
  const rest = process.argv.slice(2).filter((x, i, all) => x !== "--curve" && all[i - 1] !== "--curve" && x !== "--rate" && all[i - 1] !== "--rate" && x !== "--out" && all[i - 1] !== "--out")
  const runs = []
  for (const rate of rates) {
    const out = path.join(os.tmpdir(), `fanout-curve-${process.pid}-${rate}.json`)
    log(`curve: ${rate} ev/s`)
    execFileSync(process.execPath, [new URL(import.meta.url).pathname, ...rest, "--rate", String(rate), "--out", out, "--no-append"], { stdio: "inherit" })
    runs.push(JSON.parse(fs.readFileSync(out, "utf8")))
    fs.rmSync(out, { force: true })
  }
  const svg = path.join(import.meta.dirname, "..", "fanout-curve.svg")
  fs.writeFileSync(svg, curveSvg(runs))
  log(`wrote ${svg}`)
  fs.writeFileSync(OUT, JSON.stringify(runs.map((r) => ({ ...r, arena: { ...r.arena, hist: undefined }, bare: r.bare && { ...r.bare, hist: undefined } }))))
  for (const r of runs) {
    const A = r.arena, B = r.bare
    log(`curve ${r.rate} ev/s: arena p50 ${ms(A.p50)} p99 ${ms(A.p99)} max ${ms(A.max)} (first-connected p99 ${ms(A.firstProbes?.p99 ?? NaN)})${B ? `, bare p50 ${ms(B.p50)} p99 ${ms(B.p99)} → p99 ratio ${(A.p99 / B.p99).toFixed(2)}` : ""}, load avg ${A.loadAvg.map((v) => v.toFixed(1)).join("→")}`)
  }
  if (!a["no-append"]) {
    for (const r of runs) appendResult("Fan-out (bench/fanout/run.mjs)", rowOf(r))
    appendResult("Fan-out (bench/fanout/run.mjs)", `rate curve, ${runs[0].sockets.toLocaleString("en-US")} sockets, ${rates.join(" / ")} ev/s (rows above): ![fan-out rate curve](fanout-curve.svg)`)
    log("appended to bench/RESULTS.md")
  }
  process.exit(0)
}
const loadAtStart = os.loadavg()[0]
log(`machine: ${machine()}`)
log(`build: ${BUILD} (${buildId})${a.label ? ` ${a.label}` : ""}`)
log(`scenario: ${FIRST} probes connected first + ${SOCKETS} load sockets + ${PROBES} probes connected last, ${THREADS_NOTE}, ${RATE} events/s over ${USERS} users, warm-up ${WARM} s, measured ${HOLD} s`)

// ---- Arena ----
const n = freshNames("fan")
let ours, trace, svc
const producerOut = path.join(os.tmpdir(), `fanout-producer-${process.pid}.json`)
if (SERVER === "gateway") {
  // Gateway only: the real gateway fed by synthetic board views (no pipeline, no NATS).
  const srv = forkScript("./synthetic.mjs", ["--root", BUILD, "--threads", THREADS, "--global-rate", a["global-rate"] ?? "20", "--agent-rate", a["agent-rate"] ?? "3", "--seconds", String(WARM + HOLD)])
  try {
    const { port } = await waitMsg(srv, "listening")
    ours = await session({
      label: "gateway", port, serverPid: srv.pid, sockets: SOCKETS, probes: PROBES, firstProbes: FIRST, loaders: LOADERS, readEvery: READ_EVERY,
      drive: async (mark) => {
        srv.send({ type: "start" })
        await new Promise((r) => setTimeout(r, WARM * 1000))
        const m0 = await hubLatency(port)
        const h0 = await handoffLatency(port)
        await mark("start")
        const done = await waitMsg(srv, "done", (HOLD + 120) * 1000)
        await new Promise((r) => setTimeout(r, 2000))
        await mark("stop")
        return { producer: { cpuMs: 0, wallMs: 1, sent: done.views }, childCpuSecs: 0, hub: hubQuantiles(m0, await hubLatency(port)), handoff: hubQuantiles(h0, await handoffLatency(port)) }
      }
    })
    const probeLog = readProbeLog(ours.probeOut)
    const l = bareLatency(probeLog)
    ours.lat = { first: l, last: l, unmatched: 0 }
    const firstLog = ours.firstProbeOut ? readProbeLog(ours.firstProbeOut) : []
    ours.firstLat = bareLatency(firstLog)
    trace = traceOf([...probeLog, ...firstLog], ours.wallStart)
    fs.rmSync(ours.probeOut, { force: true })
    if (ours.firstProbeOut) fs.rmSync(ours.firstProbeOut, { force: true })
    log(`gateway: latency view→frame (oldest change shown) p50 ${ms(l.p50)} p99 ${ms(l.p99)} max ${ms(l.max)} ms (n ${l.n})`)
  } finally {
    srv.send({ type: "exit" })
    await new Promise((r) => setTimeout(r, 1000))
    if (srv.exitCode === null) srv.kill("SIGKILL")
    await cleanup(n)
  }
} else try {
  // --prof DIR: V8 CPU profiles of the service (one file per thread) for bench/fanout/profile.mjs.
  const prof = a.prof ? ["--cpu-prof", `--cpu-prof-dir=${path.resolve(a.prof)}`] : []
  svc = await startServiceAt(BUILD, n, { ...serviceThreads, ARENA_SNAPSHOT_INTERVAL: "5s" }, prof)
  await waitReady(svc.port, 0)
  let producerDone
  ours = await session({
    label: "arena", port: svc.port, serverPid: svc.child.pid, sockets: SOCKETS, probes: PROBES, firstProbes: FIRST, loaders: LOADERS, readEvery: READ_EVERY,
    drive: async (mark) => {
      const p = forkScript("./producer.mjs", ["--subject", n.subject, "--rate", String(RATE), "--users", String(USERS), "--seconds", String(WARM + HOLD), "--out", producerOut])
      const kids0 = childrenOf(svc.child.pid).map((pid) => [pid, cpuOf(pid)])
      await waitMsg(p, "started")
      await new Promise((r) => setTimeout(r, WARM * 1000))
      const m0 = await hubLatency(svc.port)
      const h0 = await handoffLatency(svc.port)
      const w0 = await writeLatency(svc.port)
      const b0 = await loopBlocks(svc.port)
      const d0 = await loopBlocks(svc.port, "arena_delta_path_seconds", "stage")
      await mark("start")
      producerDone = await waitMsg(p, "done", (HOLD + 120) * 1000)
      await new Promise((r) => setTimeout(r, 2000)) // the last deltas in flight
      await mark("stop")
      const hub = hubQuantiles(m0, await hubLatency(svc.port))
      const handoff = hubQuantiles(h0, await handoffLatency(svc.port))
      const write = hubQuantiles(w0, await writeLatency(svc.port))
      const blocks = blockSummary(b0, await loopBlocks(svc.port))
      const deltaPath = blockSummary(d0, await loopBlocks(svc.port, "arena_delta_path_seconds", "stage"))
      const childCpu = kids0.reduce((s, [pid, c]) => s + cpuOf(pid) - c, 0)
      return { producer: producerDone, childCpuSecs: childCpu, hub, handoff, write, blocks, deltaPath }
    }
  })
  const probeLog = readProbeLog(ours.probeOut)
  ours.lat = joinLatency(probeLog, producerOut)
  const firstLog = ours.firstProbeOut ? readProbeLog(ours.firstProbeOut) : []
  ours.firstLat = joinLatency(firstLog, producerOut).first
  trace = traceOf([...probeLog, ...firstLog], ours.wallStart)
  fs.rmSync(producerOut, { force: true })
  fs.rmSync(ours.probeOut, { force: true })
  if (ours.firstProbeOut) fs.rmSync(ours.firstProbeOut, { force: true })
  log(`arena: first-connected probes p50 ${ms(ours.firstLat.p50)} p99 ${ms(ours.firstLat.p99)} max ${ms(ours.firstLat.max)} ms (n ${ours.firstLat.n})`)
  log(`arena: latency publish→frame (oldest event shown) p50 ${ms(ours.lat.first.p50)} p99 ${ms(ours.lat.first.p99)} max ${ms(ours.lat.first.max)} ms` +
    ` (n ${ours.lat.first.n}, unmatched ${ours.lat.unmatched}); newest event p50 ${ms(ours.lat.last.p50)} p99 ${ms(ours.lat.last.p99)}`)
} finally {
  if (svc) await stopService(svc)
  if (svc && a["service-log"]) fs.writeFileSync(a["service-log"], svc.log())
  fs.rmSync(producerOut, { force: true })
  if (ours?.probeOut) fs.rmSync(ours.probeOut, { force: true })
  if (ours?.firstProbeOut) fs.rmSync(ours.firstProbeOut, { force: true })
  await cleanup(n)
}

// ---- bare uWS broadcaster, same frames, same sockets ----
let bare = null
if (!a["no-bare"]) {
  const traceFile = path.join(os.tmpdir(), `fanout-trace-${process.pid}.json`)
  fs.writeFileSync(traceFile, JSON.stringify(trace))
  const srv = forkScript("./bare.mjs", ["--threads", THREADS === "0" ? "0" : THREADS, "--trace", traceFile])
  // --bare-stream: a stream of its own for the producer and reader running beside the replay.
  const nb = a["bare-stream"] ? freshNames("fanbare") : null
  const bareProducerOut = path.join(os.tmpdir(), `fanout-bare-producer-${process.pid}.json`)
  try {
    if (nb !== null) {
      const h = await nats()
      await h.jsm.streams.add({ name: nb.stream, subjects: [nb.subject] })
      await h.nc.close()
    }
    const { port } = await waitMsg(srv, "listening")
    bare = await session({
      label: "bare", port, serverPid: srv.pid, sockets: SOCKETS, probes: PROBES, firstProbes: FIRST, loaders: LOADERS, readEvery: READ_EVERY,
      drive: async (mark) => {
        const reader = nb === null ? null : forkScript("./reader.mjs", ["--stream", nb.stream])
        if (reader !== null) await waitMsg(reader, "started")
        const producer = nb === null ? null : forkScript("./producer.mjs", ["--subject", nb.subject, "--rate", String(RATE), "--users", String(USERS), "--seconds", String(HOLD), "--out", bareProducerOut])
        if (producer !== null) await waitMsg(producer, "started")
        await mark("start")
        srv.send({ type: "start" })
        const done = await waitMsg(srv, "done", (HOLD + 120) * 1000)
        const produced = producer === null ? null : await waitMsg(producer, "done", 120_000)
        await new Promise((r) => setTimeout(r, 2000))
        await mark("stop")
        let read = null
        if (reader !== null) {
          reader.send({ type: "stop" })
          read = await waitMsg(reader, "done", 30_000)
        }
        return { ...done, stream: produced === null ? null : { sent: produced.sent, scheduled: produced.scheduled ?? produced.sent, producerCores: produced.cpuMs / produced.wallMs, read: read?.read ?? 0, readerCores: read === null ? 0 : read.cpuMs / read.wallMs } }
      }
    })
    if (bare.driven?.stream) {
      const st = bare.driven.stream
      log(`bare: beside it ${st.sent}${st.scheduled > st.sent ? ` of ${st.scheduled} scheduled` : ""} events published (producer ${(st.producerCores * 100).toFixed(0)}% of a core) and ${st.read} read and tracked (reader ${(st.readerCores * 100).toFixed(0)}%)`)
    }
    bare.lat = bareLatency(readProbeLog(bare.probeOut))
    bare.firstLat = bareLatency(bare.firstProbeOut ? readProbeLog(bare.firstProbeOut) : [])
    fs.rmSync(bare.probeOut, { force: true })
    if (bare.firstProbeOut) fs.rmSync(bare.firstProbeOut, { force: true })
    log(`bare: first-connected probes p50 ${ms(bare.firstLat.p50)} p99 ${ms(bare.firstLat.p99)} max ${ms(bare.firstLat.max)} ms (n ${bare.firstLat.n})`)
    log(`bare: latency send→frame p50 ${ms(bare.lat.p50)} p99 ${ms(bare.lat.p99)} max ${ms(bare.lat.max)} ms (n ${bare.lat.n})`)
  } finally {
    srv.send({ type: "exit" })
    await new Promise((r) => setTimeout(r, 500))
    if (srv.exitCode === null) srv.kill("SIGKILL")
    fs.rmSync(traceFile, { force: true })
    fs.rmSync(bareProducerOut, { force: true })
    if (nb !== null) await cleanup(nb)
  }
}

// ---- report ----
const f = ours.lat.first
const frameRate = (r) => (r.loadFrames / r.secs)
// Server CPU per frame delivered (µs): contention changes latency far more than it changes this.
// The run file keeps the latency distribution as 5,000 evenly spaced quantiles (enough for the
// histogram; p50/p99/max above are exact), so it stays small at 150k probe frames.
const hist = (sorted) => {
  const n = Math.min(5000, sorted.length)
  return Array.from({ length: n }, (_, i) => Math.round(sorted[Math.floor(((i + 0.5) * sorted.length) / n)] * 100) / 100)
}
const usPerFrame = (r) => (r.serverCores * r.secs * 1e6) / Math.max(1, r.loadFrames + r.probe.records + (r.firstProbe?.records ?? 0))
const probeQ = (l, rep) => ({ p50: l.p50, p99: l.p99, max: l.max, n: l.n, gaps: rep?.gaps ?? 0 })
const summary = {
  when: new Date().toISOString(), machine: machine(), label: a.label ?? "", server: SERVER, build: BUILD, buildId, loadAtStart, sockets: SOCKETS, probes: PROBES, threads: Number(THREADS), threadsNote: THREADS_NOTE, firstProbes: FIRST, rate: RATE, users: USERS, hold: HOLD,
  arena: {
    p50: f.p50, p90: f.p90, p99: f.p99, p999: f.p999, max: f.max, n: f.n, lastP99: ours.lat.last.p99, gaps: ours.probe.gaps + (ours.firstProbe?.gaps ?? 0), resyncs: ours.probe.resyncs + (ours.firstProbe?.resyncs ?? 0) + ours.loadResyncs,
    firstProbes: probeQ(ours.firstLat, ours.firstProbe),
    closed: ours.loadClosed + ours.probe.closed, silent: ours.loadSilent, framesPerSec: frameRate(ours), meanFrameBytes: ours.loadBytes / Math.max(1, ours.loadFrames),
    serverCores: ours.serverCores, serverRssMiB: ours.serverRssMiB, chdbCores: ours.driven.childCpuSecs / ours.secs, machineBusy: ours.machineBusy,
    usPerFrame: usPerFrame(ours), threads: ours.serverThreads, monoWindow: ours.monoWindow, loadAvg: ours.loadAvg, probeCores: ours.probeCpuSecs / ours.secs,
    perSecond: perSecond(ours.lat.first.series ?? ours.lat.series ?? [], ours.wallStart),
    hub: ours.driven.hub, handoff: ours.driven.handoff ?? null, write: ours.driven.write ?? null, blocks: ours.driven.blocks ?? {}, deltaPath: ours.driven.deltaPath ?? {},
    producerCores: ours.driven.producer.cpuMs / ours.driven.producer.wallMs, producerSent: ours.driven.producer.sent, producerScheduled: ours.driven.producer.scheduled ?? ours.driven.producer.sent, loadCores: ours.loadCpuSecs / ours.secs,
    hist: hist(f.sorted)
  },
  bare: bare && {
    p50: bare.lat.p50, p90: bare.lat.p90, p99: bare.lat.p99, p999: bare.lat.p999, max: bare.lat.max, n: bare.lat.n, gaps: bare.probe.gaps + (bare.firstProbe?.gaps ?? 0),
    firstProbes: probeQ(bare.firstLat, bare.firstProbe),
    framesPerSec: frameRate(bare), usPerFrame: usPerFrame(bare), threads: bare.serverThreads, loadAvg: bare.loadAvg, loadCores: bare.loadCpuSecs / bare.secs,
    stream: bare.driven?.stream ?? null,
    perSecond: perSecond(bare.lat.series, bare.wallStart), serverCores: bare.serverCores, serverRssMiB: bare.serverRssMiB, machineBusy: bare.machineBusy,
    hist: hist(bare.lat.sorted)
  }
}
fs.writeFileSync(OUT, JSON.stringify(summary))
const A = summary.arena, B = summary.bare
console.table({
  arena: { p50: ms(A.p50), p99: ms(A.p99), max: ms(A.max), gaps: A.gaps, "frames/s": Math.round(A.framesPerSec), "µs/frame": A.usPerFrame.toFixed(1), cores: A.serverCores.toFixed(2), "RSS MiB": Math.round(A.serverRssMiB), busy: `${Math.round(A.machineBusy * 100)}%` },
  ...(B ? { bare: { p50: ms(B.p50), p99: ms(B.p99), max: ms(B.max), gaps: B.gaps, "frames/s": Math.round(B.framesPerSec), "µs/frame": B.usPerFrame.toFixed(1), cores: B.serverCores.toFixed(2), "RSS MiB": Math.round(B.serverRssMiB), busy: `${Math.round(B.machineBusy * 100)}%` } } : {})
})
const worst = (ps) => [...ps].sort((x, y) => y[3] - x[3]).slice(0, 5).map(([k, n, p50, p99, max]) => `s${k}: n ${n} p50 ${p50} p99 ${p99} max ${max}`).join("; ")
log(`arena worst seconds (by p99): ${worst(A.perSecond)}`)
if (B) log(`bare worst seconds (by p99): ${worst(B.perSecond)}`)
const la = (x) => x.map((v) => v.toFixed(1)).join("→")
log(`load avg (1 min): at start ${loadAtStart.toFixed(1)}, arena window ${la(A.loadAvg)}${B ? `, bare window ${la(B.loadAvg)}` : ""}; probe process ${(A.probeCores * 100).toFixed(0)}% of a core`)
const ratio = B ? `ratio ours/bare p50 ${(A.p50 / B.p50).toFixed(2)} p99 ${(A.p99 / B.p99).toFixed(2)}` : "no bare run"
if (Object.keys(A.blocks).length > 0) {
  log(`main-thread loop blocks in the window (bucket bounds, ms): ${Object.entries(A.blocks).sort((x, y) => y[1].max - x[1].max)
    .map(([k, v]) => `${k} n ${v.n} p99 ≤ ${v.p99} max ≤ ${v.max} (>8 ms: ${v.over8ms})`).join("; ")}`)
}
if (Object.keys(A.deltaPath ?? {}).length > 0) {
  log(`delta path in the service (bucket bounds, ms; read: NATS store → handed to the pipeline, queued: → its slice starts, viewed: NATS store → views handed to the gateway): ${
    ["read", "queued", "viewed"].filter((k) => A.deltaPath[k]).map((k) => `${k} p50 ≤ ${A.deltaPath[k].p50} p99 ≤ ${A.deltaPath[k].p99} (n ${A.deltaPath[k].n})`).join("; ")}`)
}
log(`gateway hub wait (view → hosts, bucket bounds): p50 ≤ ${A.hub.p50} ms, p99 ≤ ${A.hub.p99} ms over ${A.hub.n} views`)
if (A.handoff && A.handoff.n > 0) log(`gateway hand-off (batch handed to a WS thread → published there, bucket bounds): p50 ≤ ${A.handoff.p50} ms, p99 ≤ ${A.handoff.p99} ms over ${A.handoff.n} batches`)
if (A.write && A.write.n > 0) log(`gateway writes (batch published on a WS thread → its iteration's frames written, bucket bounds): p50 ≤ ${A.write.p50} ms, p99 ≤ ${A.write.p99} ms over ${A.write.n} iterations`)
log(`${ratio}; producer ${A.producerSent}${A.producerScheduled > A.producerSent ? ` of ${A.producerScheduled} scheduled (behind its rate: the hold ended first)` : ""} events at ${(A.producerCores * 100).toFixed(0)}% of a core; chDB child ${(A.chdbCores * 100).toFixed(0)}%; load clients ${(A.loadCores * 100).toFixed(0)}%`)
if (!a["no-append"]) {
  appendResult("Fan-out (bench/fanout/run.mjs)", rowOf(summary))
  log("appended to bench/RESULTS.md")
}
process.exit(0)

/** The delta's stages in the service (bucket bounds, p50/p99 ms), when the build has their metrics. */
function stagesOf(A) {
  const q = (x) => (x && x.n > 0 ? `${x.p50}/${x.p99}` : null)
  const parts = [["NATS→view", q(A.deltaPath?.viewed)], ["hub wait", q(A.hub)], ["hand-off", q(A.handoff)], ["writes", q(A.write)]].filter(([, v]) => v !== null)
  return parts.length === 0 ? "" : `; stages p50/p99 ≤ ms: ${parts.map(([k, v]) => `${k} ${v}`).join(", ")}`
}

/** The RESULTS.md row of one run (its summary): load, Arena (last- and first-connected probes), bare uWS, ratio, machine. */
function rowOf(r) {
  const A = r.arena, B = r.bare, f = (x) => (Number.isFinite(x) ? x.toFixed(1) : "–")
  const la = (x) => x.map((v) => v.toFixed(1)).join("→")
  const first = (q) => (q && q.n > 0 ? `; probes connected first p50 ${f(q.p50)} / p99 ${f(q.p99)} / max ${f(q.max)} ms` : "")
  return `${r.server === "gateway" ? "gateway only (synthetic views), " : ""}${r.sockets.toLocaleString("en-US")} sockets + ${r.probes} probes connected last + ${r.firstProbes ?? 0} first, ` +
    `${r.rate} ev/s over ${r.users.toLocaleString("en-US")} users, ${r.hold} s, ${r.threadsNote ?? `ARENA_WS_THREADS=${r.threads}`} | ` +
    `publish→frame p50 ${f(A.p50)} / p99 ${f(A.p99)} / max ${f(A.max)} ms (probes connected last)${first(A.firstProbes)}, gaps ${A.gaps}, ${Math.round(A.framesPerSec).toLocaleString("en-US")} frames/s (${Math.round(A.meanFrameBytes)} B) | ` +
    (B ? `bare uWS (${r.threads} socket threads) same frames${B.stream ? `, with the same producer → NATS → a consumer tracking top-10s beside it (${B.stream.sent.toLocaleString("en-US")}${B.stream.scheduled > B.stream.sent ? ` of ${B.stream.scheduled.toLocaleString("en-US")} scheduled` : ""} published, ${B.stream.read.toLocaleString("en-US")} read)` : ", no NATS or producer load"}: p50 ${f(B.p50)} / p99 ${f(B.p99)} / max ${f(B.max)} ms${first(B.firstProbes)} → ratio ours/bare p50 ${(A.p50 / B.p50).toFixed(2)} p99 ${(A.p99 / B.p99).toFixed(2)} | ` : "") +
    `server ${A.serverCores.toFixed(2)} cores (bare ${B ? B.serverCores.toFixed(2) : "–"}), RSS ${Math.round(A.serverRssMiB)} MiB (bare ${B ? Math.round(B.serverRssMiB) : "–"}); load clients ${(A.loadCores * 100).toFixed(0)}% core, probes ${(A.probeCores * 100).toFixed(0)}%, producer ${(A.producerCores * 100).toFixed(0)}%${A.producerScheduled > A.producerSent ? ` (sent ${A.producerSent.toLocaleString("en-US")} of ${A.producerScheduled.toLocaleString("en-US")} scheduled: behind its rate)` : ""}; ` +
    `machine busy ${Math.round(A.machineBusy * 100)}%, load avg ${la(A.loadAvg)}${B ? ` (bare ${la(B.loadAvg)})` : ""}${stagesOf(A)} | build ${r.buildId} | ${r.machine}`
}
