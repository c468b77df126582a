#!/usr/bin/env node
// The processor in-process: the pipeline's per-event work (decode, Nats-Msg-Id check, XP rules, the
// user table, all 8 board moves, records, and snapshot cuts between slices) over raw messages held in
// memory, against a same-run decode-only baseline (the size/UTF-8/JSON/schema decode and the msg-id
// check of the same messages). No NATS, Postgres, ClickHouse or gateway: CPU per event of the core
// alone, cheap and far less noisy than bench/pipeline.mjs, so before/after pairs can be compared.
// Run: npm run build && node bench/processor.mjs [--events 1000000] [--users 100000] [--agents 20]
//        [--rounds 5] [--cut-every 250000] [--dist dir] [--base dir] [--alloc-prof] [--no-record]
// --base dir: also run another build's processor (e.g. main's dist) in the same process, in
// alternating order each round, and report the paired ratio: before/after on a shared machine.
import * as path from "node:path"
import { Session } from "node:inspector"
import { PerformanceObserver } from "node:perf_hooks"
import { parseArgs } from "node:util"
import { appendResult, fmt, machine, ROOT } from "./lib.mjs"

const { values } = parseArgs({ options: {
  events: { type: "string" }, users: { type: "string" }, agents: { type: "string" }, rounds: { type: "string" },
  "cut-every": { type: "string" }, dist: { type: "string" }, base: { type: "string" }, "alloc-prof": { type: "boolean" }, "no-record": { type: "boolean" }
} })
const EVENTS = Number(values.events ?? 1_000_000)
const USERS = Number(values.users ?? 100_000)
const AGENTS = Number(values.agents ?? 20)
const ROUNDS = Number(values.rounds ?? 5)
// The pipeline cuts every 5 s: at the 50k ev/s target that is one cut per 250k events.
const CUT_EVERY = Number(values["cut-every"] ?? 250_000)
const DIST = path.resolve(values.dist ?? path.join(ROOT, "dist"))
// The pipeline's slice: SLICE_CHECK events at a time until 4 ms have passed (~250 events at 15 µs).
const SLICE = 256
const CUT_STEP = 2000

const BASE = values.base ? path.resolve(values.base) : null
const load = async (dir) => {
  const imp = (p) => import(path.join(dir, p))
  return {
    ...(await imp("domain/DefaultRules.js")), ...(await imp("domain/engine/EngineState.js")), ...(await imp("actors/Processor.js")),
    ...(await imp("actors/Cut.js")), ...(await imp("domain/StreamMessage.js")), ...(await imp("domain/RulesHistory.js"))
  }
}
const { makeGenerator } = await import(path.join(DIST, "cli/Producer.js"))
const build = await load(DIST)
const baseBuild = BASE === null ? null : await load(BASE)
const { admitMessage } = build

const log = (s) => process.stdout.write(`${new Date().toISOString().slice(11, 19)} ${s}\n`)
log(`machine: ${machine()}`)
log(`scenario: ${fmt(EVENTS)} events, ${fmt(USERS)} users, ${AGENTS} agents, a cut every ${fmt(CUT_EVERY)} events; ${ROUNDS} rounds; dist ${DIST}${values.base ? ` vs base ${path.resolve(values.base)}` : ""}`)

// ---- the messages, as the adapter hands them on: payloads are views into larger socket reads ----
const tBase = Date.now() - 600_000
const gen = makeGenerator({ users: USERS, agents: AGENTS, seed: 7, idPrefix: "pipe", timestamp: (i) => new Date(tBase + Math.floor((i / EVENTS) * 590_000)).toISOString() })
const enc = new TextEncoder()
const events = new Array(EVENTS)
{
  const READ = 64 * 1024
  let buf = new Uint8Array(READ)
  let at = 0
  for (let i = 0; i < EVENTS; i++) {
    const ev = gen(i)
    const bytes = enc.encode(JSON.stringify(ev))
    if (at + bytes.length > buf.length) { buf = new Uint8Array(READ); at = 0 }
    buf.set(bytes, at)
    events[i] = { seq: i + 1, streamTimeMs: tBase + 600_000 + Math.floor(i / 50), data: buf.subarray(at, at + bytes.length), msgId: ev.event_id, kind: 0 } // kind: as the adapter tags an event
    at += bytes.length
  }
}
log(`${fmt(EVENTS)} messages built`)

let gcMs = 0
new PerformanceObserver((list) => { for (const e of list.getEntries()) gcMs += e.duration }).observe({ entryTypes: ["gc"] })

const cpuUs = () => { const c = process.cpuUsage(); return c.user + c.system }

/** Decode + msg-id check of every message: the floor the processor is compared with. */
const decodeOnly = () => {
  let ok = 0
  for (let i = 0; i < EVENTS; i++) if (admitMessage(events[i].data, events[i].msgId).ok) ok++
  if (ok !== EVENTS) throw new Error(`decode-only: ${EVENTS - ok} messages refused`)
}

/** The pipeline's loop without its I/O: slices, board change lists, cuts stepped between slices. */
const processAll = ({ DEFAULT_RULES, newEngineState, Processor, newSliceOutput, Cut, RulesHistory }) => {
  const state = newEngineState(DEFAULT_RULES.periodGraceMs)
  const pos = { applied: 0, streamTimeMs: 0, gaps: 0 }
  // Since the rules history (issue 14 item 1) the processor takes the history, not one rules object.
  const p = new Processor(state, RulesHistory.single(DEFAULT_RULES), pos, new Set())
  let cut = null
  let cuts = 0, cutUsers = 0, cutBytes = 0, baseBytes = 0, deltaBytes = 0
  let applied = 0, rejected = 0
  for (let i = 0; i < EVENTS; i += SLICE) {
    const out = newSliceOutput()
    p.apply(events, i, i + SLICE, out)
    applied += out.applied
    rejected += out.rejects.length
    state.boards.takeChanged()
    if (cut !== null && cut.step(CUT_STEP)) {
      p.observer = null
      const r = cut.finish()
      cuts++; cutUsers += r.users; cutBytes += r.bytes
      if (r.base) { baseBytes = r.bytes; deltaBytes = 0 } else deltaBytes += r.bytes
      cut = null
    }
    if (cut === null && Math.floor((i + SLICE) / CUT_EVERY) > Math.floor(i / CUT_EVERY)) {
      const base = baseBytes === 0 || deltaBytes > baseBytes
      const dirty = p.takeDirty()
      const uids = base ? Int32Array.from({ length: state.users.capacity }, (_, k) => k) : dirty
      cut = new Cut(state, pos.applied, pos.streamTimeMs, base, uids)
      p.observer = cut
    }
  }
  if (rejected > 0 || applied !== EVENTS) throw new Error(`processor: ${applied} applied, ${rejected} rejected`)
  return { cuts, cutUsers, cutBytes }
}

const median = (xs) => { const s = [...xs].sort((a, b) => a - b); return s[s.length >> 1] }
// GC entries reach the observer on a later turn: let them arrive before and after each pass.
const settle = () => new Promise((res) => setTimeout(res, 20))
const measure = async (fn) => {
  await settle()
  const g0 = gcMs, c0 = cpuUs(), t0 = performance.now()
  const r = fn()
  const cpu = cpuUs() - c0, wall = performance.now() - t0
  await settle()
  return { cpu, wall, gc: gcMs - g0, r }
}

// Optional allocation sampling of one processor pass (objects collected by GC included).
if (values["alloc-prof"]) {
  const s = new Session()
  s.connect()
  const post = (m, p = {}) => new Promise((res, rej) => s.post(m, p, (e, r) => (e ? rej(e) : res(r))))
  await post("HeapProfiler.enable")
  await post("HeapProfiler.startSampling", { samplingInterval: 4096, includeObjectsCollectedByMajorGC: true, includeObjectsCollectedByMinorGC: true })
  processAll(build)
  const { profile } = await post("HeapProfiler.stopSampling")
  const self = new Map()
  let total = 0
  const walk = (n) => {
    const cf = n.callFrame
    const here = `${cf.functionName || "(anonymous)"} ${cf.url.replace(/^.*\/(dist|node_modules)\//, "$1/")}:${cf.lineNumber + 1}`
    const size = n.selfSize
    if (size > 0) { self.set(here, (self.get(here) ?? 0) + size); total += size }
    for (const c of n.children) walk(c)
  }
  walk(profile.head)
  log(`allocation sampling of one processor pass: ${fmt(total / 2 ** 20)} MiB sampled (${fmt(total / EVENTS)} B/event); top self sizes:`)
  for (const [k, v] of [...self].sort((a, b) => b[1] - a[1]).slice(0, 25)) log(`  ${fmt(v / 2 ** 20).padStart(6)} MiB  ${(v / EVENTS).toFixed(0).padStart(5)} B/ev  ${k}`)
  s.disconnect()
}

// Warm-up (JIT), then rounds of decode-only and processor back to back (and the base build's
// processor, before or after ours in alternate rounds).
await measure(decodeOnly)
let info = (await measure(() => processAll(build))).r
if (baseBuild !== null) await measure(() => processAll(baseBuild))
const dec = [], proc = [], gcs = [], baseProc = [], ratios = []
for (let r = 0; r < ROUNDS; r++) {
  const d = await measure(decodeOnly)
  let b = null
  if (baseBuild !== null && r % 2 === 0) b = await measure(() => processAll(baseBuild))
  const p = await measure(() => processAll(build))
  if (baseBuild !== null && r % 2 === 1) b = await measure(() => processAll(baseBuild))
  info = p.r
  dec.push(d.cpu / EVENTS)
  proc.push(p.cpu / EVENTS)
  gcs.push(p.gc / p.wall)
  if (b !== null) { baseProc.push(b.cpu / EVENTS); ratios.push(p.cpu / b.cpu) }
  log(`round ${r + 1}: decode-only ${(d.cpu / EVENTS).toFixed(2)} µs/event; processor ${(p.cpu / EVENTS).toFixed(2)} µs/event CPU (${fmt(EVENTS / (p.wall / 1000))} ev/s wall, GC ${(100 * p.gc / p.wall).toFixed(1)}% of wall)` +
    (b !== null ? `; base ${(b.cpu / EVENTS).toFixed(2)} µs/event (GC ${(100 * b.gc / b.wall).toFixed(1)}%) → ${(p.cpu / b.cpu).toFixed(3)}×` : ""))
}
const dMed = median(dec), pMed = median(proc)
const summary = `processor ${pMed.toFixed(2)} µs/event CPU (median of ${ROUNDS}; ${fmt(1e6 / pMed)} ev/s per core, GC ${(100 * median(gcs)).toFixed(1)}% of wall) | ` +
  `decode-only ${dMed.toFixed(2)} µs/event (${fmt(1e6 / dMed)} ev/s) → ratio ${(dMed / pMed).toFixed(2)} | ` +
  (baseBuild !== null ? `base build ${median(baseProc).toFixed(2)} µs/event → paired ratio ${median(ratios).toFixed(3)}× (median of per-round ratios) | ` : "") +
  `${info.cuts} cuts (${fmt(info.cutUsers)} users, ${(info.cutBytes / 2 ** 20).toFixed(1)} MiB)`
log(summary)
const row = `${fmt(EVENTS)} events, ${fmt(USERS)} users, ${AGENTS} agents, a cut every ${fmt(CUT_EVERY)} events, in process | ${summary} | ${machine()}`
if (!values["no-record"]) { appendResult("Processor in process (bench/processor.mjs)", row); log("appended to bench/RESULTS.md") }
process.exit(0)
