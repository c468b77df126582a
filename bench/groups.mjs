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
// Full scale (1,000 × 1,000, 10k around-me) is heavy: run it on a quiet machine, not a shared one.
import { execFileSync } from "node:child_process"
import { parseArgs } from "node:util"
import postgres from "postgres"
import WebSocket from "ws"
import { makeGenerator, produce } from "../dist/cli/Producer.js"
import { appendResult, cleanup, envFor, fmt, freshNames, machine, nats, ROOT, startService, stopService, waitReady, loadDuring } from "./lib.mjs"
import { buildId, log, sleep, treeCpu, treeRss, watchers } from "./support.mjs"

const { values } = parseArgs({ options: {
  events: { type: "string" }, users: { type: "string" }, groups: { type: "string" }, members: { type: "string" }, around: { type: "string" },
  "no-record": { type: "boolean" }, keep: { type: "boolean" }
} })
const EVENTS = Number(values.events ?? 1_000_000)
const USERS = Number(values.users ?? 100_000)
const GROUPS = Number(values.groups ?? 1_000)
const MEMBERS = Math.min(Number(values.members ?? 1_000), USERS)
const AROUND = Number(values.around ?? 10_000)
const WATCH = [
  { board: "global", window: "all" }, { board: "global", window: "day" },
  { board: "agent:claude-code", window: "all" }, { board: "agent:cursor", window: "week" }
]
// Many sockets from one address: the per-IP caps are settings; the bench lifts them (and the total).
const WS_ENV = { ARENA_WS_MAX_CONNECTIONS_PER_IP: "off", ARENA_WS_MAX_SUBSCRIPTIONS_PER_IP: "off", ARENA_WS_MAX_CONNECTIONS: String(Math.max(20_000, AROUND + GROUPS + 100)) }

const base = freshNames("grp")
const BUILD = buildId()
log(`machine: ${machine()}; build ${BUILD}`)
log(`scenario: ${fmt(EVENTS)} events, ${fmt(USERS)} users; ${fmt(GROUPS)} groups × ${fmt(MEMBERS)} members watched live; ${fmt(AROUND)} around-me subscribers; stream ${base.stream}`)
const h = await nats()
const tBase = Date.now() - 600_000
const genOpts = { users: USERS, agents: 20, seed: 7, idPrefix: "grp", timestamp: (i) => new Date(tBase + Math.floor((i / EVENTS) * 590_000)).toISOString() }
// The stream is made by the first service's migrate + provisioning; publish once, replay three times.
execFileSync(process.execPath, ["bin/arena", "migrate"], { cwd: ROOT, env: envFor(base), stdio: ["ignore", "ignore", "inherit"] })
await produce(h.js, base.subject, makeGenerator(genOpts), { count: EVENTS, rate: 0, inFlight: 4000 })
log(`published ${fmt(EVENTS)}`)

/** Group g's members: M distinct generator users, spread over the id space. */
const membersOf = (g) => {
  const step = Math.max(1, Math.floor(USERS / MEMBERS))
  return Array.from({ length: MEMBERS }, (_, j) => `user-${(g + j * step) % USERS}`)
}

/** Sockets that only check their chain (prev_seq = previous seq) and count messages. */
const subscribe = async (port, paths) => {
  const st = { open: 0, snapshots: 0, deltas: 0, gaps: 0 }
  const sockets = []
  for (let i = 0; i < paths.length; i += 200) {
    await Promise.all(paths.slice(i, i + 200).map((p) => new Promise((resolve, reject) => {
      const ws = new WebSocket(`ws://127.0.0.1:${port}${p}`)
      let last = -1
      ws.on("message", (data) => {
        const m = JSON.parse(data.toString())
        if (m.type === "snapshot") st.snapshots++
        else { st.deltas++; if (m.prev_seq !== last) st.gaps++ }
        last = m.seq
      })
      ws.once("open", () => { st.open++; sockets.push(ws); resolve() })
      ws.once("error", reject)
    })))
  }
  return { st, close: () => { for (const s of sockets) s.terminate() } }
}

/** One replay of the whole stream by a fresh service; `prepare` runs after migrate, `extra` subscribes once it listens. */
const run = async (label, prepare, extra) => {
  const n = { ...freshNames(`grp${label}`), stream: base.stream, prefix: base.prefix, subject: base.subject }
  execFileSync(process.execPath, ["bin/arena", "migrate"], { cwd: ROOT, env: envFor(n), stdio: ["ignore", "ignore", "inherit"] })
  await prepare(n)
  const svc = await startService(n, WS_ENV)
  const cpu0 = treeCpu(svc.child.pid)
  const w = await watchers(svc.port, WATCH)
  const x = await extra(svc.port)
  let peak = 0
  const readyAt = await waitReady(svc.port, EVENTS, 3_600_000, () => { peak = Math.max(peak, treeRss(svc.child.pid)) })
  const secs = (readyAt - svc.startedAt) / 1000
  const cpu = treeCpu(svc.child.pid) - cpu0
  await sleep(1000)
  const gaps = w.stats.reduce((a, s) => a + s.gaps, 0) + (x?.st.gaps ?? 0)
  const r = { label, rate: EVENTS / secs, secs, cpuUs: (cpu / EVENTS) * 1e6, rss: peak, gaps, feeds: x?.st ?? null }
  log(`${label}: ${fmt(r.rate)} ev/s (caught up in ${secs.toFixed(1)} s), ${r.cpuUs.toFixed(0)} CPU-µs/event, peak RSS ${fmt(peak / 2 ** 20)} MiB, gaps ${gaps}` +
    (x ? `; ${fmt(x.st.open)} sockets: ${fmt(x.st.snapshots)} snapshots, ${fmt(x.st.deltas)} deltas` : ""))
  w.close()
  x?.close()
  await stopService(svc)
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
}, (port) => subscribe(port, Array.from({ length: GROUPS }, (_, g) => `/ws/leaderboard/group:bench-${g}?limit=100`)))
const around = await run("around", async () => {}, (port) =>
  subscribe(port, Array.from({ length: AROUND }, (_, i) => `/ws/leaderboard/global/around/user-${(i * 7) % USERS}?radius=5`)))

const ratio = (r) => `${fmt(r.rate)} ev/s, ratio ${(r.rate / none.rate).toFixed(2)}, ${r.cpuUs.toFixed(0)} CPU-µs/event (${(r.cpuUs / none.cpuUs).toFixed(2)}×)`
const row = `${fmt(EVENTS)} events, ${fmt(USERS)} users, 4 WS watchers; replay to caught up, fresh service each | ` +
  `none ${fmt(none.rate)} ev/s, ${none.cpuUs.toFixed(0)} CPU-µs/event | ` +
  `${fmt(GROUPS)} groups × ${fmt(MEMBERS)} members, each board watched: ${ratio(groups)} (${fmt(groups.feeds.deltas)} deltas) | ` +
  `${fmt(AROUND)} around-me subscribers: ${ratio(around)} (${fmt(around.feeds.deltas)} deltas) | ` +
  `gaps ${none.gaps + groups.gaps + around.gaps} | build ${BUILD} | ${machine().split(", load")[0]}, ${loadDuring()}`
log(row)
if (!values["no-record"]) { appendResult("Groups and around-me (bench/groups.mjs)", row); log("appended to bench/RESULTS.md") }
if (!values.keep) await cleanup(base)
await h.nc.close()
