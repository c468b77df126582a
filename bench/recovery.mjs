#!/usr/bin/env node
// Recovery and load: a large stream (default 1M users, 5M events) is processed from scratch
// (throughput vs the raw-consume ceiling), snapshotted, then the service is killed -9 with a
// snapshot minutes old and restarted: time to load, to replay the tail, to ready; RSS.
// Run: npm run build && node bench/recovery.mjs [--users N] [--events N] [--tail N] [--keep]
import { execFileSync } from "node:child_process"
import { parseArgs } from "node:util"
import { makeGenerator, produce } from "../dist/cli/Producer.js"
import { appendResult, cleanup, cpuOf, envFor, fmt, freshNames, machine, nats, rawConsume, rssOf, startService, stopService, waitReady, ROOT } from "./lib.mjs"

const { values } = parseArgs({ options: { users: { type: "string" }, events: { type: "string" }, tail: { type: "string" }, keep: { type: "boolean" } } })
const USERS = Number(values.users ?? 1_000_000)
const EVENTS = Number(values.events ?? 5_000_000)
const TAIL = Number(values.tail ?? 200_000)
const log = (s) => process.stdout.write(`${new Date().toISOString().slice(11, 19)} ${s}\n`)

const n = freshNames("rec")
log(`machine: ${machine()}`)
log(`scenario: ${fmt(USERS)} users, ${fmt(EVENTS)} events, tail ${fmt(TAIL)}; stream ${n.stream}, database ${n.database}`)
execFileSync(process.execPath, ["bin/arena", "migrate"], { cwd: ROOT, env: envFor(n), stdio: "inherit" })
const h = await nats()
const span = 40 * 86_400_000
const t0 = Date.now() - span
const gen = makeGenerator({ users: USERS, agents: 20, seed: 11, idPrefix: "rec", timestamp: (i) => new Date(t0 + Math.floor((i / EVENTS) * span)).toISOString() })
let tp = Date.now()
await produce(h.js, n.subject, gen, { count: EVENTS, rate: 0, inFlight: 4000, onProgress: (k) => { if (k % 500_000 === 0) log(`published ${fmt(k)} (${fmt(k / ((Date.now() - tp) / 1000))}/s)`) } })
log(`published ${fmt(EVENTS)} in ${((Date.now() - tp) / 1000).toFixed(1)} s`)

// Baseline in the same run: the raw ordered-consume + JSON.parse ceiling over the same stream.
const rawMs = await rawConsume(h.js, n.stream, 1, EVENTS)
const rawRate = EVENTS / (rawMs / 1000)
log(`baseline raw consume + JSON.parse: ${fmt(rawRate)} events/s`)

// 1. From scratch: throughput to caught up.
let svc = await startService(n, { ARENA_SNAPSHOT_INTERVAL: "30s" })
let peak = 0
const readyAt = await waitReady(svc.port, EVENTS, 3_600_000, () => { peak = Math.max(peak, rssOf(svc.child.pid)) })
const coldSecs = (readyAt - svc.startedAt) / 1000
const coldCpu = cpuOf(svc.child.pid)
const rssReady = rssOf(svc.child.pid)
log(`cold: ${fmt(EVENTS / coldSecs)} events/s (${coldSecs.toFixed(1)} s, ${coldCpu.toFixed(1)} CPU-s), RSS ${fmt(rssReady / 2 ** 20)} MiB (peak ${fmt(peak / 2 ** 20)} MiB)`)
const tStop = Date.now()
await stopService(svc)
log(`graceful stop with final snapshot: ${((Date.now() - tStop) / 1000).toFixed(1)} s`)

// 2. Snapshot minutes old, a tail after it, kill -9, restart.
svc = await startService(n, { ARENA_SNAPSHOT_INTERVAL: "60m" })
await waitReady(svc.port, EVENTS)
tp = Date.now()
const tailGen = makeGenerator({ users: USERS, agents: 20, seed: 12, idPrefix: "tail" })
await produce(h.js, n.subject, tailGen, { count: TAIL, rate: 0, inFlight: 4000 })
await waitReady(svc.port, EVENTS + TAIL)
await stopService(svc, "SIGKILL")
log(`published and applied a tail of ${fmt(TAIL)}, then kill -9 (the last snapshot is the one left by the graceful stop)`)
svc = await startService(n, { ARENA_SNAPSHOT_INTERVAL: "60m" })
const tReady = await waitReady(svc.port, EVENTS + TAIL)
const recoverSecs = (tReady - svc.startedAt) / 1000
const loadLine = /snapshot loaded: (\d+) users, (\d+) boards at seq (\d+) in (\d+) ms/.exec(svc.log())
const replayLine = /caught up at seq \d+: replayed (\d+) events in (\d+) ms/.exec(svc.log())
const rssRecovered = rssOf(svc.child.pid)
log(`recovery: ready in ${recoverSecs.toFixed(1)} s (load ${loadLine?.[4]} ms for ${fmt(Number(loadLine?.[1] ?? 0))} users; replay ${replayLine?.[1]} events in ${replayLine?.[2]} ms), RSS ${fmt(rssRecovered / 2 ** 20)} MiB`)
await stopService(svc)
await h.nc.close()

const row = `${fmt(USERS)} users, ${fmt(EVENTS)} events | cold ${fmt(EVENTS / coldSecs)} ev/s vs raw consume ${fmt(rawRate)} ev/s (ratio ${(EVENTS / coldSecs / rawRate).toFixed(2)}) | ` +
  `kill -9 → ready ${recoverSecs.toFixed(1)} s (load ${(Number(loadLine?.[4] ?? 0) / 1000).toFixed(1)} s, replay ${fmt(TAIL)} in ${(Number(replayLine?.[2] ?? 0) / 1000).toFixed(1)} s) | ` +
  `RSS ${fmt(rssRecovered / 2 ** 20)} MiB (${fmt(rssRecovered / USERS)} B/user) | ${machine()}`
appendResult("Recovery (bench/recovery.mjs)", row)
log(`appended to bench/RESULTS.md`)
if (!values.keep) await cleanup(n)
