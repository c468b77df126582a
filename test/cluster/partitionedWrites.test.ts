// Corrections, settings and erasures in partitioned mode (ARCHITECTURE §9–§11, issue 16) on a real
// 3-node nats-server cluster from scripts/cluster.sh with P = 4: two `arena serve --role processor`
// processes and one `--role gateway`, all real child processes. Through the gateway, with the single
// process's routes, scopes and error bodies: a void and an adjust (admin), a settings change (the
// user's own token) and an erasure (the user's own token). Each message is stored on its user's
// partition subject (`arena.xp.p.<k>.$corrections|$settings|$erasures`), applied once by the
// partition's owner (a re-sent correction_id is `duplicate` and stored once; no dead letter), and
// the gateway's reads show it (profile XP, a private profile hidden from others and anonymous on
// the board, the erased user gone, and a void of their old award refused once the user_id has
// events again). A correction published by hand on another partition's subject is
// dead-lettered subject_user_mismatch with Arena-Partition. The clear 4xx: unknown event, already voided, unknown user,
// invalid body, no token, a token without admin, another user's token. Then kill -9 of the owner
// of the voided user's partition: after the takeover (replay from the partition's checkpoint)
// every user reads the same, the void still counts once (409 / duplicate, the award found in the
// partition's Postgres award table), and a new void is applied by the new owner.
import { randomBytes } from "node:crypto"
import type { NatsConnection } from "@nats-io/transport-node"
import { jetstream } from "@nats-io/jetstream"
import type { JetStreamManager } from "@nats-io/jetstream"
import type postgres from "postgres"
import { afterAll, beforeAll, expect, it } from "vitest"
import { partitionKindSubject, partitionOfUser } from "../../src/domain/Partition.js"
import type { PartitionKind } from "../../src/domain/Partition.js"
import { mintToken } from "../../src/gateway/auth/Auth.js"
import { clusterWorld } from "../support/clusterWorld.js"
import { gatewayClient } from "../support/gatewayClient.js"
import { partitionedMembers } from "../support/partitionedMembers.js"

const P = 4
const world = clusterWorld("pw", { partitions: P })
const { cluster, id, databaseUrl: dbUrl, dataDir } = world
const SECRET = randomBytes(48).toString("base64url")

const { procs, start, kill9 } = partitionedMembers({ cluster, partitions: P, databaseUrl: dbUrl, dataDir, env: { ARENA_JWT_SECRET: SECRET, ARENA_AUTH: "on" } })

let nc: NatsConnection
let jsm: JetStreamManager
let sql: postgres.Sql

beforeAll(async () => {
  ;({ nc, jsm, sql } = await world.up())
})

afterAll(async () => {
  for (const p of procs) await kill9(p)
  await world.down()
})

interface ErrorBody { error: { code: string; message: string; details: Array<{ path: string; message: string }> } }
const { call, until, setPort } = gatewayClient(procs, id)

/** The subject of the stored message at `seq`. */
const subjectAt = async (seq: number): Promise<string> => (await jsm.streams.getMessage("ARENA_XP", { seq }))!.subject
/** How many messages the stream holds on `subject`. */
const storedOn = async (subject: string): Promise<number> =>
  (await jsm.streams.info("ARENA_XP", { subjects_filter: subject })).state.subjects?.[subject] ?? 0

interface Profile { user_id: string; total_xp: number; level: { number: number }; visibility: string; time_zone: string; achievements: Array<{ id: string; unlocked: boolean }> }
const profileOf = (u: string, token: string | null) => call<Profile>("GET", `/v1/users/${encodeURIComponent(u)}`, token)
const xpIs = (u: string, xp: number, token: string) => until(`${u} at ${xp} XP`, async () => {
  const r = await profileOf(u, token)
  return r.status === 200 && r.body.total_xp === xp ? r.body : undefined
})

// Users spread over the 4 partitions (both processors own some).
const USERS = ["ann", "bob", "c.d", "e@f.io", "g:h", "i-j", "k_l", "mno", "pq", "rs"]

it("P = 4, 2 processors: corrections, settings and erasures go to their user's partition, apply once, survive kill -9 of the owner, and read back through the gateway", async () => {
  const a = await start("proc-a", "processor", 1)
  const b = await start("proc-b", "processor", 2)
  const gw = await start("gw", "gateway", 3)
  setPort(gw.port)
  const token = (sub: string, scope: string) => mintToken({ sub, scope, ttlSeconds: 3600 }, SECRET)
  const producer = await token("producer", "events:write")
  const admin = await token("ops", "admin")
  await until("every partition ready", async () => ((await call("GET", "/readyz", null)).status === 200 ? true : undefined))

  // Three events of 10 XP for each user, through the gateway's ingest.
  const events = USERS.flatMap((u, i) => [0, 1, 2].map((j) => ({
    event_id: `${id}-${i}-${j}`, user_id: u, username: u.replace(/[^A-Za-z0-9_]/g, "_"), agent_name: "cursor", action_type: "task_completed", timestamp: new Date().toISOString()
  })))
  const ingested = await call<{ accepted: number }>("POST", "/v1/events", producer, events)
  expect(ingested).toMatchObject({ status: 202, body: { accepted: events.length } })
  for (const u of USERS) await xpIs(u, 30, admin)

  const [voided, adjusted, hidden, erased] = ["ann", "c.d", "e@f.io", "g:h"] as const
  const kind = (u: string, k: PartitionKind) => partitionKindSubject(partitionOfUser(u, P), k)
  const voidBody = { correction_id: `${id}-void-1`, kind: "void", event_id: `${id}-0-0`, reason: "duplicate submission" }

  // --- the clear 4xx of POST /v1/corrections, as the single process answers them ---
  expect((await call<ErrorBody>("POST", "/v1/corrections", null, voidBody)).status).toBe(401)
  const notAdmin = await call<ErrorBody>("POST", "/v1/corrections", await token(voided, "events:write"), voidBody)
  expect(notAdmin).toMatchObject({ status: 403, body: { error: { code: "forbidden" } } })
  const invalid = await call<ErrorBody>("POST", "/v1/corrections", admin, { correction_id: "x", kind: "adjust", user_id: adjusted, xp: 0, reason: "r" })
  expect(invalid).toMatchObject({ status: 400, body: { error: { code: "invalid_correction", details: [{ path: "xp", message: "must not be 0" }] } } })
  const unknown = await call<ErrorBody>("POST", "/v1/corrections", admin, { ...voidBody, correction_id: `${id}-void-x`, event_id: `${id}-nope` })
  expect(unknown).toMatchObject({ status: 404, body: { error: { code: "not_found", details: [{ path: "event_id", message: "is not an applied event" }] } } })
  const noUser = await call<ErrorBody>("POST", "/v1/corrections", admin, { correction_id: `${id}-adj-x`, kind: "adjust", user_id: "nobody", xp: 5, reason: "r" })
  expect(noUser).toMatchObject({ status: 404, body: { error: { code: "not_found", details: [{ path: "user_id" }] } } })

  // --- a void: on the user's partition, applied once ---
  const v1 = await call<{ status: string; correction_id: string; seq: number }>("POST", "/v1/corrections", admin, voidBody)
  expect(v1).toMatchObject({ status: 202, body: { status: "accepted", correction_id: voidBody.correction_id } })
  expect(await subjectAt(v1.body.seq)).toBe(kind(voided, "corrections"))
  await xpIs(voided, 20, admin)
  const v1again = await call<{ status: string; seq: number }>("POST", "/v1/corrections", admin, voidBody)
  expect(v1again).toMatchObject({ status: 202, body: { status: "duplicate", seq: v1.body.seq } })
  const twice = await call<ErrorBody>("POST", "/v1/corrections", admin, { ...voidBody, correction_id: `${id}-void-2` })
  expect(twice).toMatchObject({ status: 409, body: { error: { code: "already_voided", details: [{ path: "event_id", message: `was voided at seq ${v1.body.seq}` }] } } })

  // --- an adjust: applied once (the re-send is stored once) ---
  const adjBody = { correction_id: `${id}-adj-1`, kind: "adjust", user_id: adjusted, xp: 15, agent_name: "cursor", reason: "hackathon prize" }
  const a1 = await call<{ status: string; seq: number }>("POST", "/v1/corrections", admin, adjBody)
  expect(a1).toMatchObject({ status: 202, body: { status: "accepted" } })
  expect(await subjectAt(a1.body.seq)).toBe(kind(adjusted, "corrections"))
  const a2 = await call<{ status: string; seq: number }>("POST", "/v1/corrections", admin, adjBody)
  expect(a2).toMatchObject({ status: 202, body: { status: "duplicate", seq: a1.body.seq } })
  await xpIs(adjusted, 45, admin)

  // --- settings: the user's own token; private from then on ---
  const stranger = await token("mno", "")
  expect((await call<ErrorBody>("PUT", `/v1/users/${encodeURIComponent(hidden)}/settings`, stranger, { visibility: "private" })).status).toBe(403)
  const badSettings = await call<ErrorBody>("PUT", `/v1/users/${encodeURIComponent(hidden)}/settings`, await token(hidden, ""), { visibility: "secret" })
  expect(badSettings).toMatchObject({ status: 400, body: { error: { details: [{ path: "body.visibility" }] } } })
  const s1 = await call<{ settings_id: string; seq: number; visibility: string; time_zone: string }>("PUT", `/v1/users/${encodeURIComponent(hidden)}/settings`, await token(hidden, ""), { visibility: "private", time_zone: "europe/berlin" })
  expect(s1).toMatchObject({ status: 202, body: { user_id: hidden, visibility: "private", time_zone: "Europe/Berlin" } })
  expect(await subjectAt(s1.body.seq)).toBe(kind(hidden, "settings"))
  await until(`${hidden} private`, async () => ((await profileOf(hidden, null)).status === 404 ? true : undefined))
  expect((await profileOf(hidden, await token(hidden, ""))).body).toMatchObject({ visibility: "private", time_zone: "Europe/Berlin", total_xp: 30 })
  const board = await call<{ entries: Array<{ user_id: string | null; anonymous?: boolean; xp: number }> }>("GET", "/v1/leaderboards/global?limit=100", null)
  expect(board.body.entries.some((e) => e.user_id === hidden)).toBe(false)
  expect(board.body.entries.filter((e) => e.anonymous === true)).toHaveLength(1)

  // --- an erasure: the user's own token (another user's: 403) ---
  expect((await call<ErrorBody>("DELETE", `/v1/users/${encodeURIComponent(erased)}`, stranger)).status).toBe(403)
  const e1 = await call<{ erasure_id: string; erase_seq: number | null; user_id: string }>("DELETE", `/v1/users/${encodeURIComponent(erased)}`, await token(erased, ""))
  expect(e1).toMatchObject({ status: 202, body: { user_id: erased, status: "pending", step: "publish", erase_seq: null } })
  // The owner of the user's partition runs it (test/cluster/partitionedErasure.test.ts follows every step).
  const published = await until("the erasure message published", async () => {
    const r = await call<{ erase_seq: number | null }>("GET", `/v1/erasures/${e1.body.erasure_id}`, admin)
    return r.status === 200 && r.body.erase_seq !== null ? r.body.erase_seq : undefined
  })
  expect(await subjectAt(published)).toBe(kind(erased, "erasures"))
  await until(`${erased} erased`, async () => ((await profileOf(erased, admin)).status === 404 ? true : undefined))
  const total = await until("the board without the erased user", async () => {
    const r = await call<{ total: number; entries: Array<{ user_id: string | null }> }>("GET", "/v1/leaderboards/global?limit=100", null)
    return r.body.total === USERS.length - 1 ? r.body : undefined
  })
  expect(total.entries.some((e) => e.user_id === erased)).toBe(false)
  await until("the erasure done", async () => ((await call<{ status: string }>("GET", `/v1/erasures/${e1.body.erasure_id}`, admin)).body.status === "done" ? true : undefined))
  // The same user_id with an event again is a new user: the erased user's award cannot be voided from it
  // (the erasure took the award's row and its stream message).
  const again = { ...events[0]!, event_id: `${id}-again`, user_id: erased, username: "again" }
  expect(await call("POST", "/v1/events", producer, again)).toMatchObject({ status: 202, body: { accepted: 1 } })
  await xpIs(erased, 10, admin)
  const gone = await call<ErrorBody>("POST", "/v1/corrections", admin, { ...voidBody, correction_id: `${id}-void-gone`, event_id: `${id}-${USERS.indexOf(erased)}-0` })
  expect(gone).toMatchObject({ status: 404, body: { error: { code: "not_found", details: [{ path: "event_id", message: "is not an applied event" }] } } })

  // Each write stored once on its partition's subject; nothing dead-lettered (no subject_user_mismatch).
  expect(await storedOn(kind(voided, "corrections"))).toBe(kind(voided, "corrections") === kind(adjusted, "corrections") ? 2 : 1)
  expect(await storedOn(kind(hidden, "settings"))).toBe(1)
  expect(await storedOn(kind(erased, "erasures"))).toBe(0) // (erased with the user's messages once done)
  expect((await jsm.streams.info("ARENA_XP_DLQ")).state.messages).toBe(0)

  // A correction published by hand on another partition's subject than its user's: the consumer
  // that reads it dead-letters it subject_user_mismatch, naming its partition; the user is unchanged.
  const j = (partitionOfUser(adjusted, P) + 1) % P
  await jetstream(nc).publish(partitionKindSubject(j, "corrections"), JSON.stringify({ correction_id: `${id}-forged`, kind: "adjust", user_id: adjusted, xp: 1000, reason: "forged" }), { msgID: `${id}-forged` })
  const letter = await until("the forged correction dead-lettered", async () =>
    (await jsm.streams.info("ARENA_XP_DLQ")).state.messages === 1 ? (await jsm.streams.getMessage("ARENA_XP_DLQ", { seq: 1 }))! : undefined)
  expect([letter.header.get("Arena-Reason"), letter.header.get("Arena-Partition")]).toEqual(["subject_user_mismatch", String(j)])
  expect((await profileOf(adjusted, admin)).body.total_xp).toBe(45)

  // --- kill -9 of the voided user's partition's owner: the takeover replays from the checkpoint ---
  const readAll = async () => Promise.all(USERS.map(async (u) => {
    const r = await profileOf(u, admin)
    return r.status === 200 ? { u, xp: r.body.total_xp, level: r.body.level.number, visibility: r.body.visibility, time_zone: r.body.time_zone } : { u, status: r.status }
  }))
  const before = await readAll()
  expect(before).toContainEqual({ u: voided, xp: 20, level: 1, visibility: "public", time_zone: "UTC" })
  expect(before).toContainEqual({ u: erased, xp: 10, level: 1, visibility: "public", time_zone: "UTC" })
  const k = partitionOfUser(voided, P)
  const owner = async () => (await sql<Array<{ owner: string; epoch: string }>>`SELECT owner, epoch FROM arena_partition_checkpoint WHERE partition = ${k}`)[0]!
  const was = await owner()
  const victim = was.owner === "proc-a" ? a : b
  await kill9(victim)
  await until("the partition taken over", async () => {
    const now = await owner()
    return now.owner !== victim.name && Number(now.epoch) > Number(was.epoch) ? true : undefined
  })
  await until("every partition ready again", async () => ((await call("GET", "/readyz", null)).status === 200 ? true : undefined))
  const after = await until("the same users after the takeover", async () => {
    const r = await readAll()
    return JSON.stringify(r) === JSON.stringify(before) ? r : undefined
  })
  expect(after).toEqual(before)

  // The void still counts once under the new owner. Its award reaches Postgres with the new
  // owner's first snapshot after the replay (awards are stored before each commit; the old owner
  // may have died before committing one): wait for that state, then exactly one row.
  const awardRows = async () => Number((await sql`SELECT count(*) AS n FROM arena_partition_award WHERE partition = ${k} AND event_id = ${voidBody.event_id}`)[0]!.n)
  await until("the voided award stored in Postgres by a snapshot", async () => ((await awardRows()) > 0 ? true : undefined))
  expect(await awardRows()).toBe(1)
  expect(await call("POST", "/v1/corrections", admin, { ...voidBody, correction_id: `${id}-void-3` })).toMatchObject({ status: 409, body: { error: { code: "already_voided" } } })
  expect(await call("POST", "/v1/corrections", admin, voidBody)).toMatchObject({ status: 202, body: { status: "duplicate", seq: v1.body.seq } })
  const v4 = await call<{ status: string; seq: number }>("POST", "/v1/corrections", admin, { ...voidBody, correction_id: `${id}-void-4`, event_id: `${id}-0-1` })
  expect(v4).toMatchObject({ status: 202, body: { status: "accepted" } })
  await xpIs(voided, 10, admin)
  expect((await jsm.streams.info("ARENA_XP_DLQ")).state.messages).toBe(1)
}, 240_000)
