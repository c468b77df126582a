// Groups on the partitioned gateway (ARCHITECTURE §9, §11; issue 16; docs/scaling.md) on a real
// 3-node nats-server cluster with P = 4: two `arena serve --role processor` processes and one
// `--role gateway`, all real child processes. Through the gateway, with the single process's routes,
// scopes and error bodies: PUT/GET/DELETE /v1/groups/{id} (401 without a token, 403 for another
// user, 400 naming the field, 404, 405; members shown to the owner and admin only), read by every
// request from Postgres. A group whose members live on all four partitions (ties in XP across
// partitions among them, and a member with no event) has the board `group:<id>` the oracle gives for
// the same stream: the members' global scores ranked exactly (rank = 1 + Σ partitions' better
// members), pages by cursor, around-me, the day window; its seq is the low watermark (every event
// ≤ seq shown, and no partition had applied less). A membership change is the next read's board; a
// member turning private is anonymous at their rank and their around-me is 404; a deleted group's
// board is 404. The live group feeds are proven in partitionedGroupFeed.test.ts.
import { randomBytes } from "node:crypto"
import { afterAll, beforeAll, expect, it } from "vitest"
import type { JetStreamClient, JetStreamManager } from "@nats-io/jetstream"
import { partitionOfUser } from "../../src/domain/Partition.js"
import { mintToken } from "../../src/gateway/auth/Auth.js"
import type { PartitionState } from "../../src/ports/MergedReads.js"
import { Oracle } from "../oracle/Oracle.js"
import { readStream } from "../oracle/stream.js"
import { clusterWorld } from "../support/clusterWorld.js"
import { gatewayClient } from "../support/gatewayClient.js"
import { partitionedMembers } from "../support/partitionedMembers.js"

const P = 4
const world = clusterWorld("pg", { partitions: P })
const { cluster, id, databaseUrl: dbUrl, dataDir } = world
const SECRET = randomBytes(48).toString("base64url")

const { procs, start, kill9 } = partitionedMembers({ cluster, partitions: P, databaseUrl: dbUrl, dataDir, env: { ARENA_JWT_SECRET: SECRET, ARENA_AUTH: "on" } })
let js: JetStreamClient
let jsm: JetStreamManager

beforeAll(async () => { ({ js, jsm } = await world.up()) })

afterAll(async () => {
  for (const p of procs) await kill9(p)
  await world.down()
})

const { call, until, setPort, port } = gatewayClient(procs, id)

interface Row { rank: number; user_id: string | null; username: string | null; xp: number; level: number; anonymous?: true }
interface Page { board: string; window: string; period: string; seq: number; total: number; entries: Array<Row>; next_cursor: string | null }
interface Around { board: string; period: string; seq: number; total: number; user: Row; entries: Array<Row> }
interface GroupBody { id: string; name: string; owner: string; size: number; board: string; members?: Array<string> }
interface ErrorBody { error: { code: string; message: string; details: Array<{ path: string; message: string }> } }

const token = (sub: string, scope = "") => mintToken({ sub, scope, ttlSeconds: 3600 }, SECRET)

it("P = 4: /v1/groups with the single process's routes, and a group board spanning every partition equal to the oracle's, honest seq", async () => {
  await start("proc-a", "processor", 1)
  await start("proc-b", "processor", 2)
  setPort((await start("gw", "gateway", 3)).port)
  await until("every partition ready", async () => ((await call("GET", "/readyz", null)).status === 200 ? true : undefined), 60_000)
  const alice = await token("alice")
  const bob = await token("bob")
  const admin = await token("ops", "admin")

  // --- the routes: the single process's auth, scopes, validation and error bodies ---
  const team = { name: "Team", members: ["m0", "m1", "m2", "m3", "m4", "m5", "m6", "m7", "ghost"] }
  expect(new Set(team.members.map((u) => partitionOfUser(u, P))).size).toBe(P)
  expect(await call<ErrorBody>("PUT", "/v1/groups/team", null, team)).toMatchObject({ status: 401, body: { error: { code: "unauthorized" } } })
  for (const [body, field] of [[{ name: "", members: [] }, "body.name"], [{ name: "T", members: ["a", "a"] }, "body.members[1]"], [{ name: "T", members: [], extra: 1 }, "body.extra"]] as const) {
    const r = await call<ErrorBody>("PUT", "/v1/groups/team", alice, body)
    expect(r.status).toBe(400)
    expect(r.body.error.code).toBe("invalid_request")
    expect(r.body.error.details[0]!.path).toBe(field)
  }
  expect((await call<ErrorBody>("PUT", "/v1/groups/bad%20id", alice, team)).body.error.details[0]!.path).toBe("path.group_id")
  const created = await call<GroupBody>("PUT", "/v1/groups/team", alice, team)
  expect(created).toEqual({ status: 201, body: { id: "team", name: "Team", owner: "alice", size: 9, members: team.members, board: "group:team", updated_at: expect.any(String) } })
  expect(await call<ErrorBody>("PUT", "/v1/groups/team", bob, team)).toMatchObject({ status: 403, body: { error: { code: "forbidden" } } })
  expect((await call<ErrorBody>("DELETE", "/v1/groups/team", bob)).status).toBe(403)
  expect((await call<ErrorBody>("DELETE", "/v1/groups/team", null)).status).toBe(401)
  expect((await call<ErrorBody>("PATCH", "/v1/groups/team", alice, {})).status).toBe(405)
  // Members to the owner and admin only; anyone else sees name, owner and size.
  const shown = await call<GroupBody>("GET", "/v1/groups/team", null)
  expect(shown.status).toBe(200)
  expect(shown.body.members).toBeUndefined()
  expect(shown.body).toMatchObject({ owner: "alice", size: 9 })
  expect((await call<GroupBody>("GET", "/v1/groups/team", bob)).body.members).toBeUndefined()
  expect((await call<GroupBody>("GET", "/v1/groups/team", admin)).body.members).toEqual(team.members)
  expect(await call<ErrorBody>("GET", "/v1/groups/nosuch", null)).toMatchObject({ status: 404, body: { error: { code: "not_found" } } })
  expect((await call<ErrorBody>("GET", "/v1/groups/team?x=1", null)).body.error.details[0]!.path).toBe("query.x")

  // --- events: members on every partition, XP ties across partitions, outsiders ranked among them ---
  // m<i> gets counts[i] events (10 XP each): m0/m1 and m4/m5 tie in XP, the earlier seq ranks first.
  const counts: Record<string, number> = { m0: 3, m1: 3, m2: 7, m3: 1, m4: 5, m5: 5, m6: 2, m7: 9, out0: 8, out1: 4, out2: 6 }
  let n = 0
  const events = Object.entries(counts).flatMap(([u, k]) => Array.from({ length: k }, () => ({
    event_id: `${id}-${n++}`, user_id: u, username: `${u}_name`, agent_name: "cursor", action_type: "task_completed", timestamp: new Date().toISOString()
  })))
  // Interleaved so that partitions' seqs cross.
  events.sort((a, b) => Number(a.event_id.split("-").pop()) % 5 - Number(b.event_id.split("-").pop()) % 5)
  const posted = await call<{ accepted: number; results: Array<{ seq: number }> }>("POST", "/v1/events", await token("producer", "events:write"), events)
  expect(posted).toMatchObject({ status: 202, body: { accepted: events.length } })
  const lastSeq = Math.max(...posted.body.results.map((r) => r.seq))
  await until("every partition applied the events", async () => {
    const r = await call<{ seq: number }>("GET", "/readyz", null)
    return r.status === 200 && r.body.seq >= lastSeq ? true : undefined
  })

  /** The oracle's group board: its members' rows of the global board of the window, ranked 1..n among them. */
  const oracleBoard = async (members: ReadonlyArray<string>, window: "all" | "day"): Promise<{ period: string; rows: Array<Row> }> => {
    const oracle = new Oracle()
    for (const m of await readStream(js, jsm, "ARENA_XP")) oracle.apply(m)
    const period = oracle.currentPeriods()[window]
    const rows = oracle.ranked("global", window, period).filter((r) => members.includes(r.user_id)).map((r, i) => ({ rank: i + 1, user_id: r.user_id, username: r.username, xp: r.xp, level: r.level }))
    return { period, rows }
  }
  const want = await oracleBoard(team.members, "all")
  expect(want.rows.map((r) => r.user_id).sort()).toEqual(team.members.filter((m) => m !== "ghost").sort())
  // Ties in XP between members of different partitions: the order between them is the seq's.
  const ties = want.rows.filter((r, i) => i > 0 && want.rows[i - 1]!.xp === r.xp && partitionOfUser(want.rows[i - 1]!.user_id!, P) !== partitionOfUser(r.user_id!, P))
  expect(ties.length).toBeGreaterThan(0)
  expect(new Set(want.rows.map((r) => partitionOfUser(r.user_id!, P))).size).toBe(P)

  // --- the board: exact, with an honest seq ---
  const full = await call<Page>("GET", "/v1/leaderboards/group:team?limit=100", null)
  const states = await call<{ partitions: Array<PartitionState> }>("GET", "/v1/partitions", null)
  expect(full.status).toBe(200)
  expect(full.body).toMatchObject({ board: "group:team", window: "all", period: "all", total: want.rows.length, next_cursor: null })
  expect(full.body.entries).toEqual(want.rows)
  // The low watermark: every event ≤ seq is shown, and no partition had applied less when asked after.
  expect(full.body.seq).toBeGreaterThanOrEqual(lastSeq)
  expect(full.body.seq).toBeLessThanOrEqual(Math.min(...states.body.partitions.map((s) => s.applied)))
  // Keyset pages of 3 by cursor: the same entries.
  const paged: Array<Row> = []
  let cursor: string | null = null
  do {
    const r: { status: number; body: Page } = await call<Page>("GET", `/v1/leaderboards/group:team?limit=3${cursor === null ? "" : `&cursor=${cursor}`}`, null)
    expect(r.status).toBe(200)
    paged.push(...r.body.entries)
    cursor = r.body.next_cursor
  } while (cursor !== null)
  expect(paged).toEqual(want.rows)
  // The day window (the global day board's members).
  const day = await oracleBoard(team.members, "day")
  expect(await call<Page>("GET", "/v1/leaderboards/group:team?window=day", null)).toMatchObject({ status: 200, body: { window: "day", period: day.period, entries: day.rows } })
  // Around-me for every ranked member: their row and the two on each side, ranked among the members.
  for (const [i, me] of want.rows.entries()) {
    const r = await call<Around>("GET", `/v1/leaderboards/group:team/users/${me.user_id!}?radius=2`, null)
    expect(r.status, me.user_id!).toBe(200)
    expect(r.body).toMatchObject({ board: "group:team", period: "all", total: want.rows.length, user: me, entries: want.rows.slice(Math.max(0, i - 2), i + 3) })
    expect(r.body.seq).toBeGreaterThanOrEqual(lastSeq)
  }
  // Not ranked there: a member without events, an outsider (ranked on global), an unknown group; bad input.
  for (const p of ["/v1/leaderboards/group:team/users/ghost", "/v1/leaderboards/group:team/users/out0"]) {
    expect(await call<ErrorBody>("GET", p, null), p).toMatchObject({ status: 404, body: { error: { code: "not_found" } } })
  }
  const unknown = await call<ErrorBody>("GET", "/v1/leaderboards/group:nosuch", null)
  expect(unknown).toMatchObject({ status: 404, body: { error: { code: "not_found", message: "no leaderboard group:nosuch for window=all period=all" } } })
  expect((await call<ErrorBody>("GET", "/v1/leaderboards/group:nosuch/users/m0", null)).status).toBe(404)
  expect((await call<ErrorBody>("GET", "/v1/leaderboards/group:bad%20id", null)).status).toBe(400)
  expect((await call<ErrorBody>("GET", "/v1/leaderboards/group:team?limit=0", null)).body.error.details[0]!.path).toBe("query.limit")

  // --- a membership change is the next read's board (any gateway reads the group from Postgres) ---
  const next = { name: "Team 2", members: ["m0", "m3", "out0", "out2", "m6"] }
  expect((await call<GroupBody>("PUT", "/v1/groups/team", admin, next)).status).toBe(200)
  const changed = await oracleBoard(next.members, "all")
  expect((await call<Page>("GET", "/v1/leaderboards/group:team", null)).body.entries).toEqual(changed.rows)

  // --- a member turning private: anonymous at their rank, their around-me 404 (as the global board) ---
  expect((await call("PUT", "/v1/users/out2/settings", await token("out2"), { visibility: "private" })).status).toBe(202)
  const hidden = await until("out2 anonymous on the group board", async () => {
    const r = await call<Page>("GET", "/v1/leaderboards/group:team", null)
    return r.body.entries.some((e) => e.user_id === null) ? r.body : undefined
  })
  const at = changed.rows.findIndex((r) => r.user_id === "out2")
  expect(hidden.entries.map((e) => e.user_id)).toEqual(changed.rows.map((r, i) => (i === at ? null : r.user_id)))
  expect(hidden.entries[at]).toMatchObject({ rank: at + 1, user_id: null, username: null, anonymous: true })
  expect((await call<ErrorBody>("GET", "/v1/leaderboards/group:team/users/out2", null)).status).toBe(404)

  // --- delete: the group and its board are gone ---
  expect((await fetch(`http://127.0.0.1:${port()}/v1/groups/team`, { method: "DELETE", headers: { authorization: `Bearer ${alice}` } })).status).toBe(204)
  expect((await call<ErrorBody>("GET", "/v1/groups/team", alice)).status).toBe(404)
  expect((await call<ErrorBody>("GET", "/v1/leaderboards/group:team", null)).status).toBe(404)
}, 180_000)
