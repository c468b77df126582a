#!/usr/bin/env node
// Recovery and load: a large stream (default 1M users, 5M events) is processed from scratch
// (throughput vs the raw-consume ceiling), snapshotted, then the service is killed -9 with a
// snapshot minutes old and restarted: time to load, to replay the tail, to ready; RSS. What the row says was
// replayed is what the service logged it replayed (its "caught up … replayed N events" line), not the --tail asked for.
// Run: npm run build && node bench/recovery.mjs [--users N] [--events N] [--tail N] [--heap MiB] [--keep] [--no-record]
import { execFileSync } from "node:child_process"
import { parseArgs } from "node:util"
import { makeGenerator, produce } from "../dist/cli/Producer.js"
import { appendResult, cleanup, cpuOf, envFor, fmt, freshNames, machine, nats, rawConsume, rssOf, startService, stopService, waitReady, ROOT } from "./lib.mjs"
import { buildId } from "./support.mjs"

const { values } = parseArgs({ options: { users: { type: "string" }, events: { type: "string" }, tail: { type: "string" }, keep: { type: "boolean" }, "no-record": { type: "boolean" }, heap: { type: "string" } } })
const USERS = Number(values.users ?? 1_000_000)
const EVENTS = Number(values.events ?? 5_000_000)
const TAIL = Number(values.tail ?? 200_000)
// The default scale (1M users) needs more than V8's default ~4 GiB heap, so the service gets
// --max-old-space-size=<--heap MiB> (default 16384; 0 = Node's default, as `arena serve` runs).
const HEAP = Number(values.heap ?? 16_384)
const NODE_ARGS = HEAP > 0 ? [`--max-old-space-size=${HEAP}`] : []
const log = (s) => process.stdout.write(`${new Date().toISOString().slice(11, 19)} ${s}\n`)

const n = freshNames("rec")
const BUILD = buildId() // at start: others rebuild dist/ while a run goes on
log(`machine: ${machine()}; build ${BUILD}`)
log(`scenario: ${fmt(USERS)} users, ${fmt(EVENTS)} events, tail ${fmt(TAIL)}; service flags: ${NODE_ARGS.join(" ") || "Node defaults"}; stream ${n.stream}, database ${n.database}`)
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
let svc = await startService(n, { ARENA_SNAPSHOT_INTERVAL: "30s" }, NODE_ARGS)
let peak = 0
const readyAt = await waitReady(svc.port, EVENTS, 3_600_000, () => { peak = Math.max(peak, rssOf(svc.child.pid)) })
const coldSecs = (readyAt - svc.startedAt) / 1000
const coldCpu = cpuOf(svc.child.pid)
const rssReady = rssOf(svc.child.pid)
const coldLine = /caught up at seq \d+: replayed (\d+) events in (\d+) ms/.exec(svc.log())
log(`cold: ${fmt(EVENTS / coldSecs)} events/s from process start to ready (${coldSecs.toFixed(1)} s, ${coldCpu.toFixed(1)} CPU-s of the service's main process = ${fmt(coldCpu * 1e6 / EVENTS)} µs/event)` +
  `${coldLine ? `; the service's own count: replayed ${fmt(Number(coldLine[1]))} events in ${(Number(coldLine[2]) / 1000).toFixed(1)} s` : ""}, RSS ${fmt(rssReady / 2 ** 20)} MiB (peak ${fmt(peak / 2 ** 20)} MiB)`)
const tStop = Date.now()
await stopService(svc)
log(`graceful stop with final snapshot: ${((Date.now() - tStop) / 1000).toFixed(1)} s`)

// 2. Snapshot minutes old, a tail after it, kill -9, restart.
svc = await startService(n, { ARENA_SNAPSHOT_INTERVAL: "60m" }, NODE_ARGS)
await waitReady(svc.port, EVENTS)
tp = Date.now()
const tailGen = makeGenerator({ users: USERS, agents: 20, seed: 12, idPrefix: "tail" })
await produce(h.js, n.subject, tailGen, { count: TAIL, rate: 0, inFlight: 4000 })
await waitReady(svc.port, EVENTS + TAIL)
await stopService(svc, "SIGKILL")
log(`published and applied a tail of ${fmt(TAIL)}, then kill -9 (the last snapshot is the one left by the graceful stop)`)
svc = await startService(n, { ARENA_SNAPSHOT_INTERVAL: "60m" }, NODE_ARGS)
const tReady = await waitReady(svc.port, EVENTS + TAIL)
const recoverSecs = (tReady - svc.startedAt) / 1000
const loadLine = /snapshot loaded: (\d+) users, (\d+) boards at seq (\d+) in (\d+) ms/.exec(svc.log())
const replayLine = /caught up at seq \d+: replayed (\d+) events in (\d+) ms/.exec(svc.log())
const rssRecovered = rssOf(svc.child.pid)
// What was replayed, from the service: its own count, and the stream head minus the snapshot's seq.
// No "caught up" line means the snapshot was already at the head (nothing replayed).
const snapSeq = Number(loadLine?.[3] ?? NaN)
const replayed = replayLine ? Number(replayLine[1]) : 0
const replayMs = replayLine ? Number(replayLine[2]) : 0
if (!loadLine) log("warning: no 'snapshot loaded' line in the service's log")
if (loadLine && replayed !== EVENTS + TAIL - snapSeq) log(`warning: the service replayed ${fmt(replayed)} events but the head minus the snapshot's seq is ${fmt(EVENTS + TAIL - snapSeq)}`)
log(`recovery: ready in ${recoverSecs.toFixed(1)} s (load ${loadLine?.[4]} ms for ${fmt(Number(loadLine?.[1] ?? 0))} users at seq ${fmt(snapSeq)}; replayed ${fmt(replayed)} events in ${fmt(replayMs)} ms` +
  `${replayed > 0 ? ` = ${fmt(replayed / (replayMs / 1000))} ev/s` : ""}; the tail published after the last snapshot was ${fmt(TAIL)}), RSS ${fmt(rssRecovered / 2 ** 20)} MiB`)
await stopService(svc)
await h.nc.close()

const row = `${fmt(USERS)} users, ${fmt(EVENTS)} events, service ${NODE_ARGS.join(" ") || "with Node defaults"} | cold (snapshots every 30 s, rate from process start to ready) ${fmt(EVENTS / coldSecs)} ev/s vs raw consume ${fmt(rawRate)} ev/s (ratio ${(EVENTS / coldSecs / rawRate).toFixed(2)}) | ` +
  `kill -9 → ready ${recoverSecs.toFixed(1)} s (load ${(Number(loadLine?.[4] ?? 0) / 1000).toFixed(1)} s for ${fmt(Number(loadLine?.[1] ?? 0))} users, replayed ${fmt(replayed)} events in ${(replayMs / 1000).toFixed(1)} s per the service's log; tail published ${fmt(TAIL)}) | ` +
  `RSS ${fmt(rssRecovered / 2 ** 20)} MiB (${fmt(rssRecovered / USERS)} B/user) | build ${BUILD} | ${machine()}`
if (!values["no-record"]) { appendResult("Recovery (bench/recovery.mjs)", row); log("appended to bench/RESULTS.md") }
if (!values.keep) await cleanup(n)
