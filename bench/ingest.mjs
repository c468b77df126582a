#!/usr/bin/env node
// Ingest: POST /v1/events batches (default 500 events, 8 requests in flight) until every event is an acked
// JetStream publish, against raw nats.js js.publish (msgID, the same in-flight window) of the same events into
// a stream with the same definition, in the same run; rounds alternate raw / HTTP and medians are reported.
// Run: npm run build && node bench/ingest.mjs [--events N] [--batch N] [--concurrency N] [--rounds N] [--cpu-prof] [--no-record]
import { execFileSync } from "node:child_process"
import * as fs from "node:fs"
import * as http from "node:http"
import * as os from "node:os"
import * as path from "node:path"
import { parseArgs } from "node:util"
import { DEFAULT_MAX_IN_FLIGHT, JetStreamPublisher } from "../dist/adapters/nats/JetStreamPublisher.js"
import { makeGenerator } from "../dist/cli/Producer.js"
import { appendResult, cleanup, envFor, fmt, freshNames, machine, nats, ROOT, startService, stopService, waitReady } from "./lib.mjs"
import { benchEnv, buildId, log, median, mintToken, pct, sleep, summarizeProfile, treeCpu } from "./support.mjs"

const { values } = parseArgs({ options: {
  events: { type: "string" }, batch: { type: "string" }, concurrency: { type: "string" }, rounds: { type: "string" }, users: { type: "string" }, "no-record": { type: "boolean" }, "cpu-prof": { type: "boolean" }
} })
const EVENTS = Number(values.events ?? 200_000)
const BATCH = Number(values.batch ?? 500)
const CONC = Number(values.concurrency ?? 8)
const ROUNDS = Number(values.rounds ?? 3)
const USERS = Number(values.users ?? 100_000)
// The gateway keeps at most DEFAULT_MAX_IN_FLIGHT (2,048) publishes awaiting acks across all requests
// (JetStreamPublisher.ts), so CONC requests keep min(CONC × BATCH, 2,048) in flight; the raw baseline
// gets that same window.
const WINDOW = Math.min(CONC * BATCH, DEFAULT_MAX_IN_FLIGHT)

const n = freshNames("ing")
const BUILD = buildId() // at start: others rebuild dist/ while a run goes on
log(`machine: ${machine()}; build ${BUILD}`)
log(`scenario: ${ROUNDS} rounds × ${fmt(EVENTS)} events, batches of ${BATCH}, ${CONC} requests in flight (raw window ${fmt(WINDOW)}); stream ${n.stream}`)
execFileSync(process.execPath, ["bin/arena", "migrate"], { cwd: ROOT, env: envFor(n), stdio: ["ignore", "ignore", "inherit"] })
// --cpu-prof: the service samples itself; the last HTTP round is summarized (gateway vs pipeline share).
const profFile = values["cpu-prof"] ? path.join(os.tmpdir(), `arena-ingest-${n.id}.cpuprofile`) : null
const svc = await startService(n, benchEnv(profFile ? { ARENA_BENCH_PROFILE: profFile } : {}))
await waitReady(svc.port, 0)
const token = await mintToken("bench-ingest", "events:write")
const h = await nats()

// The baseline's stream: the service's own definition under another name and subject, so raw and HTTP
// publishes pay the same storage, dedup window and limits (and the service never consumes it).
const rawStream = `${n.stream}_RAW`, rawSubject = `${n.id}.raw.events`
const cfg = (await h.jsm.streams.info(n.stream)).config
await h.jsm.streams.add({ ...cfg, name: rawStream, subjects: [rawSubject] })

const eventsFor = (label) => {
  const gen = makeGenerator({ users: USERS, agents: 20, seed: 3, idPrefix: label })
  return Array.from({ length: EVENTS }, (_, i) => gen(i))
}

const rawRound = async (label) => {
  const evs = eventsFor(label).map((e) => ({ id: e.event_id, json: JSON.stringify(e) }))
  const inflight = new Set()
  let acked = 0, dup = 0
  const t0 = process.hrtime.bigint()
  for (const e of evs) {
    const p = h.js.publish(rawSubject, e.json, { msgID: e.id, timeout: 30_000 }).then((a) => { acked++; if (a.duplicate) dup++ })
    inflight.add(p)
    void p.finally(() => inflight.delete(p))
    if (inflight.size >= WINDOW) await Promise.race(inflight)
  }
  await Promise.all(inflight)
  const secs = Number(process.hrtime.bigint() - t0) / 1e9
  if (acked !== EVENTS || dup !== 0) throw new Error(`raw: ${acked} acked, ${dup} duplicates of ${EVENTS}`)
  return { rate: EVENTS / secs, secs }
}

// Context, not the headline: the gateway's own publisher (JetStreamPublisher) driven directly, same
// batches and concurrency as the HTTP rounds, into the raw stream — what JetStream takes from a client
// that is not itself the bottleneck (nats.js js.publish spends ~50 µs of client CPU per message here).
const leanPub = new JetStreamPublisher(h.nc, { maxInFlight: WINDOW, timeoutMs: 30_000 })
const leanRound = async (label) => {
  const evs = eventsFor(label)
  const batches = []
  for (let i = 0; i < evs.length; i += BATCH) batches.push(evs.slice(i, i + BATCH))
  let acked = 0, next = 0
  const t0 = process.hrtime.bigint()
  await Promise.all(Array.from({ length: CONC }, async () => {
    while (next < batches.length) {
      const out = await leanPub.publishBatch(rawSubject, batches[next++].map((e) => ({ msgId: e.event_id, data: JSON.stringify(e) })))
      for (const o of out) if (o.ok && !o.duplicate) acked++; else throw new Error(`lean: ${JSON.stringify(o)}`)
    }
  }))
  const secs = Number(process.hrtime.bigint() - t0) / 1e9
  if (acked !== EVENTS) throw new Error(`lean: ${acked} acked of ${EVENTS}`)
  return { rate: EVENTS / secs, secs }
}

const agent = new http.Agent({ keepAlive: true, maxSockets: CONC })
const post = (body) => new Promise((resolve, reject) => {
  const req = http.request({ host: "127.0.0.1", port: svc.port, path: "/v1/events", method: "POST", agent,
    headers: { "content-type": "application/json", "content-length": Buffer.byteLength(body), authorization: `Bearer ${token}` } }, (res) => {
    const chunks = []
    res.on("data", (c) => chunks.push(c))
    res.on("end", () => resolve({ status: res.statusCode, body: Buffer.concat(chunks).toString() }))
  })
  req.on("error", reject)
  req.end(body)
})

const lastWindow = { fromUs: 0, toUs: 0 }
const httpRound = async (label) => {
  const evs = eventsFor(label)
  const bodies = []
  for (let i = 0; i < evs.length; i += BATCH) bodies.push(JSON.stringify(evs.slice(i, i + BATCH)))
  const lat = []
  let accepted = 0, other = 0, next = 0
  const cpu0 = treeCpu(svc.child.pid)
  const t0 = process.hrtime.bigint()
  lastWindow.fromUs = Number(t0 / 1000n)
  await Promise.all(Array.from({ length: CONC }, async () => {
    while (next < bodies.length) {
      const b = bodies[next++]
      const s = performance.now()
      const r = await post(b)
      lat.push(performance.now() - s)
      if (r.status !== 202) throw new Error(`POST /v1/events → ${r.status}: ${r.body.slice(0, 300)}`)
      const j = JSON.parse(r.body)
      accepted += j.accepted
      other += j.duplicate + j.rejected
    }
  }))
  lastWindow.toUs = Number(process.hrtime.bigint() / 1000n)
  const secs = Number(process.hrtime.bigint() - t0) / 1e9
  if (accepted !== EVENTS) throw new Error(`http: ${accepted} accepted, ${other} duplicate/rejected of ${EVENTS}`)
  lat.sort((a, b) => a - b)
  return { rate: EVENTS / secs, secs, p50: pct(lat, 50), p99: pct(lat, 99), cpu: treeCpu(svc.child.pid) - cpu0 }
}

const loadAvg = () => os.loadavg().map((x) => x.toFixed(1)).join(" ")
const raw = [], web = [], lean = []
await rawRound("warm-raw").catch((e) => log(`warm-up: ${e.message}`)) // JIT, connections, stream files
for (let r = 0; r < ROUNDS; r++) {
  const a = await rawRound(`raw${r}`)
  raw.push(a)
  log(`round ${r + 1}: raw js.publish ${fmt(a.rate)} events/s (${a.secs.toFixed(1)} s; load avg ${loadAvg()})`)
  const l = await leanRound(`lean${r}`)
  lean.push(l)
  log(`round ${r + 1}: JetStreamPublisher direct (no HTTP) ${fmt(l.rate)} events/s (${l.secs.toFixed(1)} s; load avg ${loadAvg()})`)
  const b = await httpRound(`http${r}`)
  web.push(b)
  log(`round ${r + 1}: POST /v1/events ${fmt(b.rate)} events/s (${b.secs.toFixed(1)} s; request p50 ${b.p50.toFixed(0)} ms, p99 ${b.p99.toFixed(0)} ms; service CPU ${b.cpu.toFixed(1)} s incl. its pipeline applying them; load avg ${loadAvg()})`)
}
const rawMed = median(raw.map((x) => x.rate)), webMed = median(web.map((x) => x.rate)), leanMed = median(lean.map((x) => x.rate))
// Each HTTP round runs right after its raw round, so their ratio shares most of the machine's load
// swings; the median of those paired ratios is the steadier figure on a shared machine.
const roundRatios = web.map((w, i) => w.rate / raw[i].rate)
const pairedRatio = median(roundRatios)
const p99 = median(web.map((x) => x.p99)), p50 = median(web.map((x) => x.p50))
const cpuPerEvent = median(web.map((x) => x.cpu)) * 1e6 / EVENTS
log(`median of ${ROUNDS}: POST /v1/events ${fmt(webMed)} events/s vs raw js.publish ${fmt(rawMed)} events/s → ratio ${(webMed / rawMed).toFixed(2)} (per round ${roundRatios.map((x) => x.toFixed(2)).join(", ")}; median ${pairedRatio.toFixed(2)}); context: JetStreamPublisher direct ${fmt(leanMed)} events/s (HTTP/direct ${(webMed / leanMed).toFixed(2)})`)

// The service's pipeline applies what was ingested; report how far behind it is, as context.
const total = (await h.jsm.streams.info(n.stream)).state.last_seq
const tApply = Date.now()
await waitReady(svc.port, total, 600_000)
log(`pipeline caught up with all ${fmt(total)} ingested events ${((Date.now() - tApply) / 1000).toFixed(1)} s after the last ack`)

if (profFile) {
  svc.child.kill("SIGUSR2")
  for (let i = 0; i < 600 && !fs.existsSync(profFile); i++) await sleep(100)
  await sleep(300)
  const p = summarizeProfile(profFile, lastWindow.fromUs, lastWindow.toUs, 15)
  process.stdout.write([`CPU profile of the service during the last HTTP round (${fmt(p.totalMs)} ms sampled):`,
    ...p.top.map((x) => `  ${fmt(x.ms).padStart(7)}  ${(x.share * 100).toFixed(1).padStart(5)}%  ${x.fn}`), "  by area (self time):",
    ...p.areas.map((x) => `  ${fmt(x.ms).padStart(7)}  ${(x.share * 100).toFixed(1).padStart(5)}%  ${x.area}`)].join("\n") + "\n")
  log(`profile kept at ${profFile}`)
}
await stopService(svc)
await h.jsm.streams.delete(rawStream).catch(() => false)
await h.nc.close()
agent.destroy()
const row = `${ROUNDS} rounds × ${fmt(EVENTS)} events, ${BATCH}/request, ${CONC} requests in flight | POST /v1/events ${fmt(webMed)} ev/s (request p50 ${p50.toFixed(0)} ms, p99 ${p99.toFixed(0)} ms; ` +
  `service ${cpuPerEvent.toFixed(0)} CPU-µs/event incl. pipeline) | raw js.publish, window ${fmt(WINDOW)}: ${fmt(rawMed)} ev/s | ratio ${(webMed / rawMed).toFixed(2)} (medians; per-round ratios ${roundRatios.map((x) => x.toFixed(2)).join("/")}, median ${pairedRatio.toFixed(2)}) · context: the gateway's JetStreamPublisher driven directly (no HTTP, no pipeline) ${fmt(leanMed)} ev/s, HTTP/direct ${(webMed / leanMed).toFixed(2)} | build ${BUILD} | ${machine()}`
if (!values["no-record"]) { appendResult("Ingest (bench/ingest.mjs)", row); log("appended to bench/RESULTS.md") }
await cleanup(n)
