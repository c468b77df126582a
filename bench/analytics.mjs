#!/usr/bin/env node
// Analytics sink cost, in process: the records of N events (the real engine's output for generated
// events) through the real sink path — AnalyticsActor (submit, buffer, flush) → ClickHouseAnalyticsStore
// (encode, blocks) → the chDB child over IPC — timed to "durable"; CPU of this process (the sink's
// share of the service) and of the chDB child, per award. Same-run baseline: a bare chDB process
// inserting the same rows from prepared RowBinary files (the engine's cheapest input: no IPC, no
// parsing of text), in the same batches with the same deduplication tokens, with and without the
// rollup views. `--compare DIR` first runs the sink of another built checkout (e.g. main) on the
// same records, back to back in this run.
// `--cpu-prof` profiles this process during this build's sink run and prints the top functions.
// `--rate N` paces the submits at N events/s (as a pipeline at that rate does: the sink then
// flushes on its interval, not on a full batch); `--flush-ms` sets the sink's flushIntervalMs.
// Run: npm run build && node bench/analytics.mjs [--events 200000] [--users 100000] [--rate 0] [--flush-ms 3000] [--compare DIR] [--cpu-prof] [--no-record]
import { fork } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { Session as Inspector } from "node:inspector/promises"
import { parseArgs } from "node:util"
import { Effect, Exit, Scope } from "effect"
import { appendResult, cpuOf, fmt, machine, ROOT } from "./lib.mjs"
import { buildId, log, sleep, summarizeProfile } from "./support.mjs"

const { values } = parseArgs({ allowPositionals: true, options: {
  events: { type: "string" }, users: { type: "string" }, compare: { type: "string" }, "no-record": { type: "boolean" }, rate: { type: "string" }, "flush-ms": { type: "string" }, "cpu-prof": { type: "boolean" }, "baseline-child": { type: "string" }
} })
const EVENTS = Number(values.events ?? 200_000)
const USERS = Number(values.users ?? 100_000)
const SUBMIT = 1000 // events per submit (the pipeline submits a slice's records at a time)
const RATE = Number(values.rate ?? 0)
const SINK_OPTIONS = values["flush-ms"] !== undefined ? { flushIntervalMs: Number(values["flush-ms"]) } : {}
const cpuSelf = () => { const u = process.cpuUsage(); return (u.user + u.system) / 1e6 }
/** CPU seconds of this process's main thread only (the rest is V8's GC helpers and libuv's pool). */
const cpuMainThread = () => {
  const f = fs.readFileSync(`/proc/self/task/${process.pid}/stat`, "utf8").split(") ")[1].split(" ")
  return (Number(f[11]) + Number(f[12])) / 100
}

/** Waits until `cpu()` grows by less than 0.02 s in a second (background merges done); returns it. */
const settled = async (cpu) => {
  let last = cpu()
  for (let i = 0; i < 120; i++) {
    await sleep(1000)
    const c = cpu()
    if (c - last < 0.02) return c
    last = c
  }
  return cpu()
}

// ---- baseline child: a bare chDB process inserting prepared RowBinary files ----
if (values["baseline-child"] !== undefined) {
  const { createChdbConnection } = await import("chdb/connection")
  const { readMigrations } = await import(path.join(ROOT, "dist/adapters/clickhouse/Migrations.js"))
  const manifest = JSON.parse(fs.readFileSync(values["baseline-child"], "utf8"))
  const c = createChdbConnection({ path: manifest.dataPath })
  await c.command({ query: "CREATE DATABASE IF NOT EXISTS arena" })
  await c.command({ query: "USE arena" })
  for (const m of readMigrations()) {
    for (const stmt of m.statements) if (manifest.views || !/MATERIALIZED VIEW/i.test(stmt)) await c.command({ query: stmt })
  }
  const c0 = cpuSelf()
  const t0 = Date.now()
  for (const b of manifest.blocks) {
    await c.command({
      query: `INSERT INTO ${b.table} (${b.columns.join(", ")}) FROM INFILE '${b.file}' FORMAT RowBinary`,
      clickhouse_settings: { insert_deduplication_token: b.token, deduplicate_blocks_in_dependent_materialized_views: 1, input_format_binary_read_json_as_string: 1 }
    })
  }
  const c1 = cpuSelf()
  const wallMs = Date.now() - t0
  const c2 = await settled(cpuSelf)
  await c.close()
  process.stdout.write(JSON.stringify({ insertCpu: c1 - c0, settledCpu: c2 - c0, wallMs }) + "\n")
  process.exit(0)
}

const BUILD = buildId()
log(`machine: ${machine()}; build ${BUILD}`)

// ---- the records: the real engine's output for N generated events ----
const { makeGenerator } = await import(path.join(ROOT, "dist/cli/Producer.js"))
const { messageRecords } = await import(path.join(ROOT, "dist/domain/StreamMessage.js"))
const { newEngineState } = await import(path.join(ROOT, "dist/domain/engine/EngineState.js"))
const { DEFAULT_RULES } = await import(path.join(ROOT, "dist/domain/DefaultRules.js"))
const tBase = Date.now() - 600_000
const gen = makeGenerator({ users: USERS, agents: 20, seed: 7, idPrefix: "ana", timestamp: (i) => new Date(tBase + Math.floor((i / EVENTS) * 590_000)).toISOString() })
let state = newEngineState(86_400_000)
const enc = new TextEncoder()
/** Per submit: the records of SUBMIT consecutive events and the last seq they cover. */
const slices = []
const kinds = { award: 0, level_up: 0, achievement: 0, rejection: 0 }
let tg = Date.now()
for (let s = 1; s <= EVENTS; s += SUBMIT) {
  const out = []
  const end = Math.min(EVENTS, s + SUBMIT - 1)
  for (let seq = s; seq <= end; seq++) {
    const ev = gen(seq - 1)
    messageRecords(state, DEFAULT_RULES, { seq, streamTimeMs: Date.parse(ev.timestamp) + 50, data: enc.encode(JSON.stringify(ev)), msgId: ev.event_id }, out)
  }
  for (const r of out) kinds[r.kind]++
  slices.push({ records: out, through: end })
}
const AWARDS = kinds.award
state = null // the engine's user table is not the sink's: let it go before anything is measured
log(`scenario: ${fmt(EVENTS)} events, ${fmt(USERS)} users → ${fmt(AWARDS)} awards, ${fmt(kinds.achievement)} achievements, ${fmt(kinds.level_up)} level-ups, ${fmt(kinds.rejection)} rejections (generated in ${((Date.now() - tg) / 1000).toFixed(1)} s); submits of ${SUBMIT} events${RATE > 0 ? ` paced at ${fmt(RATE)} events/s` : " as fast as the sink takes them"}; sink options ${JSON.stringify(SINK_OPTIONS)} over the defaults`)

/** One sink run of the checkout at `root` on a fresh embedded engine; CPU per award. */
const runSink = async (label, root) => {
  const { makeAnalyticsActor } = await import(path.join(root, "dist/actors/AnalyticsActor.js"))
  const { makeClickHouseAnalyticsStore } = await import(path.join(root, "dist/adapters/clickhouse/ClickHouseAnalyticsStore.js"))
  const { openClickHouse } = await import(path.join(root, "dist/adapters/clickhouse/ClickHouseClient.js"))
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "arena-bench-analytics-"))
  const handle = openClickHouse({ kind: "embedded", path: dir, database: "arena" })
  const scope = Effect.runSync(Scope.make())
  const sink = await Effect.runPromise(makeAnalyticsActor(makeClickHouseAnalyticsStore(handle), SINK_OPTIONS).pipe(Scope.provide(scope)))
  for (let i = 0; !(await Effect.runPromise(sink.status)).connected; i++) {
    if (i > 1200) throw new Error(`${label}: the sink did not connect`)
    await sleep(50)
  }
  const pid = handle.process.pid
  const childCpu = () => cpuOf(pid)
  const profile = values["cpu-prof"] && root === ROOT ? new Inspector() : null
  if (profile !== null) {
    profile.connect()
    await profile.post("Profiler.enable")
    await profile.post("Profiler.setSamplingInterval", { interval: 1000 })
    await profile.post("Profiler.start")
  }
  const p0 = cpuSelf(), m0 = cpuMainThread(), k0 = childCpu(), t0 = Date.now()
  for (const s of slices) {
    if (RATE > 0) { const due = t0 + ((s.through - SUBMIT) / RATE) * 1000; if (due > Date.now()) await sleep(due - Date.now()) }
    await Effect.runPromise(sink.submit(s.records, s.through))
  }
  await Effect.runPromise(sink.awaitDurable(EVENTS))
  const p1 = cpuSelf(), m1 = cpuMainThread(), k1 = childCpu(), wallMs = Date.now() - t0
  if (profile !== null) {
    const { profile: prof } = await profile.post("Profiler.stop")
    profile.disconnect()
    const file = path.join(os.tmpdir(), `arena-analytics-${process.pid}.cpuprofile`)
    fs.writeFileSync(file, JSON.stringify(prof))
    const s = summarizeProfile(file, 0, Infinity, 25)
    process.stdout.write([`CPU profile of this process during ${label} (${fmt(s.totalMs)} ms sampled; kept at ${file}):`, "  self ms   share  function",
      ...s.top.map((x) => `  ${fmt(x.ms).padStart(7)}  ${(x.share * 100).toFixed(1).padStart(5)}%  ${x.fn}`),
      "  by area (self time):", ...s.areas.map((x) => `  ${fmt(x.ms).padStart(7)}  ${(x.share * 100).toFixed(1).padStart(5)}%  ${x.area}`)].join("\n") + "\n")
  }
  const k2 = await settled(childCpu)
  if (handle.process.pid !== pid) throw new Error(`${label}: the chDB child restarted during the run`)
  const count = await (await handle.client.query({ query: "SELECT count() AS n FROM awards", format: "JSONEachRow" })).json()
  if (Number(count[0].n) !== AWARDS) throw new Error(`${label}: ${count[0].n} awards in ClickHouse, expected ${AWARDS}`)
  await Effect.runPromise(Scope.close(scope, Exit.void))
  await handle.close()
  fs.rmSync(dir, { recursive: true, force: true })
  const r = { label, service: (p1 - p0) * 1e6 / AWARDS, serviceMain: (m1 - m0) * 1e6 / AWARDS, child: (k1 - k0) * 1e6 / AWARDS, childSettled: (k2 - k0) * 1e6 / AWARDS, wallMs }
  log(`${label}: durable in ${(wallMs / 1000).toFixed(1)} s (${fmt(EVENTS / (wallMs / 1000))} events/s); CPU per award: sink in this process ${r.service.toFixed(1)} µs (main thread ${r.serviceMain.toFixed(1)}), ` +
    `chDB child ${r.child.toFixed(1)} µs (${r.childSettled.toFixed(1)} µs with its merges settled) → ${(r.service + r.childSettled).toFixed(1)} µs`)
  return r
}

/** Baseline: the same rows as prepared RowBinary files, inserted by a bare chDB process. */
const runBaseline = async (label, views) => {
  const { encodeRecord, blocksOf } = await import(path.join(ROOT, "dist/adapters/clickhouse/ClickHouseAnalyticsStore.js"))
  const { TABLES } = await import(path.join(ROOT, "dist/adapters/clickhouse/Rows.js"))
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "arena-bench-analytics-base-"))
  const blocks = []
  // The sink's flushes at its default options: 50k records, whole seqs; one block per kind and month.
  const all = slices.flatMap((s) => s.records)
  for (let i = 0, n = 0; i < all.length; n++) {
    let j = Math.min(all.length, i + 50_000)
    const seqOf = (r) => (r.kind === "award" ? r.entry.seq : r.seq)
    while (j < all.length && seqOf(all[j]) === seqOf(all[j - 1])) j++
    for (const b of blocksOf(all.slice(i, j).map(encodeRecord))) {
      const file = path.join(dir, `${n}-${b.kind}-${b.month}.bin`)
      // A block's rows: `index` into its RowLog (builds before 2bbf388: an array `records` of byte ranges).
      const parts = b.records !== undefined ? b.records.map((r) => r.bytes.subarray(r.start, r.end)) : Array.from(b.index, (i) => b.rows.bytesOf(i))
      fs.writeFileSync(file, Buffer.concat(parts))
      const spec = TABLES[b.kind]
      blocks.push({ table: spec.table, columns: spec.columns, file, token: `${spec.table}:${b.firstSeq}-${b.lastSeq}:${parts.length}` })
    }
    i = j
  }
  const manifest = path.join(dir, "manifest.json")
  fs.writeFileSync(manifest, JSON.stringify({ dataPath: path.join(dir, "db"), views, blocks }))
  const out = await new Promise((resolve, reject) => {
    const child = fork(path.join(ROOT, "bench/analytics.mjs"), ["--baseline-child", manifest], { stdio: ["ignore", "pipe", "inherit", "ipc"], env: { ...process.env, TZ: "UTC" } })
    let text = ""
    child.stdout.on("data", (b) => { text += b })
    child.once("exit", (code) => (code === 0 ? resolve(JSON.parse(text.trim().split("\n").pop())) : reject(new Error(`baseline child exited ${code}`))))
  })
  fs.rmSync(dir, { recursive: true, force: true })
  const r = { label, child: out.insertCpu * 1e6 / AWARDS, childSettled: out.settledCpu * 1e6 / AWARDS, wallMs: out.wallMs }
  log(`${label}: inserted in ${(out.wallMs / 1000).toFixed(1)} s; CPU per award ${r.child.toFixed(1)} µs (${r.childSettled.toFixed(1)} µs with its merges settled)`)
  return r
}

const runs = []
if (values.compare !== undefined) runs.push(await runSink(`sink of ${values.compare}`, path.resolve(values.compare)))
runs.push(await runSink("sink of this build", ROOT))
const base = await runBaseline("baseline: prepared RowBinary files, bare chDB, same schema and views", true)
const bare = await runBaseline("baseline without the rollup views", false)

const ours = runs[runs.length - 1]
const total = (r) => r.service + r.childSettled
const row = `${fmt(EVENTS)} events, ${fmt(USERS)} users → ${fmt(AWARDS)} awards (+${fmt(kinds.achievement + kinds.level_up + kinds.rejection)} other records); submits of ${SUBMIT} events${RATE > 0 ? ` at ${fmt(RATE)} events/s` : ""}, sink options ${JSON.stringify(SINK_OPTIONS)} over the defaults | ` +
  runs.map((r) => `${r.label}: ${total(r).toFixed(1)} µs CPU/award (service ${r.service.toFixed(1)} of which main thread ${r.serviceMain.toFixed(1)}, chDB child ${r.childSettled.toFixed(1)}), durable in ${(r.wallMs / 1000).toFixed(1)} s`).join(" | ") +
  ` | baseline prepared RowBinary into bare chDB: ${base.childSettled.toFixed(1)} µs/award (without views ${bare.childSettled.toFixed(1)}) → ratio ${(total(ours) / base.childSettled).toFixed(2)}× the baseline | build ${BUILD} | ${machine()}`
log(row)
if (!values["no-record"]) { appendResult("Analytics sink (bench/analytics.mjs)", row); log("appended to bench/RESULTS.md") }
