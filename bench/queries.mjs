#!/usr/bin/env node
// Queries at a fixed request rate (open loop, default 5k req/s) while a producer feeds ~1k events/s into a
// board of ≥100k users: top-100, around-me (radius 5) and profile, against /healthz at the same rate (the
// server's floor) and a bare uWS app (uWS's floor), in the same run; p50/p99/p99.9 and achieved rate.
// Run: npm run build && node bench/queries.mjs [--users N] [--rate N] [--seconds N] [--ingest N] [--max-failure-rate F] [--cpu-prof] [--no-record]
import { execFileSync, fork, spawn } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { parseArgs } from "node:util"
import { makeGenerator, produce } from "../dist/cli/Producer.js"
import { appendResult, cleanup, envFor, fmt, freshNames, machine, nats, readyz, ROOT, startService, stopService, waitReady } from "./lib.mjs"
import { benchEnv, buildId, fixedRate, latencyAt, log, sleep, summarizeProfile, treeCpu } from "./support.mjs"

// `--bare`: a bare uWebSockets.js app answering every GET with a small JSON body (second baseline:
// the floor of HTTP on uWS itself, without Arena's router), run as a child process of this script.
if (process.argv.includes("--bare")) {
  const { default: uWS } = await import("uWebSockets.js")
  const app = uWS.App()
  app.get("/*", (res) => { res.writeHeader("content-type", "application/json").end('{"status":"ok"}') })
  app.listen("127.0.0.1", 0, (s) => process.send({ port: uWS.us_socket_local_port(s) }))
  process.on("disconnect", () => process.exit(0))
  await new Promise(() => {})
}

const { values } = parseArgs({ options: {
  users: { type: "string" }, rate: { type: "string" }, seconds: { type: "string" }, ingest: { type: "string" }, conns: { type: "string" }, "max-failure-rate": { type: "string" }, "no-record": { type: "boolean" }, bare: { type: "boolean" }, "cpu-prof": { type: "boolean" }
} })
const USERS = Number(values.users ?? 100_000)
const RATE = Number(values.rate ?? 5000)
const SECS = Number(values.seconds ?? 15)
const INGEST = Number(values.ingest ?? 1000)
const MAXCONNS = Number(values.conns ?? 64)
const MAX_FAIL = Number(values["max-failure-rate"] ?? 0)
const PRELOAD = USERS * 2

const n = freshNames("qry")
const BUILD = buildId() // at start: others rebuild dist/ while a run goes on
log(`machine: ${machine()}; build ${BUILD}`)
log(`scenario: board of ${fmt(USERS)} users (${fmt(PRELOAD)} events preloaded), ${fmt(RATE)} req/s × ${SECS} s per route, producer at ${fmt(INGEST)} ev/s; stream ${n.stream}`)
execFileSync(process.execPath, ["bin/arena", "migrate"], { cwd: ROOT, env: envFor(n), stdio: ["ignore", "ignore", "inherit"] })
const h = await nats()
// The first USERS events name every user once, so the global board holds all of them.
const base = makeGenerator({ users: USERS, agents: 20, seed: 21, idPrefix: "qry" })
const gen = (i) => { const ev = base(i); if (i < USERS) { ev.user_id = `user-${i}`; ev.username = `u_${i}` } return ev }
await produce(h.js, n.subject, gen, { count: PRELOAD, rate: 0, inFlight: 4000 })
// --cpu-prof: the service samples itself from start-up; each route's window is summarized at the end.
const profFile = values["cpu-prof"] ? path.join(os.tmpdir(), `arena-queries-${n.id}.cpuprofile`) : null
// Every request comes from one loopback IP: the per-IP limit (1,200/min by default) is switched off
// through its setting, so the limiter's own cost (a no-op when off) is what the figures include.
const svc = await startService(n, benchEnv({ ARENA_RATE_LIMIT_PER_IP: "off", ARENA_RATE_LIMIT_PER_TOKEN: "off", ...(profFile ? { ARENA_BENCH_PROFILE: profFile } : {}) }))
const readyAt = await waitReady(svc.port, PRELOAD)
// /readyz's seq is the visible one (boards, profiles and ledgers reflect every event ≤ it), so the
// global board should hold every user at once; checked (bounded) and the trail, if any, reported.
let boards, globalSize = 0
for (let i = 0; i < 300; i++) {
  boards = await (await fetch(`http://127.0.0.1:${svc.port}/v1/leaderboards`)).json()
  globalSize = boards.boards.find((b) => b.board === "global")?.windows.find((w) => w.window === "all")?.size ?? 0
  if (i === 0) log(`at ready: global board holds ${fmt(globalSize)} users`)
  if (globalSize >= USERS) break
  await sleep(200)
}
log(`preloaded: global board holds ${fmt(globalSize)} users ${((Date.now() - readyAt) / 1000).toFixed(1)} s after /readyz said caught up; ${boards.boards.length} boards`)

// A steady stream while querying: `arena produce` in its own process, bounded, stopped at the end.
const routes = [
  { name: "/healthz (floor)", path: () => "/healthz" },
  { name: "top-100", path: () => "/v1/leaderboards/global?limit=100" },
  { name: "around-me r=5", path: () => `/v1/leaderboards/global/users/user-${Math.floor(Math.random() * USERS)}?radius=5` },
  { name: "profile", path: () => `/v1/users/user-${Math.floor(Math.random() * USERS)}` },
  { name: "/healthz again", path: () => "/healthz" }
]
const producer = spawn(process.execPath, [path.join(ROOT, "bin/arena"), "produce", "--count", String(INGEST * ((routes.length + 1) * (SECS + 4) + 30)), "--rate", String(INGEST), "--users", String(USERS), "--seed", "5"],
  { cwd: ROOT, env: envFor(n), stdio: ["ignore", "ignore", "pipe"] })
await sleep(3000)

const bare = fork(import.meta.filename, ["--bare"], { stdio: ["ignore", "ignore", "inherit", "ipc"] })
const barePort = await new Promise((res) => bare.once("message", (m) => res(m.port)))
routes.unshift({ name: "bare uWS (floor)", path: () => "/healthz", port: barePort })

const ms = (v) => (v === Infinity ? "∞ (failed)" : `${v.toFixed(2)} ms`)
const pctOf = (f) => `${(f * 100).toFixed(f > 0 && f < 0.001 ? 3 : 1)}%`
const results = []
for (const r of routes) {
  const port = r.port ?? svc.port
  await fixedRate(port, RATE, 1000, r.path, MAXCONNS) // warm-up: JIT, sockets
  const seq0 = (await readyz(svc.port)).body.details?.seq ?? 0
  const fromUs = Number(process.hrtime.bigint() / 1000n)
  const cpu0 = treeCpu(svc.child.pid)
  const x = await fixedRate(port, RATE, SECS * 1000, r.path, MAXCONNS)
  const toUs = Number(process.hrtime.bigint() / 1000n)
  const seq1 = (await readyz(svc.port)).body.details?.seq ?? 0
  const cpu = treeCpu(svc.child.pid) - cpu0
  x.lat.sort((a, b) => a - b)
  // Percentiles over every scheduled request: failed ones (non-2xx, socket closed, lost) rank after
  // every success, so they are in the distribution ("∞" when a percentile falls among them).
  const at = (p) => latencyAt(x.lat, x.failed, p)
  const res = { name: r.name, p50: at(50), p99: at(99), p999: at(99.9), max: x.failed > 0 ? Infinity : x.lat[x.lat.length - 1], rps: x.lat.length / x.secs,
    total: x.total, failed: x.failed, failRate: x.failed / x.total, outcomes: [...x.status].map(([k, v]) => `${k}×${v}`).join(" "), conns: x.conns, applied: (seq1 - seq0) / x.secs, cpu: cpu / x.secs, fromUs, toUs }
  results.push(res)
  log(`${r.name.padEnd(17)} ${fmt(res.rps)} req/s answered 2xx of ${fmt(RATE)} scheduled, p50 ${ms(res.p50)}, p99 ${ms(res.p99)}, p99.9 ${ms(res.p999)}, max ${ms(res.max)}; ` +
    `${fmt(res.failed)} of ${fmt(res.total)} failed (${pctOf(res.failRate)}; outcomes ${res.outcomes}); ${res.conns} sockets; pipeline applied ${fmt(res.applied)} ev/s; service ${(res.cpu * 100).toFixed(0)}% CPU`)
}

if (profFile) {
  svc.child.kill("SIGUSR2")
  for (let i = 0; i < 600 && !fs.existsSync(profFile); i++) await sleep(100)
  await sleep(300)
  for (const r of results.filter((x) => !x.name.startsWith("bare"))) {
    const p = summarizeProfile(profFile, r.fromUs, r.toUs, 10)
    log(`CPU profile, ${r.name} (${fmt(p.totalMs)} ms sampled): ` + p.top.map((x) => `${(x.share * 100).toFixed(1)}% ${x.fn.trim()}`).join(" · "))
  }
  log(`profile kept at ${profFile}`)
}
producer.kill("SIGTERM")
bare.disconnect()
await stopService(svc)
await h.nc.close()
const [bareRes, floor] = results
const num = (v) => (v === Infinity ? "∞" : v.toFixed(2))
const q = (x) => `${x.name} p50 ${num(x.p50)} / p99 ${num(x.p99)} ms (${fmt(x.rps)}/s 2xx; failed ${pctOf(x.failRate)}${x.failed ? `: ${x.outcomes.replace(/\b2\d\d×\d+ ?/g, "").trim()}` : ""})`
const ratio = (x) => (x.p99 === Infinity || floor.p99 === Infinity ? "∞" : (x.p99 / floor.p99).toFixed(1))
// A run where any route failed more than --max-failure-rate of its requests (default 0: any) did not
// hold the rate: the row says FAILED with the failure rates, and the script exits 1.
const failedRoutes = results.filter((x) => x.failRate > MAX_FAIL)
const verdict = failedRoutes.length === 0 ? "" : `FAILED (${failedRoutes.map((x) => `${x.name} ${pctOf(x.failRate)} of requests failed`).join(", ")}) | `
const row = `${verdict}${fmt(globalSize)} users on global, ${fmt(RATE)} req/s × ${SECS} s per route, ingest ~${fmt(INGEST)} ev/s; percentiles over every scheduled request, failures ranked last | ` +
  results.slice(2, 5).map(q).join(" | ") + ` | baselines ${q(floor)}, ${q(bareRes)}, ${q(results[5])}; p99 ratio vs /healthz ${results.slice(2, 5).map(ratio).join("/")} | build ${BUILD} | ${machine()}`
if (verdict) log(verdict.slice(0, -3))
if (!values["no-record"]) { appendResult("Queries at a fixed rate (bench/queries.mjs)", row); log("appended to bench/RESULTS.md") }
await cleanup(n)
if (failedRoutes.length > 0) process.exitCode = 1
