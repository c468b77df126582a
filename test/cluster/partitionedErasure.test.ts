// An erasure in partitioned mode (ARCHITECTURE §9, §11 "Privacy"; issue 16; docs/scaling.md
// "Erasures") on a real 3-node nats-server cluster with P = 4: two `arena serve --role processor`
// children and one `--role gateway`, sharing the ClickHouse STAND-IN (ClickHouseStandIn.ts: the
// HTTP interface over one embedded chDB, not a server). A user with events, a void, an adjust, a
// settings change, a rejected event (dead letter), a share, groups (their own, and another's they
// are a member of) and a row of a closed period's archive is
// erased through the gateway (DELETE /v1/users/{id}: 202 at step publish, as one process answers);
// GET /v1/erasures/{id} follows the steps with the single process's auth and errors. The owner of
// the user's partition is killed with -9 mid-erasure (past its snapshot step, with a pause after
// each recorded step); the partition's new owner resumes the durable record and finishes it. Then,
// as test/reliability/erasure.test.ts checks one process: no trace of the user on the gateway
// (profile, boards, ledger), in Postgres (shares, groups, the partition's snapshot chunks, archives, award
// rows, the erasure record), in ClickHouse (every table with a user_id, mutation texts) or in the
// stream and the dead letters; the other users keep theirs, and the rollups equal their sources.
import { randomBytes } from "node:crypto"
import type { JetStreamClient, JetStreamManager } from "@nats-io/jetstream"
import type postgres from "postgres"
import { afterAll, beforeAll, expect, it } from "vitest"
import type { ClickHouseHandle } from "../../src/adapters/clickhouse/ClickHouseClient.js"
import { ingestSubject, partitionOfUser, userToken } from "../../src/domain/Partition.js"
import { mintToken } from "../../src/gateway/auth/Auth.js"
import type { StoredMessage } from "../oracle/Oracle.js"
import { readStream } from "../oracle/stream.js"
import { clusterClickHouse } from "../support/clusterClickHouse.js"
import { clusterWorld } from "../support/clusterWorld.js"
import { gatewayClient } from "../support/gatewayClient.js"
import { partitionedMembers } from "../support/partitionedMembers.js"

const P = 4
const world = clusterWorld("pe", { partitions: P })
const { cluster, id, databaseUrl: dbUrl, dataDir } = world
const SECRET = randomBytes(48).toString("base64url")

let ch: ClickHouseHandle
let js: JetStreamClient
let jsm: JetStreamManager
let sql: postgres.Sql
// The stand-in's URL is set in beforeAll; read by `start` when a member spawns. A pause after each
// recorded erasure step leaves time to kill the owner between two steps.
const env: Record<string, string> = {
  ARENA_JWT_SECRET: SECRET, ARENA_AUTH: "on", ARENA_ERASURE_STEP_PAUSE: "1500ms"
}
const clickhouse = clusterClickHouse(dataDir, env)
const { procs, start, kill9 } = partitionedMembers({ cluster, partitions: P, databaseUrl: dbUrl, dataDir, env })

beforeAll(async () => {
  ;({ js, jsm, sql } = await world.up())
  ch = await clickhouse.start()
})

afterAll(async () => {
  for (const p of procs) await kill9(p)
  await clickhouse.stop()
  await world.down()
})

interface ErrorBody { error: { code: string; details: Array<{ path: string }> } }
interface ErasureView { erasure_id: string; user_id?: string; status: string; step: string; steps_done: string[]; erase_seq: number | null; messages_erased: number; completed_at: string | null }
const { call, until, setPort } = gatewayClient(procs, id)
const token = (sub: string, scope = "") => mintToken({ sub, scope, ttlSeconds: 3600 }, SECRET)

const chCount = async (query: string): Promise<number> =>
  Number((await (await ch.client.query({ query, format: "JSONEachRow" })).json<{ n: number | string }>())[0]!.n)

const VICTIM = "g:h"
// Users spread over the 4 partitions; the victim's partition-mates keep everything of theirs.
const USERS = ["ann", "bob", "c.d", "e@f.io", VICTIM, "i-j", "k_l", "mno"]

/** Everything the user could still be found in (empty when they are gone), as the single process's erasure test looks. */
const traces = async (user: string, admin: string): Promise<string[]> => {
  const found: string[] = []
  const k = partitionOfUser(user, P)
  if ((await call("GET", `/v1/users/${encodeURIComponent(user)}`, admin)).status !== 404) found.push("profile")
  const ledger = await call<{ entries: unknown[] }>("GET", `/v1/users/${encodeURIComponent(user)}/ledger`, admin)
  if (ledger.status !== 200 || ledger.body.entries.length > 0) found.push("ledger")
  for (const b of ["global", "agent:cursor"]) {
    for (const w of ["all", "day", "week", "month"]) {
      const page = await call("GET", `/v1/leaderboards/${b}?window=${w}&limit=100`, null)
      if (JSON.stringify(page.body).includes(user)) found.push(`board ${b} ${w}`)
    }
  }
  if (Number((await sql`SELECT count(*) AS n FROM arena_shares WHERE owner = ${user}`)[0]!.n) !== 0) found.push("shares")
  const chunks = await sql<Array<{ data: Uint8Array }>>`SELECT data FROM arena_partition_chunk WHERE partition = ${k}`
  if (chunks.some((c) => Buffer.from(c.data).includes(Buffer.from(user, "latin1")))) found.push("snapshot chunk bytes")
  if (Number((await sql`SELECT count(*) AS n FROM arena_groups WHERE owner = ${user} OR ${user} = ANY(members)`)[0]!.n) !== 0) found.push("groups")
  if (Number((await sql`SELECT count(*) AS n FROM arena_partition_period_archive WHERE user_id = ${user}`)[0]!.n) !== 0) found.push("period archive")
  if (Number((await sql`SELECT count(*) AS n FROM arena_partition_award WHERE user_id = ${user}`)[0]!.n) !== 0) found.push("partition awards")
  if (Number((await sql`SELECT count(*) AS n FROM arena_erasure WHERE user_id = ${user}`)[0]!.n) !== 0) found.push("erasure record")
  for (const t of ["awards", "corrections", "level_ups", "achievements", "user_days", "correction_daily"]) {
    if ((await chCount(`SELECT count() AS n FROM ${t} WHERE user_id = '${user}'`)) !== 0) found.push(`clickhouse ${t}`)
  }
  if ((await chCount(`SELECT count() AS n FROM system.mutations WHERE position(command, '${user}') > 0`)) !== 0) found.push("clickhouse mutation texts")
  const text = (m: StoredMessage) => `${m.subject ?? ""} ${m.msgId ?? ""} ${new TextDecoder().decode(m.data)}`
  if ((await readStream(js, jsm, "ARENA_XP")).some((m) => text(m).includes(user) || (m.subject ?? "").endsWith(`.${userToken(user)}`))) found.push("stream")
  // (readStream waits for a message: none to read once the only letters are erased)
  const letters = (await jsm.streams.info("ARENA_XP_DLQ")).state.messages === 0 ? [] : await readStream(js, jsm, "ARENA_XP_DLQ")
  if (letters.some((m) => text(m).includes(user))) found.push("dead letters")
  return found
}

it("P = 4, 2 processors: an erasure through the gateway reaches done after a kill -9 of the owner mid-way, and leaves no trace of the user", async () => {
  const a = await start("proc-a", "processor", 1)
  const b = await start("proc-b", "processor", 2)
  const gw = await start("gw", "gateway", 3)
  setPort(gw.port)
  await until("every partition ready", async () => ((await call("GET", "/readyz", null)).status === 200 ? true : undefined))
  const producer = await token("producer", "events:write")
  const admin = await token("ops", "admin")
  const own = await token(VICTIM)

  // --- the user's life: events, a void, an adjust, settings, a rejected event, a share, an archive row ---
  const events = USERS.flatMap((u, i) => [0, 1, 2].map((j) => ({
    event_id: `${id}-${i}-${j}`, user_id: u, username: u.replace(/[^A-Za-z0-9_]/g, "_"), agent_name: "cursor", action_type: "task_completed", timestamp: new Date().toISOString()
  })))
  expect(await call("POST", "/v1/events", producer, events)).toMatchObject({ status: 202, body: { accepted: events.length } })
  const xpIs = (u: string, xp: number) => until(`${u} at ${xp} XP`, async () => {
    const r = await call<{ total_xp: number }>("GET", `/v1/users/${encodeURIComponent(u)}`, admin)
    return r.status === 200 && r.body.total_xp === xp ? true : undefined
  })
  for (const u of USERS) await xpIs(u, 30)
  const v = USERS.indexOf(VICTIM)
  expect((await call("POST", "/v1/corrections", admin, { correction_id: `${id}-void`, kind: "void", event_id: `${id}-${v}-0`, reason: "r" })).status).toBe(202)
  expect((await call("POST", "/v1/corrections", admin, { correction_id: `${id}-adj`, kind: "adjust", user_id: VICTIM, xp: 5, agent_name: "cursor", reason: "r" })).status).toBe(202)
  expect((await call("PUT", `/v1/users/${encodeURIComponent(VICTIM)}/settings`, own, { time_zone: "Europe/Berlin" })).status).toBe(202)
  expect((await call("POST", "/v1/shares", own, { title: "mine", content: "words", privacy_level: "public" })).status).toBe(201)
  // A group of their own, and another user's group they are a member of.
  expect((await call("PUT", `/v1/groups/${id}-mine`, own, { name: "mine", members: [VICTIM, "ann"] })).status).toBe(201)
  expect((await call("PUT", `/v1/groups/${id}-team`, await token("ann"), { name: "team", members: ["ann", VICTIM, "bob"] })).status).toBe(201)
  await js.publish(ingestSubject(VICTIM), JSON.stringify({ ...events[v * 3]!, event_id: `${id}-bad`, timestamp: "not a time" }), { msgID: `${id}-bad` })
  await xpIs(VICTIM, 25)
  const k = partitionOfUser(VICTIM, P)
  // A closed period's archive of the victim's partition (as the snapshotter writes it): the victim
  // first, a partition-mate second; the scrub must close the ranks up.
  const mate = USERS.find((u) => u !== VICTIM && partitionOfUser(u, P) === k) ?? "nobody"
  await sql`INSERT INTO arena_partition_period_archive ${sql([VICTIM, mate].map((u, i) => ({ partition: k, board: "global", win: "day", period: "2026-01-01", rank: i + 1, user_id: u, username: u, xp: 30 - i, reached_seq: 1 + i, level: 1 })))}`
  await sql`INSERT INTO arena_partition_period_closed ${sql({ partition: k, board: "global", win: "day", period: "2026-01-01", entries: 2, closed_at_seq: 3 })}`
  // Everything has reached ClickHouse and Postgres (the sink flushes every few seconds; award rows
  // with each snapshot): the victim's rows, and every other user's too (each partition's owner
  // flushes on its own, so the others' count below is taken once all of theirs are in).
  await until("every user's rows in ClickHouse", async () =>
    (await chCount(`SELECT count() AS n FROM awards WHERE user_id = '${VICTIM}'`)) === 3 &&
    (await chCount("SELECT count() AS n FROM awards")) === 3 * USERS.length &&
    (await chCount(`SELECT count() AS n FROM corrections WHERE user_id = '${VICTIM}'`)) === 2 &&
    (await chCount("SELECT count() AS n FROM rejections")) === 1 ? true : undefined)
  const before = await traces(VICTIM, admin)
  expect(before).toEqual(expect.arrayContaining(["profile", "ledger", "board global all", "shares", "groups", "period archive", "partition awards", "clickhouse awards", "clickhouse corrections", "clickhouse user_days", "stream", "dead letters"]))
  const othersBefore = await chCount(`SELECT count() AS n FROM awards WHERE user_id != '${VICTIM}'`)
  expect(othersBefore).toBe(3 * (USERS.length - 1))

  // --- the erasure: the user's own token (another user's: 403; none: 401) ---
  expect((await call<ErrorBody>("DELETE", `/v1/users/${encodeURIComponent(VICTIM)}`, null)).status).toBe(401)
  expect((await call<ErrorBody>("DELETE", `/v1/users/${encodeURIComponent(VICTIM)}`, await token("mno"))).status).toBe(403)
  const asked = await call<ErasureView>("DELETE", `/v1/users/${encodeURIComponent(VICTIM)}`, own)
  expect(asked).toMatchObject({ status: 202, body: { user_id: VICTIM, status: "pending", step: "publish", steps_done: [], erase_seq: null, messages_erased: 0, completed_at: null } })
  const eid = asked.body.erasure_id
  // A second request while it runs answers the same erasure.
  expect((await call<ErasureView>("DELETE", `/v1/users/${encodeURIComponent(VICTIM)}`, admin)).body.erasure_id).toBe(eid)
  // GET /v1/erasures/{id}: whoever asked or admin; 401 without a token, 404 to anyone else, 400 for a malformed id.
  expect((await call<ErrorBody>("GET", `/v1/erasures/${eid}`, null)).status).toBe(401)
  expect(await call<ErrorBody>("GET", `/v1/erasures/${eid}`, await token("mno"))).toMatchObject({ status: 404, body: { error: { code: "not_found" } } })
  expect(await call<ErrorBody>("GET", "/v1/erasures/nope", admin)).toMatchObject({ status: 400, body: { error: { details: [{ path: "path.id" }] } } })
  expect(await call<ErrorBody>("GET", `/v1/erasures/${"A".repeat(22)}`, admin)).toMatchObject({ status: 404 })
  expect((await call<ErasureView>("GET", `/v1/erasures/${eid}`, own)).status).toBe(200)

  // --- kill -9 of the partition's owner once the erasure is past its snapshot step ---
  const owner = async () => (await sql<Array<{ owner: string; epoch: string }>>`SELECT owner, epoch FROM arena_partition_checkpoint WHERE partition = ${k}`)[0]!
  const midway = await until("the erasure past its snapshot step", async () => {
    const r = await call<ErasureView>("GET", `/v1/erasures/${eid}`, admin)
    return ["postgres", "clickhouse", "stream", "done"].includes(r.body.step) ? r.body : undefined
  })
  const was = await owner()
  const victim = was.owner === "proc-a" ? a : b
  await kill9(victim)
  expect(midway.status).toBe("pending")
  expect(midway.erase_seq).toBeGreaterThan(0)
  const survivor = victim === a ? b : a
  await until("the partition taken over", async () => {
    const now = await owner()
    return now.owner === survivor.name && Number(now.epoch) > Number(was.epoch) ? true : undefined
  })
  const done = await until("the erasure done", async () => {
    const r = await call<ErasureView>("GET", `/v1/erasures/${eid}`, own)
    return r.body.status === "done" ? r.body : undefined
  }, 120_000)
  expect(done).toMatchObject({ erasure_id: eid, step: "done", steps_done: ["publish", "apply", "snapshot", "postgres", "clickhouse", "stream"], erase_seq: midway.erase_seq })
  expect(done.completed_at).not.toBeNull()
  // 3 events + the rejected one on the user's subject, 2 corrections, 1 settings change, the erasure message, 1 dead letter.
  expect(done.messages_erased).toBe(9)
  // The new owner resumed the record it found at the step the dead owner left it.
  expect(survivor.log).toMatch(new RegExp(`partition ${k}: erasures: 1 to run \\(${eid} at (postgres|clickhouse|stream)\\)`))

  // --- no trace of the user; the others keep theirs ---
  expect(await traces(VICTIM, admin)).toEqual([])
  expect(await chCount(`SELECT count() AS n FROM awards WHERE user_id != '${VICTIM}'`)).toBe(othersBefore)
  expect((await call<{ members: string[] }>("GET", `/v1/groups/${id}-team`, admin)).body.members).toEqual(["ann", "bob"])
  expect((await call("GET", `/v1/groups/${id}-mine`, admin)).status).toBe(404)
  expect(await chCount("SELECT count() AS n FROM rejections")).toBe(0)
  expect([...await sql`SELECT rank, user_id FROM arena_partition_period_archive WHERE partition = ${k}`].map((r) => ({ ...r }))).toEqual([{ rank: 1, user_id: mate }])
  expect((await sql`SELECT entries FROM arena_partition_period_closed WHERE partition = ${k}`)[0]!.entries).toBe(1)
  expect(await chCount("SELECT (SELECT sum(events) FROM agent_daily) - (SELECT count() FROM awards) AS n")).toBe(0)
  expect(await chCount("SELECT (SELECT sum(events) FROM correction_daily) - (SELECT count() FROM corrections) AS n")).toBe(0)
  for (const u of USERS.filter((x) => x !== VICTIM)) await xpIs(u, 30)
  // The same user_id later is a new user.
  expect(await call("POST", "/v1/events", producer, { ...events[0]!, event_id: `${id}-again`, user_id: VICTIM })).toMatchObject({ status: 202 })
  await xpIs(VICTIM, 10)
}, 300_000)
