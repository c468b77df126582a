#!/usr/bin/env node
// Partitioned mode (ARCHITECTURE §9, docs/scaling.md): catch-up throughput with 1, 2 and 3
// processors, and the cost of merged reads (top-100 page, a user's rank with around-me) on a
// gateway, each against a same-run baseline:
//  * raw: one JetStream consumer reading (and JSON-parsing) the cluster's stream — the ceiling;
//  * single: a single-process `arena serve` replaying the same events on the local NATS (it also
//    feeds its embedded ClickHouse, which processors in partitioned mode do not yet: the row says so),
//    and the same two reads against it (no scatter-gather).
// A local 3-node nats-server cluster (scripts/cluster.sh start, P = 8 by default, state in a temp
// directory, ports from BENCH_CLUSTER_PORT, default 4311) holds the stream; the events are
// produced once (`arena produce`, ARENA_PARTITIONS set), then each run starts a fresh database,
// a gateway and N processors and times from the start until every partition is ready and has
// applied its last message. On this 2-core machine more processors share the same two cores (and
// the three NATS nodes): the rows measure the overhead of partitioning, not a scale-out.
// Run: npm run build && node bench/partitioned.mjs [--events 200000] [--users 50000] [--partitions 8]
//        [--processors 1,2,3] [--queries 300] [--no-record] [--keep]
import { execFile, spawn } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { promisify } from "node:util"
import { parseArgs } from "node:util"
import { connect } from "@nats-io/transport-node"
import { DeliverPolicy, jetstream, jetstreamManager } from "@nats-io/jetstream"
import postgres from "postgres"
import { PG_URL, ROOT, appendResult, cleanup, cpuOf, fmt, freshNames, machine, startService, stopService, waitReady } from "./lib.mjs"
import { descendants, log, pct, sleep } from "./support.mjs"

const run = promisify(execFile)
const { values } = parseArgs({ options: {
  events: { type: "string" }, users: { type: "string" }, partitions: { type: "string" }, processors: { type: "string" },
  queries: { type: "string" }, "no-record": { type: "boolean" }, keep: { type: "boolean" }
} })
const EVENTS = Number(values.events ?? 200_000)
const USERS = Number(values.users ?? 50_000)
const P = Number(values.partitions ?? 8)
const COUNTS = (values.processors ?? "1,2,3").split(",").map(Number)
const QUERIES = Number(values.queries ?? 300)
const PORT = Number(process.env.BENCH_CLUSTER_PORT ?? 4311)
const SEED = 1207

const dir = fs.mkdtempSync(path.join(os.tmpdir(), "arena-bench-partitioned-"))
const clusterEnv = {
  ...process.env, ARENA_PARTITIONS: String(P), ARENA_CLUSTER_DIR: dir, ARENA_CLUSTER_CLIENT_PORT: String(PORT),
  ARENA_CLUSTER_ROUTE_PORT: String(PORT + 1000), ARENA_CLUSTER_HTTP_PORT: String(PORT + 2000)
}
const URLS = [0, 1, 2].map((i) => `nats://127.0.0.1:${PORT + i}`).join(",")
const cluster = (cmd) => run("bash", [path.join(ROOT, "scripts/cluster.sh"), cmd], { env: clusterEnv, maxBuffer: 1 << 24 })
const dbUrl = (name) => { const u = new URL(PG_URL); u.pathname = `/${name}`; return u.toString() }
const dropDb = async (name) => {
  const sql = postgres(dbUrl("postgres"), { max: 1, onnotice: () => {} })
  await sql.unsafe(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`).catch(() => {})
  await sql.end()
}
const SECRET = "bench-secret-0123456789abcdef"
// Every request here comes from one loopback client: the catch-up polls and --queries timed reads
// would pass the default per-IP limit (1,200/min) and answer 429. The reads, not admission, are
// measured: both servers (the gateway and the single process) run with the limits off.
const NO_LIMITS = { ARENA_RATE_LIMIT_PER_IP: "off", ARENA_RATE_LIMIT_PER_TOKEN: "off" }
const memberEnv = (db, extra) => ({
  ...process.env, NATS_URL: URLS, DATABASE_URL: dbUrl(db), ARENA_PARTITIONS: String(P), ARENA_STREAM: "ARENA_XP", ARENA_SUBJECT_PREFIX: "arena.xp",
  ARENA_JWT_SECRET: SECRET, ARENA_DATA_DIR: fs.mkdtempSync(path.join(dir, "member-")), PORT: "0", ...extra
})

/** `arena serve --role ROLE` as a child; resolves once it logs `ready` (a regexp) with {child, port, log()}. */
const children = new Set()
const killChildren = () => { for (const c of children) c.kill("SIGKILL") }
process.once("exit", killChildren)
for (const sig of ["SIGINT", "SIGTERM"]) process.once(sig, () => { killChildren(); process.exit(1) })
let memberNo = 0
const member = (role, env, ready) => new Promise((resolve, reject) => {
  const child = spawn(process.execPath, [path.join(ROOT, "bin/arena"), "serve", "--role", role], { cwd: ROOT, env, stdio: ["ignore", "pipe", "pipe"] })
  children.add(child)
  child.once("exit", () => children.delete(child))
  // Each member's log is kept in the state directory (kept with --keep) and its tail shown on trouble.
  const file = path.join(dir, `${++memberNo}-${role}${env.ARENA_MEMBER_ID ? `-${env.ARENA_MEMBER_ID}` : ""}.log`)
  const out = fs.createWriteStream(file)
  let text = ""
  child.stdout.resume()
  child.stderr.pipe(out)
  child.stderr.on("data", (b) => {
    text += b.toString()
    if (text.length > 200_000) text = text.slice(-100_000)
    const m = ready.exec(text)
    if (m && child.ready !== true) { child.ready = true; resolve({ child, port: Number(m[1] ?? 0), file, log: () => text }) }
  })
  child.once("exit", (code) => { if (child.ready !== true) reject(new Error(`${role} exited ${code}: ${text.slice(-2000)}`)) })
})
const stop = (child) => new Promise((resolve) => {
  if (child.exitCode !== null) return resolve()
  const t = setTimeout(() => child.kill("SIGKILL"), 30_000)
  child.once("exit", () => { clearTimeout(t); resolve() })
  child.kill("SIGTERM")
})
const getJson = async (port, p) => {
  const r = await fetch(`http://127.0.0.1:${port}${p}`)
  return { status: r.status, body: await r.json().catch(() => null) }
}
const cpuTree = (pid) => [pid, ...descendants(pid)].reduce((a, p) => { try { return a + cpuOf(p) } catch { return a } }, 0)

/** ms to read (and JSON-parse) `count` events from the cluster's stream; ticks (empty) are skipped. */
const rawEvents = async (js, count) => {
  const c = await js.consumers.get("ARENA_XP", { deliver_policy: DeliverPolicy.All })
  const t0 = performance.now()
  const it = await c.consume({ max_messages: 4096 })
  let n = 0
  for await (const m of it) {
    if (m.data.length === 0) continue
    JSON.parse(new TextDecoder().decode(m.data))
    if (++n >= count) break
  }
  await it.close()
  return performance.now() - t0
}

/** p50/p99 in ms of `count` sequential GETs of `paths()` (each must answer 200). */
const timeReads = async (port, count, pathOf) => {
  const ms = []
  for (let i = 0; i < count; i++) {
    const p = pathOf(i)
    const t0 = performance.now()
    const r = await fetch(`http://127.0.0.1:${port}${p}`)
    await r.arrayBuffer()
    ms.push(performance.now() - t0)
    if (r.status !== 200) throw new Error(`GET ${p} answered ${r.status}`)
  }
  ms.sort((a, b) => a - b)
  return { p50: pct(ms, 50), p99: pct(ms, 99) }
}
const f1 = (x) => x.toFixed(1)

log(`machine: ${machine()}`)
log(`${fmt(EVENTS)} events, ${fmt(USERS)} users, P = ${P}, processors ${COUNTS.join("/")}; cluster state ${dir}`)
const rows = []
let single = null
let singleNames = null
/** The event stream's replicas, read once the events are produced. */
let replicas = 0
try {
  log("starting a 3-node NATS cluster (scripts/cluster.sh start)")
  await cluster("start")
  // The stream (partitioned subjects) from `arena migrate`.
  const baseDb = `arena_bpart_${process.pid}`
  await run(process.execPath, [path.join(ROOT, "bin/arena"), "migrate"], { cwd: ROOT, env: memberEnv(baseDb, {}) })
  await dropDb(baseDb)
  const nc = await connect({ servers: URLS.split(",") })
  const jsm = await jetstreamManager(nc)

  /**
   * A gateway and n processors on a fresh database: seconds from their start until every partition
   * is ready (answers only once its owner caught up) at or past its last message, the processors'
   * CPU seconds from their ready log to then, and (if asked) the merged reads' latency.
   */
  const runWith = async (n, label, reads) => {
    const db = `arena_bpart_${process.pid}_${label}${n}`
    await dropDb(db)
    const lastOf = []
    for (let k = 0; k < P; k++) {
      const m = await jsm.streams.getMessage("ARENA_XP", { last_by_subj: `arena.xp.p.${k}.>` }).catch(() => null)
      lastOf.push(m?.seq ?? 0)
    }
    const gw = await member("gateway", memberEnv(db, NO_LIMITS), /listening on http:\/\/[\d.]+:(\d+)/)
    const started = Date.now()
    const procs = await Promise.all(Array.from({ length: n }, (_, i) => member("processor", memberEnv(db, { ARENA_MEMBER_ID: `bench-p${i + 1}` }), /following the coordinator's assignment/)))
    const cpu0 = procs.reduce((a, p) => a + cpuTree(p.child.pid), 0)
    let lastReport = Date.now()
    for (;;) {
      const r = await getJson(gw.port, "/v1/partitions").catch(() => null)
      const ps = r?.body?.partitions ?? []
      if (ps.length === P && ps.every((x) => x.phase === "ready" && x.applied >= lastOf[x.partition])) break
      const dead = procs.filter((p) => p.child.exitCode !== null || p.child.signalCode !== null)
      if (dead.length > 0) throw new Error(`a processor exited (${dead.map((p) => p.file).join(", ")}):\n${dead[0].log().slice(-3000)}`)
      if (Date.now() - started > 1_800_000) throw new Error(`${n} processor(s) did not catch up in 30 min; logs in ${dir}`)
      if (Date.now() - lastReport >= 10_000) {
        lastReport = Date.now()
        log(`  ${n} processor(s), ${f1((Date.now() - started) / 1000)} s: ${ps.length === P ? ps.map((x) => `p${x.partition} ${x.phase} ${x.applied}/${lastOf[x.partition]}`).join(", ") : `the gateway answers ${r?.status ?? "nothing"} (partitions answer once caught up)`}`)
      }
      await sleep(100)
    }
    const out = { n, secs: (Date.now() - started) / 1000, cpuSecs: procs.reduce((a, p) => a + cpuTree(p.child.pid), 0) - cpu0 }
    if (reads) {
      const someUser = (await getJson(gw.port, "/v1/leaderboards/global?limit=100")).body.entries.map((e) => e.user_id)
      out.top = await timeReads(gw.port, QUERIES, () => "/v1/leaderboards/global?limit=100")
      out.rank = await timeReads(gw.port, QUERIES, (i) => `/v1/leaderboards/global/users/${encodeURIComponent(someUser[i % someUser.length])}`)
    }
    await stop(gw.child)
    await Promise.all(procs.map((p) => stop(p.child)))
    await dropDb(db)
    return out
  }

  // Start-up alone (leases, the coordinator's assignment, each partition's open): the same runs on
  // the stream while it is still empty, subtracted from the replay runs below.
  const settle = new Map()
  for (const n of COUNTS) {
    const r = await runWith(n, "empty", false)
    settle.set(n, r)
    log(`${n} processor(s) on the empty stream: every partition ready after ${f1(r.secs)} s (${f1(r.cpuSecs)} CPU s)`)
  }

  log(`producing ${fmt(EVENTS)} events (arena produce, partitioned subjects)`)
  const t0 = Date.now()
  await run(process.execPath, [path.join(ROOT, "bin/arena"), "produce", "--count", String(EVENTS), "--users", String(USERS), "--seed", String(SEED)], { cwd: ROOT, env: memberEnv(baseDb, {}), maxBuffer: 1 << 24 })
  const info = await jsm.streams.info("ARENA_XP")
  replicas = info.config.num_replicas
  log(`produced in ${fmt((Date.now() - t0) / 1000)} s; the stream holds ${fmt(info.state.messages)} messages (events and the coordinator's ticks), R${replicas}`)

  // Baseline 1: raw consume of the cluster's stream.
  const rawMs = await rawEvents(jetstream(nc), EVENTS)
  const raw = EVENTS / (rawMs / 1000)
  log(`raw consume + JSON.parse on the cluster: ${fmt(raw)} ev/s`)

  for (const n of COUNTS) {
    const r = await runWith(n, "replay", n === COUNTS[COUNTS.length - 1])
    const s0 = settle.get(n)
    const row = { ...r, replaySecs: Math.max(0.001, r.secs - s0.secs) }
    row.evs = EVENTS / row.replaySecs
    row.usPerEvent = (Math.max(0, r.cpuSecs - s0.cpuSecs) * 1e6) / EVENTS
    log(`${n} processor(s): every partition caught up after ${f1(r.secs)} s, ${f1(row.replaySecs)} s past the empty-stream start-up → ${fmt(row.evs)} ev/s, ${f1(row.usPerEvent)} µs CPU/event in the processors`)
    if (row.top) log(`merged on the gateway (${n} processors): top-100 p50 ${f1(row.top.p50)} / p99 ${f1(row.top.p99)} ms; rank + around-me p50 ${f1(row.rank.p50)} / p99 ${f1(row.rank.p99)} ms`)
    rows.push(row)
  }
  await nc.close()

  // Baseline 2: the single process on the local NATS, the same events replayed from its own stream.
  singleNames = freshNames("bpart")
  const withoutPartitions = Object.fromEntries(Object.entries(process.env).filter(([k]) => k !== "ARENA_PARTITIONS"))
  await run(process.execPath, [path.join(ROOT, "bin/arena"), "migrate"], { cwd: ROOT, env: { ...withoutPartitions, NATS_URL: process.env.NATS_URL ?? "nats://127.0.0.1:4222", DATABASE_URL: singleNames.databaseUrl, ARENA_STREAM: singleNames.stream, ARENA_SUBJECT_PREFIX: singleNames.prefix, ARENA_DATA_DIR: singleNames.dataDir } })
  await run(process.execPath, [path.join(ROOT, "bin/arena"), "produce", "--count", String(EVENTS), "--users", String(USERS), "--seed", String(SEED)], {
    cwd: ROOT, maxBuffer: 1 << 24,
    env: { ...withoutPartitions, NATS_URL: process.env.NATS_URL ?? "nats://127.0.0.1:4222", ARENA_STREAM: singleNames.stream, ARENA_SUBJECT_PREFIX: singleNames.prefix }
  })
  const svc = await startService(singleNames, NO_LIMITS)
  const s0 = Date.now()
  const c0 = cpuTree(svc.child.pid)
  await waitReady(svc.port, EVENTS)
  const sSecs = (Date.now() - s0) / 1000
  single = { secs: sSecs, evs: EVENTS / sSecs, usPerEvent: ((cpuTree(svc.child.pid) - c0) * 1e6) / EVENTS }
  const someUser = (await getJson(svc.port, "/v1/leaderboards/global?limit=100")).body.entries.map((e) => e.user_id)
  single.top = await timeReads(svc.port, QUERIES, () => "/v1/leaderboards/global?limit=100")
  single.rank = await timeReads(svc.port, QUERIES, (i) => `/v1/leaderboards/global/users/${encodeURIComponent(someUser[i % someUser.length])}`)
  log(`single process (local NATS, with its embedded ClickHouse): caught up in ${f1(sSecs)} s → ${fmt(single.evs)} ev/s, ${f1(single.usPerEvent)} µs CPU/event; top-100 p50 ${f1(single.top.p50)} / p99 ${f1(single.top.p99)} ms; rank p50 ${f1(single.rank.p50)} / p99 ${f1(single.rank.p99)} ms`)
  await stopService(svc)

  const last = rows[rows.length - 1]
  const line = [
    `${fmt(EVENTS)} events, ${fmt(USERS)} users, P = ${P} on a 3-node nats-server cluster (loopback), stream ARENA_XP R${replicas}`,
    `raw consume ${fmt(raw)} ev/s`,
    ...rows.map((r) => `${r.n} processor(s) ${fmt(r.evs)} ev/s (ratio ${(r.evs / raw).toFixed(2)} to raw; ${f1(r.usPerEvent)} µs CPU/event; ready ${f1(r.secs)} s of which start-up ${f1(settle.get(r.n).secs)} s)`),
    `single process ${fmt(single.evs)} ev/s (${f1(single.usPerEvent)} µs CPU/event incl. its ClickHouse child, which partitioned processors do not feed yet)`,
    last.top ? `merged top-100 p50/p99 ${f1(last.top.p50)}/${f1(last.top.p99)} ms vs single ${f1(single.top.p50)}/${f1(single.top.p99)} (×${(last.top.p50 / single.top.p50).toFixed(1)} at p50); rank+around-me ${f1(last.rank.p50)}/${f1(last.rank.p99)} vs ${f1(single.rank.p50)}/${f1(single.rank.p99)} ms (×${(last.rank.p50 / single.rank.p50).toFixed(1)})` : "",
    machine()
  ].filter(Boolean).join(" | ")
  process.stdout.write(`\n${line}\n`)
  if (!values["no-record"]) appendResult("Partitioned processors and merged reads (bench/partitioned.mjs)", line)
} finally {
  if (singleNames) await cleanup(singleNames).catch(() => {})
  if (!values.keep) {
    await cluster("stop").catch((e) => log(`cluster stop: ${e.message}`))
    fs.rmSync(dir, { recursive: true, force: true })
  } else log(`kept: ${dir} (scripts/cluster.sh stop with ARENA_CLUSTER_DIR=${dir})`)
}
