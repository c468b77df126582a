#!/usr/bin/env node
// Pipeline throughput: a preloaded stream (default 1M events, 100k users, 20 agents) through decode → XP →
// all 8 boards per event → deltas (WS watchers on a few boards) to "caught up", against two baselines in
// the same run: raw ordered consume + JSON.parse, and Redis ZINCRBY of the same 8 board updates per event.
// Run: npm run build && node bench/pipeline.mjs [--events N] [--users N] [--span-days D] [--cpu-prof] [--chart] [--keep] [--no-record] [--ioredis]
// --span-days D spreads the timestamps over the last D days as bench/recovery.mjs does (40 there):
// an event of a closed day/week/month then moves only the all-time boards, so it shows what the
// open periods' six boards per event cost (the gap between this bench and recovery's cold rate).
import { execFileSync } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { parseArgs } from "node:util"
import Redis from "ioredis"
import { makeGenerator, produce } from "../dist/cli/Producer.js"
import { appendResult, cleanup, cpuOf, envFor, fmt, freshNames, machine, nats, rawConsume, ROOT, mallocNote, startService, stopService, waitReady } from "./lib.mjs"
import { benchEnv, boardKeys, buildId, log, median, pointsOf, rates, rawRedis, renderChart, sleep, stalls, summarizeProfile, timeline, treeCpu, treeRss, watchers } from "./support.mjs"

const { values } = parseArgs({ options: {
  events: { type: "string" }, users: { type: "string" }, agents: { type: "string" }, "cpu-prof": { type: "boolean" }, chart: { type: "boolean" }, "span-days": { type: "string" }, keep: { type: "boolean" }, "no-record": { type: "boolean" }, ioredis: { type: "boolean" }
} })
const EVENTS = Number(values.events ?? 1_000_000)
const USERS = Number(values.users ?? 100_000)
const AGENTS = Number(values.agents ?? 20)
const SPAN_DAYS = values["span-days"] === undefined ? 0 : Number(values["span-days"])
if (!(Number.isFinite(SPAN_DAYS) && SPAN_DAYS >= 0)) throw new Error(`--span-days must be a non-negative number of days, got ${values["span-days"]}`)
const WATCH = [
  { board: "global", window: "all" }, { board: "global", window: "day" },
  { board: "agent:claude-code", window: "all" }, { board: "agent:cursor", window: "week" }
]

const n = freshNames("pipe")
const BUILD = buildId()
log(`machine: ${machine()}; build ${BUILD}`)
const SETUP = `service as users run it (Node defaults${process.env.BENCH_NODE_ARGS ? ` + ${process.env.BENCH_NODE_ARGS}` : ""}, default settings${mallocNote()})`
const SPAN = SPAN_DAYS > 0 ? `; timestamps over the last ${SPAN_DAYS} days (closed periods move only the all-time boards; the Redis baseline still does 8 ZINCRBY per event)` : ""
log(`scenario: ${fmt(EVENTS)} events, ${fmt(USERS)} users, ${AGENTS} agents, ${WATCH.length} WS watchers; ${SETUP}${SPAN}; stream ${n.stream}`)
execFileSync(process.execPath, ["bin/arena", "migrate"], { cwd: ROOT, env: envFor(n), stdio: ["ignore", "ignore", "inherit"] })
const h = await nats()

// Timestamps in the last 10 minutes: every event lands in the open day/week/month periods, so each
// one really touches 8 boards (older periods would be closed and only the all-time boards move);
// with --span-days, over the last D days instead.
const spanMs = SPAN_DAYS > 0 ? SPAN_DAYS * 86_400_000 : 590_000
const tBase = Date.now() - (SPAN_DAYS > 0 ? spanMs : 600_000)
const genOpts = { users: USERS, agents: AGENTS, seed: 7, idPrefix: "pipe", timestamp: (i) => new Date(tBase + Math.floor((i / EVENTS) * spanMs)).toISOString() }
let tp = Date.now()
await produce(h.js, n.subject, makeGenerator(genOpts), { count: EVENTS, rate: 0, inFlight: 4000, onProgress: (k) => { if (k % 250_000 === 0) log(`published ${fmt(k)} (${fmt(k / ((Date.now() - tp) / 1000))}/s)`) } })
log(`published ${fmt(EVENTS)} in ${((Date.now() - tp) / 1000).toFixed(1)} s`)

// Baseline 1: the raw ordered-consume + JSON.parse ceiling over the same stream.
const rawRate = EVENTS / ((await rawConsume(h.js, n.stream, 1, EVENTS)) / 1000)
log(`baseline raw consume + JSON.parse: ${fmt(rawRate)} events/s`)

// Baseline 2: Redis sorted sets doing the same board work, 8 ZINCRBY per event (user, board keys and
// base points of the same generated events; no NATS, no XP rules), pipelined 500 events per write
// with a bounded backlog. Measured through ioredis (a typical client) and through a thin RESP writer
// (closer to Redis's own ceiling; always); the ratio is against the faster of the two.
const redisBaseline = async (client) => {
  const gen = makeGenerator(genOpts)
  const prefix = `arena-bench:${n.id}:${client}`
  const keys = new Set()
  let t0, send, drain, close
  if (client === "ioredis") {
    const r = new Redis({ host: "127.0.0.1", port: 6379, lazyConnect: true })
    await r.connect()
    const inflight = new Set()
    send = async (cmds) => {
      const e = r.pipeline(cmds).exec()
      inflight.add(e)
      void e.finally(() => inflight.delete(e))
      if (inflight.size >= 4) await Promise.race(inflight)
    }
    drain = () => Promise.all(inflight)
    close = async () => { for (const k of keys) await r.unlink(k); await r.quit() }
  } else {
    const r = await rawRedis()
    send = (cmds) => r.send(cmds, 2)
    drain = () => r.drain()
    close = async () => { await r.send([...keys].map((k) => ["UNLINK", k]), 1); await r.drain(); r.close() }
  }
  t0 = process.hrtime.bigint()
  for (let i = 0; i < EVENTS; i += 500) {
    const cmds = []
    for (let j = i; j < Math.min(EVENTS, i + 500); j++) {
      const ev = gen(j)
      const pts = pointsOf(ev)
      for (const k of boardKeys(prefix, ev)) { cmds.push(["zincrby", k, pts, ev.user_id]); keys.add(k) }
    }
    await send(cmds)
  }
  await drain()
  const ms = Number(process.hrtime.bigint() - t0) / 1e6
  await close()
  return EVENTS / (ms / 1000)
}
// ioredis costs ~2× the time of the whole baseline for a lower figure, so it runs only on request.
const redisIo = values.ioredis ? await redisBaseline("ioredis") : 0
const redisResp = await redisBaseline("resp")
const redisRate = Math.max(redisIo, redisResp)
log(`baseline Redis 8 × ZINCRBY per event, pipelined: ${fmt(redisResp)} events/s via a thin RESP writer${redisIo ? `, ${fmt(redisIo)} events/s via ioredis` : ""}`)

/**
 * One service run from an empty database to caught up; returns its measurements. The service runs as
 * a user runs it: `node bin/arena serve`, Node's default flags and heap, every ARENA_* setting at its
 * default (snapshot every 5 s, rate limits on: the bench's only requests are /readyz and /metrics,
 * which are exempt, and 4 WebSocket upgrades). Only the profiled pass adds the bench preload (it
 * starts the V8 profiler in the service).
 */
const runService = async (names, label, profileFile) => {
  const svc = await startService(names, profileFile ? benchEnv({ ARENA_BENCH_PROFILE: profileFile }) : {})
  const listenAt = Date.now()
  const cpuAtListen = treeCpu(svc.child.pid)
  const w = await watchers(svc.port, WATCH)
  const tl = timeline(svc)
  let peak = 0
  // The clock stops when every event is visible (/readyz seq: boards, profiles and ledgers), not when ingested.
  const readyAt = await waitReady(svc.port, EVENTS, 3_600_000, () => { peak = Math.max(peak, treeRss(svc.child.pid)) })
  const readyUs = Number(process.hrtime.bigint() / 1000n)
  const cpu = treeCpu(svc.child.pid)
  const cpuMain = cpuOf(svc.child.pid)
  const rss = treeRss(svc.child.pid)
  if (profileFile) {
    svc.child.kill("SIGUSR2") // the preload stops the profiler and writes the file
    for (let i = 0; i < 600 && !fs.existsSync(profileFile); i++) await sleep(100)
  }
  await sleep(1000) // let the last coalesced deltas reach the watchers
  await tl.stop()
  w.close()
  const m = /caught up at seq \d+: replayed (\d+) events in (\d+) ms/.exec(svc.log())
  const replayMs = m ? Number(m[2]) : readyAt - listenAt
  await stopService(svc)
  const r = {
    label, replayMs, rate: EVENTS / (replayMs / 1000), wallSecs: (readyAt - svc.startedAt) / 1000, cpuSecs: cpu, cpuMain, cpuDuring: cpu - cpuAtListen,
    rss, peak: Math.max(peak, rss), watch: w.stats, points: tl.points, readyUs, pid: svc.child.pid,
    steady: median(rates(tl.points).filter((x) => x.rate > 0).map((x) => x.rate)),
    stall: stalls(tl.points.filter((p) => p.t <= readyAt - tl.t0))
  }
  log(`${label}: caught up in ${(replayMs / 1000).toFixed(1)} s → ${fmt(r.rate)} events/s (median 1-s rate ${fmt(r.steady)}), ` +
    `process start → ready ${r.wallSecs.toFixed(1)} s, CPU ${cpu.toFixed(1)} s (service ${cpuMain.toFixed(1)} s, chDB child ${(cpu - cpuMain).toFixed(1)} s), ` +
    `RSS ${fmt(rss / 2 ** 20)} MiB (peak ${fmt(r.peak / 2 ** 20)} MiB); no progress for ${r.stall.stillSecs.toFixed(1)} s in total (${r.stall.analyticsFullSecs.toFixed(1)} s of it with the analytics buffer ≥ 90% full), longest /readyz silence ${fmt(r.stall.longestGapMs)} ms`)
  for (const s of w.stats) log(`  watcher ${s.spec.board}/${s.spec.window}: ${s.snapshots} snapshot(s), ${fmt(s.deltas)} deltas, ${fmt(s.bytes / 1024)} KiB, prev_seq gaps ${s.gaps}`)
  return r
}

const main = await runService(n, "arena")

// Optional profiled pass (same stream, fresh database): top self-time functions while catching up.
let profileText = ""
if (values["cpu-prof"]) {
  const u = new URL(n.databaseUrl)
  u.pathname = `/${n.database}p`
  const n2 = { ...n, database: `${n.database}p`, databaseUrl: u.toString(), dataDir: fs.mkdtempSync(path.join(os.tmpdir(), "arena-bench-prof-")) }
  execFileSync(process.execPath, ["bin/arena", "migrate"], { cwd: ROOT, env: envFor(n2), stdio: ["ignore", "ignore", "inherit"] })
  const file = path.join(os.tmpdir(), `arena-pipeline-${n.id}.cpuprofile`)
  const p = await runService(n2, "arena (CPU-profiled)", file)
  if (fs.existsSync(file)) {
    const s = summarizeProfile(file, p.readyUs - p.replayMs * 1000, p.readyUs)
    const lines = [`CPU profile of the service while catching up (${fmt(s.totalMs)} ms sampled of ${fmt(p.replayMs)} ms; 1 ms sampling):`, "  self ms   share  function",
      ...s.top.map((x) => `  ${fmt(x.ms).padStart(7)}  ${(x.share * 100).toFixed(1).padStart(5)}%  ${x.fn}`),
      "  by area (self time):", ...s.areas.map((x) => `  ${fmt(x.ms).padStart(7)}  ${(x.share * 100).toFixed(1).padStart(5)}%  ${x.area}`)]
    profileText = lines.join("\n")
    process.stdout.write(profileText + "\n")
    log(`profile kept at ${file} (open in Chrome DevTools → Performance)`)
  } else log(`no profile written to ${file}`)
  if (!values.keep) await cleanup(n2).catch(() => {})
}

if (values.chart) {
  const png = path.join(ROOT, "bench/pipeline-throughput.png")
  await renderChart(png, {
    title: `Pipeline throughput: ${fmt(EVENTS)} events, ${fmt(USERS)} users, ${AGENTS} agents (8 boards per event)`,
    xLabel: "seconds since the gateway listened", yLabel: "events/s (1-s bins)",
    series: [{ label: "Arena applied events/s (WS watchers on 4 boards)", points: rates(main.points).map((x) => [x.t / 1000, x.rate]) }],
    hlines: [{ y: rawRate, label: `raw ordered consume + JSON.parse ${fmt(rawRate)}/s`, color: "#dc2626" }, { y: redisRate, label: `Redis 8×ZINCRBY pipelined ${fmt(redisRate)}/s`, color: "#16a34a" }],
    note: `${new Date().toISOString().slice(0, 16)} · ${machine()}`
  })
  log(`chart: ${png}`)
}
await h.nc.close()

const deltas = main.watch.reduce((a, s) => a + s.deltas, 0), gaps = main.watch.reduce((a, s) => a + s.gaps, 0)
const row = `${fmt(EVENTS)} events, ${fmt(USERS)} users, ${AGENTS} agents, ${WATCH.length} WS watchers; ${SETUP}${SPAN} | ` +
  `arena ${fmt(main.rate)} ev/s (caught up in ${(main.replayMs / 1000).toFixed(1)} s; median 1-s rate ${fmt(main.steady)}) | ` +
  `raw consume ${fmt(rawRate)} ev/s → ratio ${(main.rate / rawRate).toFixed(2)} | Redis 8×ZINCRBY ${fmt(redisRate)} ev/s → ratio ${(main.rate / redisRate).toFixed(2)} | ` +
  `CPU ${main.cpuSecs.toFixed(1)} s (${(main.cpuSecs * 1e6 / EVENTS).toFixed(0)} µs/event: service ${(main.cpuMain * 1e6 / EVENTS).toFixed(0)}, chDB child ${((main.cpuSecs - main.cpuMain) * 1e6 / EVENTS).toFixed(0)}), RSS ${fmt(main.rss / 2 ** 20)} MiB | ` +
  `stalled ${main.stall.stillSecs.toFixed(0)} s, longest /readyz silence ${(main.stall.longestGapMs / 1000).toFixed(1)} s | ${fmt(deltas)} deltas, ${gaps} gaps | build ${BUILD} | ${machine()}` +
  (values.chart ? ` | ![events/s over time, this run; the file is overwritten by the next --chart run](pipeline-throughput.png)` : "")
if (!values["no-record"]) { appendResult("Pipeline throughput (bench/pipeline.mjs)", row); log("appended to bench/RESULTS.md") }
if (!values.keep) await cleanup(n)
