#!/usr/bin/env node
// Memory: RSS and heap per user and per board entry once the service holds N users (default 100k; 2 events
// per user, every user named once), after a full GC, against Redis's used_memory for the same sorted sets
// (the same 8 ZINCRBY per event) loaded in the same run. Idle RSS of the same service is measured first.
// Run: npm run build && node bench/memory.mjs [--users N] [--per-user N] [--no-record]
import { execFileSync } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { parseArgs } from "node:util"
import Redis from "ioredis"
import { makeGenerator, produce } from "../dist/cli/Producer.js"
import { appendResult, cleanup, envFor, fmt, freshNames, machine, nats, readyz, ROOT, mallocNote, rssOf, startService, stopService, waitReady } from "./lib.mjs"
import { benchEnv, boardKeys, buildId, descendants, log, pointsOf, rawRedis, sleep } from "./support.mjs"

const { values } = parseArgs({ options: { users: { type: "string" }, "per-user": { type: "string" }, "no-record": { type: "boolean" } } })
const USERS = Number(values.users ?? 100_000)
const EVENTS = USERS * Number(values["per-user"] ?? 2)
const MiB = 2 ** 20

const n = freshNames("mem")
const BUILD = buildId() // at start: others rebuild dist/ while a run goes on
log(`machine: ${machine()}; build ${BUILD}`)
log(`scenario: ${fmt(USERS)} users, ${fmt(EVENTS)} events (timestamps in the open day/week/month); stream ${n.stream}`)
execFileSync(process.execPath, ["bin/arena", "migrate"], { cwd: ROOT, env: envFor(n), stdio: ["ignore", "ignore", "inherit"] })
const memFile = path.join(os.tmpdir(), `arena-mem-${n.id}.json`)
const svc = await startService(n, benchEnv({ ARENA_BENCH_MEMFILE: memFile }))
await waitReady(svc.port, 0)

/** Full GC in the service, then its memoryUsage and RSS (the preload answers SIGUSR2). */
const measure = async () => {
  fs.rmSync(memFile, { force: true })
  svc.child.kill("SIGUSR2")
  for (let i = 0; i < 300 && !fs.existsSync(memFile); i++) await sleep(100)
  await sleep(200)
  const m = JSON.parse(fs.readFileSync(memFile, "utf8"))
  return { rss: rssOf(svc.child.pid), heapUsed: m.after.heapUsed, heapTotal: m.after.heapTotal, external: m.after.external + m.after.arrayBuffers, child: descendants(svc.child.pid).reduce((a, p) => a + rssOf(p), 0) }
}
await sleep(2000)
const idle = await measure()
log(`idle service: RSS ${fmt(idle.rss / MiB)} MiB, heap used ${fmt(idle.heapUsed / MiB)} MiB (chDB child ${fmt(idle.child / MiB)} MiB)`)

// Live ingest into the running service; every user is named once so the global board holds all of them.
const tBase = Date.now() - 600_000
// A generator is a seeded PRNG walked in order: each pass over the events needs a fresh one.
const makeGen = () => {
  const base = makeGenerator({ users: USERS, agents: 20, seed: 31, idPrefix: "mem", timestamp: (i) => new Date(tBase + Math.floor((i / EVENTS) * 590_000)).toISOString() })
  return (i) => { const ev = base(i); if (i < USERS) ev.user_id = `user-${i}`; return ev }
}
const h = await nats()
let peak = 0
const tp = Date.now()
await produce(h.js, n.subject, makeGen(), { count: EVENTS, rate: 0, inFlight: 4000, onProgress: (k) => {
  peak = Math.max(peak, rssOf(svc.child.pid))
  if (k % 500_000 === 0) log(`published ${fmt(k)} (${fmt(k / ((Date.now() - tp) / 1000))}/s)`)
} })
await waitReady(svc.port, EVENTS, 3_600_000, () => { peak = Math.max(peak, rssOf(svc.child.pid)) })
// Let the snapshotter and the analytics sink settle so their buffers are not counted as state.
for (let i = 0; i < 120; i++) {
  const d = (await readyz(svc.port)).body.details ?? {}
  if (d.snapshot_seq >= EVENTS && (d.analytics_buffered ?? 0) === 0) break
  await sleep(500)
}
const full = await measure()
const lb = await (await fetch(`http://127.0.0.1:${svc.port}/v1/leaderboards`)).json()
const entries = lb.boards.flatMap((b) => b.windows).reduce((a, w) => a + w.size, 0)
const boardCount = lb.boards.flatMap((b) => b.windows).length
const globalAll = lb.boards.find((b) => b.board === "global")?.windows.find((w) => w.window === "all")?.size ?? 0
log(`after ${fmt(EVENTS)} events: ${fmt(globalAll)} users on global/all, ${boardCount} boards, ${fmt(entries)} board entries (${(entries / USERS).toFixed(1)} per user)`)
log(`service: RSS ${fmt(full.rss / MiB)} MiB (peak ${fmt(Math.max(peak, full.rss) / MiB)} MiB), heap used ${fmt(full.heapUsed / MiB)} MiB of ${fmt(full.heapTotal / MiB)} MiB committed, external ${fmt(full.external / MiB)} MiB; chDB child RSS ${fmt(full.child / MiB)} MiB`)
const dRss = full.rss - idle.rss, dHeap = full.heapUsed - idle.heapUsed
log(`growth over idle: RSS ${fmt(dRss / MiB)} MiB = ${fmt(dRss / USERS)} B/user = ${fmt(dRss / entries)} B/board entry; heap ${fmt(dHeap / USERS)} B/user`)
await stopService(svc)

// Baseline: Redis holding the same sorted sets (same events, same 8 board keys, ZINCRBY), used_memory delta.
const r = new Redis({ host: "127.0.0.1", port: 6379 })
const usedMemory = async () => Number(/used_memory:(\d+)/.exec(await r.info("memory"))[1])
const prefix = `arena-bench:${n.id}`
const m0 = await usedMemory()
const raw = await rawRedis()
const keys = new Set()
const gen = makeGen()
for (let i = 0; i < EVENTS; i += 500) {
  const cmds = []
  for (let j = i; j < Math.min(EVENTS, i + 500); j++) {
    const ev = gen(j)
    for (const k of boardKeys(prefix, ev)) { cmds.push(["zincrby", k, pointsOf(ev), ev.user_id]); keys.add(k) }
  }
  await raw.send(cmds, 2)
}
await raw.drain()
let redisEntries = 0
const redisSizes = new Map()
for (const k of keys) { const c = await r.zcard(k); redisSizes.set(k.slice(prefix.length + 1), c); redisEntries += c }
// The two must hold the same sets; name the boards that differ (a correctness hint, not a failure).
const diffs = []
for (const b of lb.boards) for (const w of b.windows) {
  const key = `${b.board}:${w.window === "all" ? "all" : `${w.window}:${w.period}`}`
  if ((redisSizes.get(key) ?? 0) !== w.size) diffs.push(`${key} arena ${w.size} vs redis ${redisSizes.get(key) ?? 0}`)
}
if (diffs.length > 0) log(`board sizes that differ from Redis (${diffs.length}): ${diffs.slice(0, 6).join("; ")}`)
const m1 = await usedMemory()
const redisBytes = m1 - m0
log(`Redis: ${keys.size} sorted sets, ${fmt(redisEntries)} entries, used_memory +${fmt(redisBytes / MiB)} MiB = ${fmt(redisBytes / redisEntries)} B/entry, ${fmt(redisBytes / USERS)} B/user`)
await raw.send([...keys].map((k) => ["UNLINK", k]), 1)
await raw.drain()
raw.close()
await r.quit()
await h.nc.close()

const row = `${fmt(USERS)} users, ${fmt(EVENTS)} events, ${boardCount} boards, ${fmt(entries)} entries (${(entries / USERS).toFixed(1)}/user)${mallocNote()} | ` +
  `RSS ${fmt(full.rss / MiB)} MiB after GC (idle ${fmt(idle.rss / MiB)}; peak ${fmt(Math.max(peak, full.rss) / MiB)}), heap ${fmt(full.heapUsed / MiB)} MiB; chDB child ${fmt(full.child / MiB)} MiB | ` +
  `growth ${fmt(dRss / USERS)} B/user, ${fmt(dRss / entries)} B/entry | Redis same sorted sets (${fmt(redisEntries)} entries) ${fmt(redisBytes / MiB)} MiB = ${fmt(redisBytes / redisEntries)} B/entry | ` +
  `ratio RSS growth/Redis ${(dRss / redisBytes).toFixed(2)} | build ${BUILD} | ${machine()}`
if (!values["no-record"]) { appendResult("Memory (bench/memory.mjs)", row); log("appended to bench/RESULTS.md") }
fs.rmSync(memFile, { force: true })
await cleanup(n)
