#!/usr/bin/env node
// Rules dry run at scale (ARCHITECTURE §10, issue 14): a stream of 1M events (100k users, 20 agents,
// 40 days) is processed by the service; then POST /v1/rules/dry-run scores the whole stream under a
// proposed rules file beside the rules in force, in a child process. Reported: the dry run's wall
// time and peak memory (target ≤ 60 s for 1M events), and the service's query p99 at a fixed rate
// before and while the dry run runs (target: within 2×), with the load average of the run.
// Run: npm run build && node bench/dryrun.mjs [--events N] [--users N] [--rate N] [--keep] [--no-record]
import { execFileSync } from "node:child_process"
import { parseArgs } from "node:util"
import { makeGenerator, produce } from "../dist/cli/Producer.js"
import { DEFAULT_RULES_DOCUMENT } from "../dist/domain/DefaultRules.js"
import { appendResult, cleanup, envFor, fmt, freshNames, machine, nats, ROOT, startService, stopService, waitReady } from "./lib.mjs"
import { buildId, fixedRate, latencyAt, log, mintToken, sleep } from "./support.mjs"

const { values } = parseArgs({ options: { events: { type: "string" }, users: { type: "string" }, rate: { type: "string" }, keep: { type: "boolean" }, "no-record": { type: "boolean" } } })
const EVENTS = Number(values.events ?? 1_000_000)
const USERS = Number(values.users ?? 100_000)
const RATE = Number(values.rate ?? 300) // queries/s: a dashboard-like load, not a saturation test
const WINDOW_MS = 5000

const n = freshNames("dry")
const BUILD = buildId() // at start: others rebuild dist/ while a run goes on
log(`machine: ${machine()}; build ${BUILD}`)
log(`scenario: ${fmt(EVENTS)} events, ${fmt(USERS)} users, 20 agents over 40 days; queries at ${RATE}/s; stream ${n.stream}`)
execFileSync(process.execPath, ["bin/arena", "migrate"], { cwd: ROOT, env: envFor(n), stdio: ["ignore", "ignore", "inherit"] })
const h = await nats()
const span = 40 * 86_400_000
const t0 = Date.now() - span
const gen = makeGenerator({ users: USERS, agents: 20, seed: 31, idPrefix: "dry", timestamp: (i) => new Date(t0 + Math.floor((i / EVENTS) * span)).toISOString() })
let tp = Date.now()
await produce(h.js, n.subject, gen, { count: EVENTS, rate: 0, inFlight: 4000 })
log(`published ${fmt(EVENTS)} in ${((Date.now() - tp) / 1000).toFixed(1)} s`)
await h.nc.close()

const svc = await startService(n, { ARENA_RATE_LIMIT_PER_IP: "off", ARENA_RATE_LIMIT_PER_TOKEN: "off" })
tp = Date.now()
await waitReady(svc.port, EVENTS)
log(`service caught up with ${fmt(EVENTS)} events in ${((Date.now() - tp) / 1000).toFixed(1)} s`)
const token = await mintToken("bench", "admin")
const base = `http://127.0.0.1:${svc.port}`

// The queries a dashboard makes: top-100, around-me and a profile of users on the board.
const known = (await (await fetch(`${base}/v1/leaderboards/global?limit=1000`)).json()).entries.map((e) => encodeURIComponent(e.user_id))
const any = () => known[Math.floor(Math.random() * known.length)]
const paths = [() => "/v1/leaderboards/global?limit=100", () => `/v1/leaderboards/global/users/${any()}?radius=5`, () => `/v1/users/${any()}`]
let k = 0
const next = () => paths[k++ % paths.length]()
const measure = async (until) => {
  const lat = []
  let failed = 0, total = 0
  do {
    const r = await fixedRate(svc.port, RATE, WINDOW_MS, next)
    lat.push(...r.lat)
    failed += r.failed
    total += r.total
  } while (!until())
  lat.sort((a, b) => a - b)
  return { p50: latencyAt(lat, failed, 50), p99: latencyAt(lat, failed, 99), failed, total }
}
let windows = 0
const idle = await measure(() => ++windows >= 3)
log(`queries without a dry run: p50 ${idle.p50.toFixed(2)} ms, p99 ${idle.p99.toFixed(2)} ms (${fmt(idle.total)} requests, ${idle.failed} failed)`)

// The proposed change: speed_bonus 5 → 15, api_master after 5 designs instead of 10, level 5 at 1,000 XP.
const proposed = {
  ...DEFAULT_RULES_DOCUMENT,
  version: "arena-default-2",
  actions: { ...DEFAULT_RULES_DOCUMENT.actions, speed_bonus: { points: 15 } },
  levels: DEFAULT_RULES_DOCUMENT.levels.map((l) => (l.level === 5 ? { ...l, xp: 1000 } : l)),
  achievements: DEFAULT_RULES_DOCUMENT.achievements.map((a) => (a.id === "api_master" ? { ...a, condition: { ...a.condition, count: 5 } } : a))
}
const tStart = Date.now()
const started = await (await fetch(`${base}/v1/rules/dry-run`, { method: "POST", headers: { authorization: `Bearer ${token}`, "content-type": "application/json" }, body: JSON.stringify(proposed) })).json()
if (started.job_id === undefined) throw new Error(`dry run not started: ${JSON.stringify(started)}`)
let job = started
const poll = (async () => {
  while (job.status === "running") {
    await sleep(500)
    job = await (await fetch(`${base}/v1/rules/dry-run/${started.job_id}`, { headers: { authorization: `Bearer ${token}` } })).json()
    if (job.progress) process.stdout.write(`\r  dry run ${job.progress.percent.toFixed(1)}% (${fmt(job.progress.events_per_second)} ev/s)   `)
  }
})()
const during = await measure(() => job.status !== "running")
await poll
const wallSecs = (Date.now() - tStart) / 1000
process.stdout.write("\n")
if (job.status !== "done") throw new Error(`dry run failed: ${job.error}`)
const r = job.result
log(`queries during the dry run: p50 ${during.p50.toFixed(2)} ms, p99 ${during.p99.toFixed(2)} ms (${fmt(during.total)} requests, ${during.failed} failed)`)
log(`dry run: ${fmt(r.stream.messages)} messages in ${(r.run.elapsed_ms / 1000).toFixed(1)} s in the child (${fmt(r.run.events_per_second)} ev/s; ${wallSecs.toFixed(1)} s from POST to done), ` +
  `peak RSS ${fmt(r.run.peak_rss_bytes / 2 ** 20)} MiB; ${fmt(r.users.changed)} of ${fmt(r.users.after)} users change, XP moved ${fmt(r.xp.moved)}, ${r.boards.length} boards`)

const ratio = during.p99 / idle.p99
const row = `${fmt(EVENTS)} events, ${fmt(USERS)} users, 20 agents · dry run (child process, nice 10) ${(r.run.elapsed_ms / 1000).toFixed(1)} s for ${fmt(r.stream.messages)} messages ` +
  `(${fmt(r.run.events_per_second)} ev/s; target ≤ 60 s ${r.run.elapsed_ms <= 60_000 ? "met" : "NOT met"}), peak RSS ${fmt(r.run.peak_rss_bytes / 2 ** 20)} MiB · ` +
  `service query p99 at ${RATE} req/s: ${idle.p99.toFixed(1)} ms without, ${during.p99.toFixed(1)} ms during (×${ratio.toFixed(2)}; target ≤ ×2 ${ratio <= 2 ? "met" : "NOT met"}; ` +
  `${idle.failed + during.failed} failed) · report: ${fmt(r.users.changed)} users change, XP moved ${fmt(r.xp.moved)} · build ${BUILD} · ${machine()}`
log(row)
if (!values["no-record"]) appendResult("Rules dry run (bench/dryrun.mjs)", row)
await stopService(svc)
if (!values.keep) await cleanup(n)
process.exit(0)
