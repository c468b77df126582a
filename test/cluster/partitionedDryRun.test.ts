// Rules dry runs on the partitioned gateway (ARCHITECTURE §9, §10; issue 16; docs/scaling.md) on a
// real 3-node nats-server cluster with P = 4: one `arena serve --role processor` and two
// `--role gateway` children. Events of users on every partition, a void, an adjust, a settings
// change, an erasure (done: the user's messages gone from the stream) and the user_id's new event,
// an event and a correction published by hand on another partition's subject (dead-lettered
// subject_user_mismatch), a message on a subject no partition reads, and the coordinator's ticks.
// POST /v1/rules/dry-run through one gateway (the single process's route: admin, validation, 202
// with the job) runs the dry run; GET /v1/rules/dry-run/{id} through the other gateway sees the
// same job (records in Postgres) and, once done, a report equal to the single process's dry run
// (`arena rules diff --json` in single-process mode) over the same messages stored as one process
// stores them — every message a partition applies, on the single process's subjects, in the same
// order; the ones the partitions dead-lettered as undecodable stand-ins (refused there too), the
// ticks and the unread one left out. POST /v1/rules/apply stays 501.
import { spawn } from "node:child_process"
import { randomBytes } from "node:crypto"
import * as fs from "node:fs"
import * as path from "node:path"
import type { JetStreamClient, JetStreamManager } from "@nats-io/jetstream"
import { afterAll, beforeAll, expect, it } from "vitest"
import { DEFAULT_RULES_DOCUMENT } from "../../src/domain/DefaultRules.js"
import { KIND_TOKENS, TICK_TOKEN, parsePartitionSubject, partitionKindSubject, partitionOfUser } from "../../src/domain/Partition.js"
import { mintToken } from "../../src/gateway/auth/Auth.js"
import { readStream } from "../oracle/stream.js"
import { clusterWorld } from "../support/clusterWorld.js"
import { gatewayClient } from "../support/gatewayClient.js"
import { partitionedMembers } from "../support/partitionedMembers.js"

const ROOT = path.resolve(import.meta.dirname, "../..")
const P = 4
const world = clusterWorld("pdr", { partitions: P })
const { cluster, id, databaseUrl: dbUrl, dataDir } = world
const SECRET = randomBytes(48).toString("base64url")
const { procs, start, kill9 } = partitionedMembers({ cluster, partitions: P, databaseUrl: dbUrl, dataDir, env: { ARENA_JWT_SECRET: SECRET, ARENA_AUTH: "on" } })

let js: JetStreamClient
let jsm: JetStreamManager

beforeAll(async () => {
  ;({ js, jsm } = await world.up())
})

afterAll(async () => {
  for (const p of procs) await kill9(p)
  await world.down()
})

interface ErrorBody { error: { code: string; message: string; details: Array<{ path: string; message: string }> } }
interface Job { job_id: string; status: string; version: string; started_at: string; finished_at: string | null; progress: { percent: number } | null; result: Report | null; error: string | null }
interface Report {
  stream: { last_seq: number; messages: number; applied_before: number; applied_after: number; rejected_before: number; rejected_after: number }
  changed_users: Array<{ user_id: string; xp_before: number; xp_after: number }>
  run?: unknown
  [k: string]: unknown
}

const gwA = gatewayClient(procs, id)
const gwB = gatewayClient(procs, id)

// Two users on each partition (a dot, an @ and a colon among them).
const USERS = ["ann", "bob", "k_l", "eve", "x.y", "pq", "e@f.io", "g:h"]
const proposedDoc = {
  ...DEFAULT_RULES_DOCUMENT,
  version: "pdr-proposed",
  actions: { ...DEFAULT_RULES_DOCUMENT.actions, task_completed: { points: 100 }, complex_api_design: { points: 5 } },
  achievements: DEFAULT_RULES_DOCUMENT.achievements.map((a) => (a.id === "api_master" ? { ...a, condition: { kind: "action_count" as const, action: "complex_api_design", count: 2 } } : a))
}

/** `arena rules diff <file> --json` in single-process mode over stream `stream` (prefix `prefix`), the deployment's database. */
const singleProcessDiff = (file: string, stream: string, prefix: string): Promise<{ code: number | null; stdout: string; stderr: string }> =>
  new Promise((resolve) => {
    const env: Record<string, string | undefined> = { ...process.env, NATS_URL: cluster.url(1), DATABASE_URL: dbUrl, ARENA_STREAM: stream, ARENA_SUBJECT_PREFIX: prefix, ARENA_DATA_DIR: path.join(dataDir, "single") }
    delete env.ARENA_PARTITIONS
    delete env.ARENA_RULES
    const child = spawn(process.execPath, [path.join(ROOT, "bin/arena"), "rules", "diff", file, "--json"], { cwd: ROOT, env, stdio: ["ignore", "pipe", "pipe"] })
    let stdout = "", stderr = ""
    child.stdout.on("data", (b: Buffer) => { stdout += b.toString() })
    child.stderr.on("data", (b: Buffer) => { stderr += b.toString() })
    child.once("close", (code) => resolve({ code, stdout, stderr }))
  })

it("P = 4: POST /v1/rules/dry-run through one gateway, GET through another; the report is the single process's over the same messages", async () => {
  expect(new Set(USERS.map((u) => partitionOfUser(u, P))).size).toBe(P)
  await start("proc-a", "processor", 1)
  gwA.setPort((await start("gw-a", "gateway", 2)).port)
  gwB.setPort((await start("gw-b", "gateway", 3)).port)
  const { call, until } = gwA
  const token = (sub: string, scope = "") => mintToken({ sub, scope, ttlSeconds: 3600 }, SECRET)
  const admin = await token("ops", "admin")
  const producer = await token("producer", "events:write")
  await until("every partition ready", async () => ((await call("GET", "/readyz", null)).status === 200 ? true : undefined))

  // User i: i + 1 task_completed and 8 - i complex_api_design (api_master at 10 now, at 2 proposed).
  const now = new Date().toISOString()
  const events = USERS.flatMap((u, i) => [
    ...Array.from({ length: i + 1 }, (_, k) => ({ event_id: `${id}-${i}-t${k}`, user_id: u, agent_name: k % 2 === 0 ? "cursor" : "claude", action_type: "task_completed", timestamp: now })),
    ...Array.from({ length: 8 - i + (i === 0 ? 4 : 0) }, (_, k) => ({ event_id: `${id}-${i}-a${k}`, user_id: u, agent_name: "cursor", action_type: "complex_api_design", timestamp: now }))
  ])
  expect(await call("POST", "/v1/events", producer, events)).toMatchObject({ status: 202, body: { accepted: events.length } })
  const profileXp = async (u: string) => (await call<{ total_xp: number }>("GET", `/v1/users/${encodeURIComponent(u)}`, admin)).body.total_xp
  await until("every event applied", async () => ((await Promise.all(USERS.map(profileXp))).every((x) => x > 0) ? true : undefined))

  // Corrections, settings, an erasure (through the gateway, on their users' partitions).
  const v = await until("a void accepted", async () => {
    const r = await call<{ status: string }>("POST", "/v1/corrections", admin, { correction_id: `${id}-void`, kind: "void", event_id: `${id}-1-t0`, reason: "duplicate" })
    return r.status === 202 ? r : undefined
  })
  expect(v.body.status).toBe("accepted")
  expect(await call("POST", "/v1/corrections", admin, { correction_id: `${id}-adj`, kind: "adjust", user_id: "x.y", xp: 40, agent_name: "claude", reason: "prize" })).toMatchObject({ status: 202 })
  expect(await call("PUT", `/v1/users/eve/settings`, await token("eve"), { time_zone: "Asia/Tokyo" })).toMatchObject({ status: 202 })
  const erased = "pq"
  const e = await call<{ erasure_id: string }>("DELETE", `/v1/users/${erased}`, await token(erased))
  expect(e.status).toBe(202)
  await until("the erasure done", async () => ((await call<{ status: string }>("GET", `/v1/erasures/${e.body.erasure_id}`, admin)).body.status === "done" ? true : undefined), 90_000)
  expect(await call("POST", "/v1/events", producer, { ...events[0]!, event_id: `${id}-again`, user_id: erased })).toMatchObject({ status: 202, body: { accepted: 1 } })
  // By hand: ann's event and an adjust of bob's on other partitions' subjects (dead-lettered), and a
  // correction on the bare subject, which the stream captures and no partition reads.
  const wrong = (u: string) => (partitionOfUser(u, P) + 1) % P
  await js.publish(`arena.xp.p.${wrong("ann")}.ann`, JSON.stringify({ ...events[0]!, event_id: `${id}-forged-ev` }), { msgID: `${id}-forged-ev` })
  await js.publish(partitionKindSubject(wrong("bob"), "corrections"), JSON.stringify({ correction_id: `${id}-forged-adj`, kind: "adjust", user_id: "bob", xp: 1000, reason: "forged" }), { msgID: `${id}-forged-adj` })
  await js.publish("arena.xp.corrections", JSON.stringify({ correction_id: `${id}-bare`, kind: "adjust", user_id: "k_l", xp: 500, reason: "bare" }), { msgID: `${id}-bare` })
  await until("both forged messages dead-lettered", async () => ((await jsm.streams.info("ARENA_XP_DLQ")).state.messages === 2 ? true : undefined))
  await until(`${erased}'s new event applied`, async () => ((await call("GET", `/v1/users/${erased}`, admin)).status === 200 ? true : undefined))

  // --- the routes: the single process's admission, validation and job ---
  expect((await call("POST", "/v1/rules/dry-run", null, proposedDoc)).status).toBe(401)
  expect((await call("POST", "/v1/rules/dry-run", producer, proposedDoc)).status).toBe(403)
  const invalid = await call<ErrorBody>("POST", "/v1/rules/dry-run", admin, { ...proposedDoc, levels: [] })
  expect(invalid).toMatchObject({ status: 400, body: { error: { code: "invalid_rules" } } })
  expect(invalid.body.error.details.map((d) => d.path)).toContain("body.levels")
  const started = await call<Job>("POST", "/v1/rules/dry-run", admin, proposedDoc)
  expect(started).toMatchObject({ status: 202, body: { status: "running", version: "pdr-proposed", finished_at: null, result: null, error: null } })
  const jobId = started.body.job_id
  // One at a time across gateways (unless the first is already done).
  const busy = await gwB.call<ErrorBody>("POST", "/v1/rules/dry-run", admin, proposedDoc)
  if (busy.status === 409) expect(busy.body.error).toMatchObject({ code: "dry_run_running", message: expect.stringContaining(jobId) as unknown })
  // The other gateway sees the job from its start.
  const seen = await gwB.call<Job>("GET", `/v1/rules/dry-run/${jobId}`, admin)
  expect(seen).toMatchObject({ status: 200, body: { job_id: jobId, version: "pdr-proposed", started_at: started.body.started_at } })
  expect((await gwB.call("GET", `/v1/rules/dry-run/${jobId}`, producer)).status).toBe(403)
  const done = await gwB.until("the dry run done", async () => {
    const r = await gwB.call<Job>("GET", `/v1/rules/dry-run/${jobId}`, admin)
    return r.status === 200 && r.body.status !== "running" ? r.body : undefined
  }, 90_000)
  expect(done.error).toBeNull()
  expect(done).toMatchObject({ status: "done", progress: { percent: 100 } })
  // Both gateways show the same record.
  expect((await call<Job>("GET", `/v1/rules/dry-run/${jobId}`, admin)).body).toEqual(done)
  const missing = await gwB.call<ErrorBody>("GET", "/v1/rules/dry-run/AAAAAAAAAAAA", admin)
  expect(missing).toMatchObject({ status: 404 })
  expect(missing.body.error.message).toMatch(/Postgres/)
  expect(await gwB.call<ErrorBody>("GET", "/v1/rules/dry-run", admin)).toMatchObject({ status: 405, body: { error: { code: "method_not_allowed" } } })
  // Applies stay 501, saying why.
  const apply = await call<ErrorBody>("POST", "/v1/rules/apply", admin, { rules: proposedDoc })
  expect(apply).toMatchObject({ status: 501, body: { error: { code: "not_implemented" } } })
  expect(apply.body.error.message).toMatch(/re-projections.*docs\/scaling\.md/)

  // --- the single process's dry run over the same messages ---
  const letters = new Map<number, string>()
  for (const l of await readStream(js, jsm, "ARENA_XP_DLQ")) {
    const m = await jsm.streams.getMessage("ARENA_XP_DLQ", { seq: l.seq })
    letters.set(Number(m!.header.get("Arena-Seq")), m!.header.get("Arena-Reason"))
  }
  expect([...letters.values()]).toEqual(["subject_user_mismatch", "subject_user_mismatch"])
  await jsm.streams.add({ name: "SP_XP", subjects: ["sp.xp.events", "sp.xp.events.>", "sp.xp.corrections", "sp.xp.settings", "sp.xp.erasures"] })
  const seqOf = new Map<number, number>()
  let ticks = 0, unread = 0, lastApplied = 0
  for (const m of await readStream(js, jsm, "ARENA_XP")) {
    const p = parsePartitionSubject(m.subject ?? "")
    if (p === null) { unread++; continue } // arena.xp.corrections: no partition reads it
    if (p.token === TICK_TOKEN) { ticks++; continue }
    lastApplied = m.seq
    const kind = p.token === KIND_TOKENS.corrections ? "corrections" : p.token === KIND_TOKENS.settings ? "settings" : p.token === KIND_TOKENS.erasures ? "erasures" : "events"
    let data: Uint8Array | string = m.data
    let msgId = m.msgId!
    if (letters.has(m.seq)) { data = "{}"; msgId = `${id}-refused-${m.seq}` } // refused in one process too
    else if (kind === "corrections") {
      const c = JSON.parse(new TextDecoder().decode(m.data)) as { kind: string; event?: { seq: number } }
      if (c.kind === "void") { c.event!.seq = seqOf.get(c.event!.seq)!; data = JSON.stringify(c) } // the voided event's seq in this stream
    }
    seqOf.set(m.seq, (await js.publish(`sp.xp.${kind}`, data, { msgID: msgId })).seq)
  }
  expect([unread, ticks > 0]).toEqual([1, true])
  const file = path.join(dataDir, "proposed.json")
  fs.writeFileSync(file, JSON.stringify(proposedDoc))
  const single = await singleProcessDiff(file, "SP_XP", "sp.xp")
  expect(single.code, single.stderr).toBe(0)
  const expected = JSON.parse(single.stdout) as Report
  const { run: _r1, stream: s1, ...rest1 } = expected
  const { run: _r2, stream: s2, ...rest2 } = done.result!
  expect(rest2).toEqual(rest1)
  expect(JSON.stringify(rest2)).toBe(JSON.stringify(rest1)) // as written, key order too
  // The same messages scored (ticks and the unread one are not messages of the run), up to the stream's last seq then.
  const { last_seq: l1, ...counts1 } = s1
  const { last_seq: l2, ...counts2 } = s2
  expect(counts2).toEqual(counts1)
  expect(Object.keys(s2)).toEqual(Object.keys(s1))
  expect(l1).toBe(seqOf.size)
  expect(l2).toBeGreaterThanOrEqual(lastApplied)
  // Users of every partition moved; the erased user's old events are gone, their new one scored.
  expect(new Set(done.result!.changed_users.map((u) => partitionOfUser(u.user_id, P))).size).toBe(P)
  expect(done.result!.changed_users.find((u) => u.user_id === erased)).toMatchObject({ xp_before: 10, xp_after: 100 })
}, 240_000)
