// POST /v1/events on the partitioned gateway (ARCHITECTURE §9, issue 16), on a real 3-node
// nats-server cluster from scripts/cluster.sh with P = 4 and one `arena serve --role all` child
// process (processor + gateway). The single process's contract holds: a token with events:write,
// the envelope's 400s naming `body`, validation naming the field, the 16 KiB item limit, 413 over
// the body limit, 202 with a result per item, duplicates by Nats-Msg-Id, the per-token rate limit. Each accepted event is
// stored on `arena.xp.p.<its user's partition>.<its user's token>` (users with `.` and `@` too),
// applied there (no dead letter), and the user's profile read through the gateway has the XP the
// oracle folds over the stored stream. A bare `arena.xp.events` publish is captured by no stream
// (no responders), which is why the gateway never publishes there (docs/scaling.md).
// First, ticks: with a rules grace that closes yesterday's day board ~40 s after start-up, one
// event for yesterday on one partition and then no traffic anywhere, every partition's stream
// time passes the close by the coordinator's ticks alone, and the partition archives yesterday's
// board (without ticks its stream time would stay at that event's and the board open for good).
import type { ChildProcess } from "node:child_process"
import { spawn } from "node:child_process"
import * as fs from "node:fs"
import * as path from "node:path"
import { randomBytes } from "node:crypto"
import type { JetStreamClient, JetStreamManager } from "@nats-io/jetstream"
import postgres from "postgres"
import { afterAll, beforeAll, expect, it } from "vitest"
import { DEFAULT_RULES_DOCUMENT } from "../../src/domain/DefaultRules.js"
import { ingestSubject, partitionFilter, partitionOfUser, tickSubject, userToken } from "../../src/domain/Partition.js"
import { mintToken } from "../../src/gateway/auth/Auth.js"
import { Oracle } from "../oracle/Oracle.js"
import { readStream } from "../oracle/stream.js"
import { sleep } from "../support/arena.js"
import { clusterWorld } from "../support/clusterWorld.js"

const ROOT = path.resolve(import.meta.dirname, "../..")
const P = 4
const world = clusterWorld("pi", { partitions: P })
const { cluster, id, databaseUrl: dbUrl, dataDir } = world
const SECRET = randomBytes(48).toString("base64url")
const DAY = 86_400_000
/** Yesterday's day board closes this long after the service is started (it must apply an event before). */
const CLOSE_AFTER_S = 40
let yesterday = ""
let closesAt = 0

let child: ChildProcess | null = null
let log = ""
let port = 0
let js: JetStreamClient
let jsm: JetStreamManager

beforeAll(async () => {
  ;({ js, jsm } = await world.up())
  // The grace of the periods test (test/pipeline/periods.test.ts): yesterday closes CLOSE_AFTER_S from now.
  const todayStart = Math.floor(Date.now() / DAY) * DAY
  yesterday = new Date(todayStart - DAY).toISOString().slice(0, 10)
  const graceSeconds = Math.ceil((Date.now() - todayStart) / 1000) + CLOSE_AFTER_S
  closesAt = todayStart + graceSeconds * 1000
  const rulesFile = path.join(dataDir, "rules.json")
  fs.writeFileSync(rulesFile, JSON.stringify({ ...DEFAULT_RULES_DOCUMENT, version: "test-ticks", period_grace_seconds: graceSeconds }))
  const c = spawn(process.execPath, [path.join(ROOT, "bin/arena"), "serve", "--role", "all"], {
    cwd: ROOT,
    env: {
      ...process.env,
      NATS_URL: cluster.url(1),
      DATABASE_URL: dbUrl,
      ARENA_PARTITIONS: String(P),
      ARENA_STREAM: "ARENA_XP",
      ARENA_SUBJECT_PREFIX: "arena.xp",
      ARENA_LEASE_TTL: "3s",
      ARENA_SNAPSHOT_INTERVAL: "500ms",
      ARENA_DATA_DIR: path.join(dataDir, "all"),
      ARENA_MEMBER_ID: "all-1",
      ARENA_JWT_SECRET: SECRET,
      ARENA_AUTH: "on",
      ARENA_RATE_LIMIT_PER_TOKEN: "30",
      ARENA_RULES: rulesFile,
      PORT: "0"
    },
    stdio: ["ignore", "pipe", "pipe"]
  })
  child = c
  await new Promise<void>((resolve, reject) => {
    const onData = (b: Buffer) => {
      log += b.toString()
      const m = /listening on http:\/\/[\d.]+:(\d+)/.exec(log)
      if (m !== null) { port = Number(m[1]); resolve() }
    }
    c.stdout!.on("data", onData)
    c.stderr!.on("data", onData)
    c.once("exit", (code) => reject(new Error(`serve exited with ${code}:\n${log.slice(-3000)}`)))
    setTimeout(() => reject(new Error(`serve did not start within 90 s:\n${log.slice(-3000)}`)), 90_000).unref()
  })
})

afterAll(async () => {
  if (child !== null && child.exitCode === null && child.signalCode === null) {
    const exited = new Promise<void>((r) => child!.once("exit", () => r()))
    child.kill("SIGKILL")
    await exited
  }
  await world.down()
})

interface Result { status: string; event_id: string | null; seq?: number; error?: { code: string; message: string; details: Array<{ path: string; message: string }> } }
interface Ingested { accepted: number; duplicate: number; rejected: number; results: Array<Result> }
interface ErrorBody { error: { code: string; message: string; details: Array<{ path: string; message: string }> } }

const post = async <A>(body: unknown, token: string | null, raw?: string): Promise<{ status: number; body: A }> => {
  const r = await fetch(`http://127.0.0.1:${port}/v1/events`, {
    method: "POST",
    headers: { "content-type": "application/json", ...(token === null ? {} : { authorization: `Bearer ${token}` }) },
    body: raw ?? JSON.stringify(body)
  })
  return { status: r.status, body: await r.json() as A }
}
const get = async <A>(p: string): Promise<{ status: number; body: A }> => {
  const r = await fetch(`http://127.0.0.1:${port}${p}`)
  return { status: r.status, body: await r.json() as A }
}

const USERS = ["ann", "bob", "c.d", "e@f.io", "g:h", "i-j", "k_l", "mno", "pq", "rs", "tu", "vw"]
const event = (i: number, user: string) => ({
  event_id: `${id}-${i}`, user_id: user, username: user.replace(/[^A-Za-z0-9_]/g, "_"), agent_name: "cursor",
  action_type: i % 3 === 0 ? "error_resolved" : "task_completed", timestamp: new Date().toISOString()
})

interface PartitionState { partition: number; phase: string; applied: number; streamTimeMs: number }
const partitions = async (): Promise<Array<PartitionState> | null> => {
  const r = await get<{ partitions?: Array<PartitionState> }>("/v1/partitions").catch(() => null)
  return r?.status === 200 ? r.body.partitions! : null
}
const waitReady = async () => {
  const end = Date.now() + 60_000
  for (;;) {
    const r = await get<{ ready?: boolean }>("/readyz").catch(() => null)
    if (r?.status === 200) return
    if (Date.now() > end) throw new Error(`never ready:\n${log.slice(-3000)}`)
    await sleep(200)
  }
}

it("ticks: a partition without traffic closes yesterday when stream time passes its close, by the coordinator's ticks alone", async () => {
  await waitReady()
  const user = "tick-idle"
  const k = partitionOfUser(user, P)
  const noon = `${yesterday}T12:00:00Z`
  const ack = await js.publish(ingestSubject(user), JSON.stringify({ event_id: `${id}-y1`, user_id: user, agent_name: "cursor", action_type: "task_completed", timestamp: noon }), { msgID: `${id}-y1` })
  for (const end = Date.now() + 30_000; ;) {
    if (((await partitions())?.find((s) => s.partition === k)?.applied ?? 0) >= ack.seq) break
    if (Date.now() > end) throw new Error(`partition ${k} never applied seq ${ack.seq}:\n${log.slice(-3000)}`)
    await sleep(100)
  }
  // The precondition: yesterday was still open when the event was applied, and its board has it.
  expect(Date.now(), `the service needed until ${new Date().toISOString()} to apply the event; yesterday closed at ${new Date(closesAt).toISOString()}`).toBeLessThan(closesAt)
  const open = await get<{ period: string; entries: Array<{ user_id: string; xp: number }> }>(`/v1/leaderboards/global?window=day&period=${yesterday}`)
  expect(open.body.entries.map((e) => [e.user_id, e.xp])).toEqual([[user, 10]])

  // No traffic from here on. Every partition's stream time passes the close (partition k's last
  // event was before it; the others never had one), and partition k archives yesterday's board.
  const sql = postgres(dbUrl, { max: 1, onnotice: () => {} })
  try {
    let archived: Array<{ user_id: string; xp: number }> = []
    let states: Array<PartitionState> | null = null
    for (const end = closesAt + 30_000; ;) {
      states = await partitions()
      archived = await sql<Array<{ user_id: string; xp: number }>>`
        SELECT user_id, xp FROM arena_partition_period_archive WHERE partition = ${k} AND board = 'global' AND win = 'day' AND period = ${yesterday} ORDER BY rank`
      if (archived.length > 0 && states !== null && states.every((s) => s.streamTimeMs >= closesAt)) break
      if (Date.now() > end) throw new Error(`no close by ticks: partitions ${JSON.stringify(states)}, archive ${JSON.stringify(archived)} (closes at ${closesAt})\n${log.slice(-3000)}`)
      await sleep(250)
    }
    expect(archived.map((r) => [r.user_id, Number(r.xp)])).toEqual([[user, 10]])
    expect(states!.map((s) => s.partition).sort()).toEqual(Array.from({ length: P }, (_, i) => i))
  } finally {
    await sql.end()
  }
  // What was stored: each partition's last tick on its own subject, empty, keyed by partition and second.
  for (let p = 0; p < P; p++) {
    const m = await jsm.streams.getMessage("ARENA_XP", { last_by_subj: tickSubject(p) })
    expect(m!.data.length).toBe(0)
    expect(m!.header?.get("Nats-Msg-Id")).toMatch(new RegExp(`^tick/${p}/\\d+$`))
    expect(Number(m!.header!.get("Nats-Msg-Id").split("/")[2])).toBeGreaterThanOrEqual(Math.floor(closesAt / 1000) - 1)
  }
  // Ticks award nothing: the user has the one event's XP.
  expect((await get<{ total_xp: number }>(`/v1/users/${user}`)).body.total_xp).toBe(10)
})

it("POST /v1/events on the partitioned gateway: the single process's contract, each event stored and applied on its user's partition", async () => {
  await waitReady()
  const writer = await mintToken({ sub: "producer", scope: "events:write", ttlSeconds: 600 }, SECRET)
  const reader = await mintToken({ sub: "someone", scope: "admin", ttlSeconds: 600 }, SECRET)
  const events = Array.from({ length: 120 }, (_, i) => event(i, USERS[i % USERS.length]!))

  // Auth: no token 401, a token without events:write 403; a wrong method 405.
  expect((await post<ErrorBody>(events[0], null)).status).toBe(401)
  const forbidden = await post<ErrorBody>(events[0], reader)
  expect(forbidden.status).toBe(403)
  expect(forbidden.body.error.message).toContain("events:write")
  expect((await fetch(`http://127.0.0.1:${port}/v1/events`, { method: "PUT" })).status).toBe(405)

  // The envelope: 400 naming `body`; not JSON 400; not application/json 415; over the body limit 413.
  for (const [body, msg] of [[42, "event object"], [[], "at least 1"], [Array.from({ length: 1001 }, () => ({})), "at most 1000"]] as const) {
    const r = await post<ErrorBody>(body, writer)
    expect(r.status).toBe(400)
    expect(r.body.error.details[0]).toMatchObject({ path: "body" })
    expect(r.body.error.details[0]!.message).toContain(msg)
  }
  expect((await post<ErrorBody>(null, writer, "{nope")).status).toBe(400)
  const text = await fetch(`http://127.0.0.1:${port}/v1/events`, { method: "POST", headers: { "content-type": "text/plain", authorization: `Bearer ${writer}` }, body: "{}" })
  expect(text.status).toBe(415)
  const huge = await post<ErrorBody>(null, writer, JSON.stringify([{ pad: "x".repeat(1024 * 1024) }]))
  expect(huge.status).toBe(413)

  // One valid batch with an invalid item (named field) and an oversized one (the 16 KiB limit).
  const bad: Record<string, unknown> = { ...event(9001, "ann") }
  delete bad.user_id
  const big = { ...event(9002, "ann"), timestamp: `${new Date().toISOString().slice(0, 19)}.${"0".repeat(20_000)}Z` }
  const r1 = await post<Ingested>([...events, bad, big], writer)
  expect(r1.status).toBe(202)
  expect([r1.body.accepted, r1.body.duplicate, r1.body.rejected]).toEqual([events.length, 0, 2])
  expect(r1.body.results[events.length]!.error!.details.map((d) => d.path)).toContain("user_id")
  expect(r1.body.results[events.length + 1]).toMatchObject({ event_id: big.event_id, error: { code: "oversized" } })

  // Each accepted event is stored on its user's partition subject, as published.
  for (let i = 0; i < events.length; i++) {
    const res = r1.body.results[i]!
    expect(res).toMatchObject({ status: "accepted", event_id: events[i]!.event_id })
    const m = await jsm.streams.getMessage("ARENA_XP", { seq: res.seq! })
    const user = events[i]!.user_id
    expect(m!.subject).toBe(`arena.xp.p.${partitionOfUser(user, P)}.${userToken(user)}`)
    expect(JSON.parse(new TextDecoder().decode(m!.data))).toEqual(events[i])
  }
  // More than one partition got events (the users spread).
  expect(new Set(USERS.map((u) => partitionOfUser(u, P))).size).toBeGreaterThan(1)

  // Re-sent: duplicates by Nats-Msg-Id, with the first copy's seq; a single event object works too.
  const r2 = await post<Ingested>(events.slice(0, 10), writer)
  expect(r2.status).toBe(202)
  expect(r2.body.results.map((x) => [x.status, x.seq])).toEqual(r1.body.results.slice(0, 10).map((x) => ["duplicate", x.seq]))
  const one = event(5000, "zed")
  const r3 = await post<Ingested>(one, writer)
  expect(r3.status).toBe(202)
  expect(r3.body.results).toMatchObject([{ status: "accepted", event_id: one.event_id }])

  // A bare `arena.xp.events` publish: no stream captures it in partitioned mode, no ack.
  await expect(js.publish("arena.xp.events", JSON.stringify(event(6000, "ann")), { msgID: `${id}-bare`, timeout: 5_000 })).rejects.toThrow()

  // The per-token rate limit (30 a minute here): the 31st request of one token is 429 with Retry-After.
  const burst = await mintToken({ sub: "burst", scope: "events:write", ttlSeconds: 600 }, SECRET)
  for (let i = 0; i < 30; i++) expect((await post<Ingested>(events[0], burst)).status).toBe(202)
  const limited = await fetch(`http://127.0.0.1:${port}/v1/events`, { method: "POST", headers: { "content-type": "application/json", authorization: `Bearer ${burst}` }, body: JSON.stringify(events[0]) })
  expect(limited.status).toBe(429)
  expect(Number(limited.headers.get("retry-after"))).toBeGreaterThan(0)
  expect(((await limited.json()) as ErrorBody).error.code).toBe("rate_limited")

  // Applied on the right partitions: every partition caught up with its subjects' last message,
  // nothing dead-lettered, each user's profile (from its partition) equal to the oracle's XP.
  const lastOf = new Map<number, number>()
  for (let k = 0; k < P; k++) lastOf.set(k, (await jsm.streams.getMessage("ARENA_XP", { last_by_subj: partitionFilter(k) }).catch(() => null))?.seq ?? 0)
  const caughtUp = Date.now() + 60_000
  for (;;) {
    const r = await get<{ partitions?: Array<{ partition: number; phase: string; applied: number }> }>("/v1/partitions").catch(() => null)
    if (r?.status === 200 && r.body.partitions!.every((s) => s.phase === "ready" && s.applied >= lastOf.get(s.partition)!)) break
    if (Date.now() > caughtUp) throw new Error(`partitions never caught up: ${JSON.stringify(r?.body)}\n${log.slice(-3000)}`)
    await sleep(200)
  }
  const dlq = await jsm.streams.info("ARENA_XP_DLQ").catch(() => null)
  expect(dlq, "the dead-letter stream").not.toBeNull()
  expect(dlq!.state.messages).toBe(0)
  const oracle = new Oracle("arena.xp.corrections")
  for (const m of await readStream(js, jsm, "ARENA_XP")) oracle.apply(m)
  for (const u of [...USERS, "zed"]) {
    const p = await get<{ user_id: string; total_xp: number }>(`/v1/users/${encodeURIComponent(u)}`)
    expect(p.status, u).toBe(200)
    expect(p.body.total_xp, u).toBe(oracle.profile(u)!.total_xp)
    expect(p.body.total_xp, u).toBeGreaterThan(0)
  }
})
