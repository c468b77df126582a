#!/usr/bin/env node
// Groups and live around-me under the pipeline scenario: one preloaded stream, replayed to "caught
// up" three times by a fresh service each (fresh database, same stream, same 4 top-N watchers):
//   none    — no groups, no around-me subscribers (the baseline, measured in the same run);
//   groups  — G groups of M members (inserted into arena_groups before start), each group's all-time
//             board watched live by one WS client (top 100), so every group board is recomputed
//             whenever a slice moves one of its members;
//   around  — A around-me subscribers (/ws/leaderboard/global/around/<user>?radius=5), A distinct users.
// Prints ev/s, CPU per event and the ratio of each to `none`; checks every feed's prev_seq chain.
// Run: npm run build && node bench/groups.mjs [--events N] [--users N] [--groups N] [--members N] [--around N] [--no-record] [--keep]
//   [--seconds S]   each run ends when caught up or S seconds after its service started, whichever
//                   comes first; its rate is then the seq it applied over the time (same stream, same
//                   start for the three runs, so the ratios compare like with like)
//   [--stream-id ID] replay the stream an earlier --keep run published (its id, e.g. grp9ed078) instead of publishing
// Full scale (1,000 × 1,000, 10k around-me) is heavy: run it on a quiet machine, not a shared one.
import { execFileSync } from "node:child_process"
import * as os from "node:os"
import { parseArgs } from "node:util"
import postgres from "postgres"
import WebSocket from "ws"
import { makeGenerator, produce } from "../dist/cli/Producer.js"
import { appendResult, cleanup, envFor, fmt, freshNames, machine, nats, readyz, ROOT, startService, stopService, waitReady, loadDuring } from "./lib.mjs"
import { buildId, log, sleep, treeCpu, treeRss, watchers } from "./support.mjs"

const { values } = parseArgs({ options: {
  events: { type: "string" }, users: { type: "string" }, groups: { type: "string" }, members: { type: "string" }, around: { type: "string" },
  "no-record": { type: "boolean" }, keep: { type: "boolean" }, seconds: { type: "string" }, "stream-id": { type: "string" }
} })
const EVENTS = Number(values.events ?? 1_000_000)
const USERS = Number(values.users ?? 100_000)
const GROUPS = Number(values.groups ?? 1_000)
const MEMBERS = Math.min(Number(values.members ?? 1_000), USERS)
const AROUND = Number(values.around ?? 10_000)
const SECONDS = values.seconds === undefined ? null : Number(values.seconds)
const WATCH = [
  { board: "global", window: "all" }, { board: "global", window: "day" },
  { board: "agent:claude-code", window: "all" }, { board: "agent:cursor", window: "week" }
]
// Many sockets from one address: the per-IP caps are settings; the bench lifts them (and the total).
// Upgrades count against the per-IP request rate too (10k from one address in seconds): lifted as well.
const WS_ENV = { ARENA_WS_MAX_CONNECTIONS_PER_IP: "off", ARENA_WS_MAX_SUBSCRIPTIONS_PER_IP: "off", ARENA_RATE_LIMIT_PER_IP: "off", ARENA_WS_MAX_CONNECTIONS: String(Math.max(20_000, AROUND + GROUPS + 100)) }

const fresh = freshNames("grp")
const reuse = values["stream-id"]
const base = reuse === undefined ? fresh : { ...fresh, id: reuse, stream: `B_${reuse.toUpperCase()}`, prefix: `${reuse}.xp`, subject: `${reuse}.xp.events` }
const BUILD = buildId()
log(`machine: ${machine()}; build ${BUILD}`)
log(`scenario: ${fmt(EVENTS)} events, ${fmt(USERS)} users; ${fmt(GROUPS)} groups × ${fmt(MEMBERS)} members watched live; ${fmt(AROUND)} around-me subscribers; stream ${base.stream}`)
const h = await nats()
const tBase = Date.now() - 600_000
const genOpts = { users: USERS, agents: 20, seed: 7, idPrefix: "grp", timestamp: (i) => new Date(tBase + Math.floor((i / EVENTS) * 590_000)).toISOString() }
// The stream is made by the first service's migrate + provisioning; publish once, replay three times.
if (reuse === undefined) {
  execFileSync(process.execPath, ["bin/arena", "migrate"], { cwd: ROOT, env: envFor(base), stdio: ["ignore", "ignore", "inherit"] })
  await produce(h.js, base.subject, makeGenerator(genOpts), { count: EVENTS, rate: 0, inFlight: 4000 })
  log(`published ${fmt(EVENTS)}`)
} else {
  const last = (await h.jsm.streams.info(base.stream)).state.last_seq
  if (last !== EVENTS) throw new Error(`stream ${base.stream} holds ${last} messages, not --events ${EVENTS}`)
  log(`replaying ${base.stream} (${fmt(last)} events, published by an earlier run)`)
}

/** Group g's members: M distinct generator users, spread over the id space. */
const membersOf = (g) => {
  const step = Math.max(1, Math.floor(USERS / MEMBERS))
  return Array.from({ length: MEMBERS }, (_, j) => `user-${(g + j * step) % USERS}`)
}

/**
 * Sockets that only check their chain (prev_seq = previous seq) and count messages; with --seconds,
 * no new batch is opened once the run's time is up (an overloaded service opens them slowly: the
 * row says how many opened).
 */
const subscribe = async (port, paths, deadline = Infinity) => {
  const st = { open: 0, wanted: paths.length, refused: 0, snapshots: 0, deltas: 0, gaps: 0 }
  const sockets = []
  for (let i = 0; i < paths.length && Date.now() < deadline; i += 200) {
    await Promise.all(paths.slice(i, i + 200).map((p) => new Promise((resolve) => {
      const ws = new WebSocket(`ws://127.0.0.1:${port}${p}`)
      let last = -1
      ws.on("message", (data) => {
        const m = JSON.parse(data.toString())
        if (m.type === "snapshot") st.snapshots++
        else { st.deltas++; if (m.prev_seq !== last) st.gaps++ }
        last = m.seq
      })
      ws.once("open", () => { st.open++; sockets.push(ws); resolve() })
      // A refused upgrade is counted (and printed), not fatal: the row says how many opened.
      ws.once("error", (e) => { if (st.refused++ === 0) log(`socket refused: ${e.message}`); resolve() })
      // A socket still opening when the time is up is dropped (not counted as open).
      if (deadline !== Infinity) setTimeout(() => { if (ws.readyState === WebSocket.CONNECTING) { ws.terminate(); resolve() } }, Math.max(0, deadline - Date.now())).unref()
    })))
  }
  return { st, close: () => { for (const s of sockets) s.terminate() } }
}

// The 1-minute load average during each run (sampled every 2 s): the three runs are sequential, so
// a ratio is only as good as the loads it was measured under, and the row prints each.
const loadNow = { samples: [] }
setInterval(() => { loadNow.samples.push(os.loadavg()[0]) }, 2000).unref()
const loadOf = (samples) => samples.length === 0 ? "load ?" :
  `load ${Math.min(...samples).toFixed(1)}–${Math.max(...samples).toFixed(1)} (mean ${(samples.reduce((a, b) => a + b, 0) / samples.length).toFixed(1)})`
const meanOf = (samples) => samples.reduce((a, b) => a + b, 0) / Math.max(1, samples.length)

/** One replay of the whole stream by a fresh service; `prepare` runs after migrate, `extra` subscribes once it listens. */
const run = async (label, prepare, extra) => {
  const n = { ...freshNames(`grp${label}`), stream: base.stream, prefix: base.prefix, subject: base.subject }
  execFileSync(process.execPath, ["bin/arena", "migrate"], { cwd: ROOT, env: envFor(n), stdio: ["ignore", "ignore", "inherit"] })
  await prepare(n)
  const svc = await startService(n, WS_ENV)
  loadNow.samples = [os.loadavg()[0]]
  const cpu0 = treeCpu(svc.child.pid)
  const w = await watchers(svc.port, WATCH)
  const x = await extra(svc.port, SECONDS === null ? Infinity : svc.startedAt + SECONDS * 1000)
  let peak = 0
  let applied = EVENTS
  let readyAt
  if (SECONDS === null) readyAt = await waitReady(svc.port, EVENTS, 3_600_000, () => { peak = Math.max(peak, treeRss(svc.child.pid)) })
  else {
    // Caught up, or the time is up: the rate is what it applied in that time.
    for (;;) {
      const r = await readyz(svc.port).catch(() => null)
      peak = Math.max(peak, treeRss(svc.child.pid))
      applied = r?.body?.details?.seq ?? 0
      if ((r?.status === 200 && applied >= EVENTS) || Date.now() - svc.startedAt >= SECONDS * 1000) { readyAt = Date.now(); break }
      await sleep(200)
    }
  }
  const secs = (readyAt - svc.startedAt) / 1000
  const cpu = treeCpu(svc.child.pid) - cpu0
  await sleep(1000)
  const gaps = w.stats.reduce((a, s) => a + s.gaps, 0) + (x?.st.gaps ?? 0)
  const r = { label, applied, rate: applied / secs, secs, cpuUs: (cpu / Math.max(1, applied)) * 1e6, rss: peak, gaps, feeds: x?.st ?? null, load: loadOf(loadNow.samples), loadMean: meanOf(loadNow.samples) }
  log(`${label}: ${fmt(r.rate)} ev/s (${applied >= EVENTS ? "caught up" : `applied ${fmt(applied)}`} in ${secs.toFixed(1)} s), ${r.cpuUs.toFixed(0)} CPU-µs/event, peak RSS ${fmt(peak / 2 ** 20)} MiB, gaps ${gaps}, ${r.load}` +
    (x ? `; ${fmt(x.st.open)} of ${fmt(x.st.wanted)} sockets open: ${fmt(x.st.snapshots)} snapshots, ${fmt(x.st.deltas)} deltas` : ""))
  w.close()
  x?.close()
  // The measurement is over: a service too busy to stop gracefully within a minute is killed.
  const killer = setTimeout(() => svc.child.kill("SIGKILL"), 60_000)
  await stopService(svc)
  clearTimeout(killer)
  // The `none` run shares the stream; only this run's database and data directory go.
  if (!values.keep) await cleanup({ ...n, stream: `${base.stream}__keep` }).catch(() => {})
  return r
}

const none = await run("none", async () => {}, async () => null)
const groups = await run("groups", async (n) => {
  const sql = postgres(n.databaseUrl, { max: 1, onnotice: () => {} })
  for (let g = 0; g < GROUPS; g += 100) {
    const rows = []
    for (let k = g; k < Math.min(GROUPS, g + 100); k++) rows.push({ id: `bench-${k}`, name: `Bench ${k}`, owner: "bench", members: membersOf(k) })
    await sql`INSERT INTO arena_groups ${sql(rows, "id", "name", "owner", "members")}`
  }
  await sql.end()
}, (port, deadline) => subscribe(port, Array.from({ length: GROUPS }, (_, g) => `/ws/leaderboard/group:bench-${g}?limit=100`), deadline))
const around = await run("around", async () => {}, (port, deadline) =>
  subscribe(port, Array.from({ length: AROUND }, (_, i) => `/ws/leaderboard/global/around/user-${(i * 7) % USERS}?radius=5`), deadline))

const span = (r) => r.applied >= EVENTS ? `caught up in ${r.secs.toFixed(0)} s` : `${fmt(r.applied)} applied in ${r.secs.toFixed(0)} s`
const ratio = (r) => `${fmt(r.rate)} ev/s (${span(r)}), ratio ${(r.rate / none.rate).toFixed(2)}, ${r.cpuUs.toFixed(0)} CPU-µs/event (${(r.cpuUs / none.cpuUs).toFixed(2)}×), peak RSS ${fmt(r.rss / 2 ** 20)} MiB, ${r.load}`
// More runnable work than cores during any run: other processes took CPU, so rates (and their
// ratios) are noisy; CPU per event is the steadier figure then.
const cores = os.cpus().length
const noisy = [none, groups, around].some((r) => r.loadMean > cores)
const row = `${noisy ? `NOISY (shared machine: mean load above ${cores} cores in a run; compare CPU-µs/event rather than ev/s) | ` : ""}` +
  `${fmt(EVENTS)} events, ${fmt(USERS)} users, 4 WS watchers; replay ${SECONDS === null ? "to caught up" : `to caught up or ${SECONDS} s`}, fresh service each | ` +
  `none ${fmt(none.rate)} ev/s (${span(none)}), ${none.cpuUs.toFixed(0)} CPU-µs/event, peak RSS ${fmt(none.rss / 2 ** 20)} MiB, ${none.load} | ` +
  `${fmt(GROUPS)} groups × ${fmt(MEMBERS)} members, each board watched: ${ratio(groups)} (${fmt(groups.feeds.open)} of ${fmt(GROUPS)} sockets open in time, ${fmt(groups.feeds.deltas)} deltas) | ` +
  `${fmt(AROUND)} around-me subscribers: ${ratio(around)} (${fmt(around.feeds.open)} of ${fmt(AROUND)} sockets open in time, ${fmt(around.feeds.deltas)} deltas) | ` +
  `gaps ${none.gaps + groups.gaps + around.gaps} | build ${BUILD} | ${machine().split(", load")[0]}, ${loadDuring()}`
log(row)
if (!values["no-record"]) { appendResult("Groups and around-me (bench/groups.mjs)", row); log("appended to bench/RESULTS.md") }
if (!values.keep) await cleanup(base)
await h.nc.close()
