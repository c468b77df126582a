// Ledgers, shares and the rules history on the partitioned gateway (ARCHITECTURE §6, §9, §10;
// issue 16; docs/scaling.md) on a real 3-node nats-server cluster with P = 4: one
// `arena serve --role processor` and two `--role gateway` children, one of them with the shared
// ClickHouse (the STAND-IN, src/adapters/clickhouse/ClickHouseStandIn.ts, ClickHouse's HTTP
// interface over one embedded chDB — not a server) and one without. Through the gateways, with the
// single process's routes, scopes and error bodies: a user's ledger (401 without a token, 403 for
// another user, 400 for a bad cursor after the ownership check) equals the oracle's over the
// stored stream, page by page; shares are created, hidden, listed, edited and deleted as in one
// process, the same through both gateways (Postgres); GET /v1/rules and GET /v1/achievements are
// what the single process answers for the recorded history. What stays 501 says why and names
// docs/scaling.md: ledgers and analytics without a ClickHouse server, rules applies (rules dry runs
// are served: test/cluster/partitionedDryRun.test.ts).
import { randomBytes } from "node:crypto"
import { Effect } from "effect"
import type { JetStreamClient, JetStreamManager } from "@nats-io/jetstream"
import type postgres from "postgres"
import { afterAll, beforeAll, expect, it } from "vitest"
import { compileHistory } from "../../src/actors/EstablishRulesHistory.js"
import { makeRulesStore } from "../../src/adapters/postgres/RulesStore.js"
import { rulesContentHash } from "../../src/App.js"
import { DEFAULT_RULES } from "../../src/domain/DefaultRules.js"
import { partitionOfUser } from "../../src/domain/Partition.js"
import { achievementCatalog } from "../../src/domain/Rules.js"
import { rulesHistoryDocument } from "../../src/domain/RulesHistory.js"
import { mintToken } from "../../src/gateway/auth/Auth.js"
import { Oracle } from "../oracle/Oracle.js"
import { readStream } from "../oracle/stream.js"
import { clusterClickHouse } from "../support/clusterClickHouse.js"
import { clusterWorld } from "../support/clusterWorld.js"
import { gatewayClient } from "../support/gatewayClient.js"
import { partitionedMembers } from "../support/partitionedMembers.js"

const P = 4
const world = clusterWorld("pr", { partitions: P })
const { cluster, id, databaseUrl: dbUrl, dataDir } = world
const SECRET = randomBytes(48).toString("base64url")

let js: JetStreamClient
let jsm: JetStreamManager
let sql: postgres.Sql
// Read by `start` when a member spawns: the ClickHouse URL is set for the first gateway only.
const env: Record<string, string> = { ARENA_JWT_SECRET: SECRET, ARENA_AUTH: "on" }
const clickhouse = clusterClickHouse(dataDir, env)
const { procs, start, kill9 } = partitionedMembers({ cluster, partitions: P, databaseUrl: dbUrl, dataDir, env })

beforeAll(async () => {
  ;({ js, jsm, sql } = await world.up())
  await clickhouse.start()
})

afterAll(async () => {
  for (const p of procs) await kill9(p)
  await clickhouse.stop()
  await world.down()
})

interface ErrorBody { error: { code: string; message: string; details: Array<{ path: string; message: string }> } }
interface Entry { seq: number; event_id: string; user_id: string; xp: number; total_awarded: number; total_xp_after: number; rules_version: string }
interface Ledger { user_id: string; entries: Array<Entry>; next_cursor: string | null }
interface Share { id: string; owner: string; title: string; content: string; privacy_level: string }

const ch = gatewayClient(procs, id)
const noCh = gatewayClient(procs, id)
const { call, until } = ch

// Users on every partition (a dot and an @ among them).
const USERS = ["ann", "bob", "c.d", "e@f.io", "k_l", "pq"]

it("P = 4: ledgers from the shared ClickHouse, shares and the rules history from Postgres, with the single process's routes; the 501s left name docs/scaling.md", async () => {
  expect(new Set(USERS.map((u) => partitionOfUser(u, P))).size).toBe(P)
  env.CLICKHOUSE_URL = clickhouse.url()
  await start("proc-a", "processor", 1)
  ch.setPort((await start("gw", "gateway", 2)).port)
  delete env.CLICKHOUSE_URL
  noCh.setPort((await start("gw-no-ch", "gateway", 3)).port)
  const token = (sub: string, scope = "") => mintToken({ sub, scope, ttlSeconds: 3600 }, SECRET)
  const admin = await token("ops", "admin")
  await until("every partition ready", async () => ((await call("GET", "/readyz", null)).status === 200 ? true : undefined))

  // Four events per user (two agents) through the gateway's ingest.
  const events = USERS.flatMap((u, i) => [0, 1, 2, 3].map((j) => ({
    event_id: `${id}-${i}-${j}`, user_id: u, username: u.replace(/[^A-Za-z0-9_]/g, "_"), agent_name: j % 2 === 0 ? "cursor" : "claude", action_type: "task_completed", timestamp: new Date().toISOString()
  })))
  expect(await call("POST", "/v1/events", await token("producer", "events:write"), events)).toMatchObject({ status: 202, body: { accepted: events.length } })

  // --- ledgers: the oracle's, from ClickHouse (once every partition's sink has flushed them) ---
  const ledgerPath = (u: string, q = "") => `/v1/users/${encodeURIComponent(u)}/ledger${q}`
  for (const u of USERS) {
    await until(`${u}'s ledger in ClickHouse`, async () => {
      const r = await call<Ledger>("GET", ledgerPath(u, "?limit=1000"), admin)
      return r.status === 200 && r.body.entries.length === 4 ? true : undefined
    })
  }
  const oracle = new Oracle()
  for (const m of await readStream(js, jsm, "ARENA_XP")) oracle.apply(m)
  const pick = (e: Entry) => ({ seq: e.seq, event_id: e.event_id, user_id: e.user_id, xp: e.xp, total_awarded: e.total_awarded, total_xp_after: e.total_xp_after, rules_version: e.rules_version })
  for (const u of USERS) {
    const expected = oracle.ledger.filter((e) => e.user_id === u).map(pick).sort((a, b) => b.seq - a.seq)
    expect(expected).toHaveLength(4)
    // The owner's own token, newest first; pages of 3 by cursor give the same entries.
    const own = await token(u)
    const all = await call<Ledger>("GET", ledgerPath(u), own)
    expect(all.status).toBe(200)
    expect({ user_id: all.body.user_id, entries: all.body.entries.map(pick), next_cursor: all.body.next_cursor }).toEqual({ user_id: u, entries: expected, next_cursor: null })
    const first = await call<Ledger>("GET", ledgerPath(u, "?limit=3"), own)
    expect(first.body.next_cursor).not.toBeNull()
    const second = await call<Ledger>("GET", ledgerPath(u, `?limit=3&cursor=${first.body.next_cursor!}`), own)
    expect([...first.body.entries, ...second.body.entries].map(pick)).toEqual(expected)
    expect(second.body.next_cursor).toBeNull()
  }
  // An erasure takes the user's ledger away (the gateway leaves out what is older than the erasure
  // at once; the erasure's ClickHouse step then deletes those rows, as the single process does); the
  // user_id's new events after it are a new ledger.
  const gone = "pq"
  expect((await call("DELETE", `/v1/users/${gone}`, await token(gone))).status).toBe(202)
  await until(`${gone} erased`, async () => ((await call("GET", `/v1/users/${gone}`, admin)).status === 404 ? true : undefined))
  expect(await call<Ledger>("GET", ledgerPath(gone), admin)).toEqual({ status: 200, body: { user_id: gone, entries: [], next_cursor: null } })
  const again = { ...events[0]!, event_id: `${id}-again`, user_id: gone, username: gone }
  expect(await call("POST", "/v1/events", await token("producer", "events:write"), again)).toMatchObject({ status: 202 })
  const fresh = await until(`${gone}'s new ledger`, async () => {
    const r = await call<Ledger>("GET", ledgerPath(gone), await token(gone))
    return r.status === 200 && r.body.entries.length > 0 ? r.body : undefined
  })
  expect(fresh.entries.map((e) => [e.event_id, e.total_xp_after])).toEqual([[again.event_id, fresh.entries[0]!.total_awarded]])
  expect(fresh.next_cursor).toBeNull()

  // Owner or admin only, ownership before validation (as the single process).
  expect(await call<ErrorBody>("GET", ledgerPath("ann"), null)).toMatchObject({ status: 401, body: { error: { code: "unauthorized" } } })
  expect(await call<ErrorBody>("GET", ledgerPath("ann", "?cursor=zzz"), await token("bob"))).toMatchObject({ status: 403, body: { error: { code: "forbidden" } } })
  expect(await call<ErrorBody>("GET", ledgerPath("ann", "?cursor=zzz"), await token("ann"))).toMatchObject({ status: 400, body: { error: { details: [{ path: "query.cursor" }] } } })
  expect((await call<ErrorBody>("POST", ledgerPath("ann"), admin)).status).toBe(405)
  // Without a ClickHouse server: a clear 501 (as for analytics), naming the setting and the page.
  for (const p of [ledgerPath("ann"), "/v1/analytics/dashboards"]) {
    const r = await noCh.call<ErrorBody>("GET", p, admin)
    expect(r).toMatchObject({ status: 501, body: { error: { code: "not_implemented" } } })
    expect(r.body.error.message).toMatch(/CLICKHOUSE_URL.*docs\/scaling\.md/)
  }

  // --- shares (Postgres): the single process's rules, the same through both gateways ---
  const annT = await token("ann")
  const bobT = await token("bob")
  expect((await call<ErrorBody>("POST", "/v1/shares", null, { title: "t", content: "c", privacy_level: "public" })).status).toBe(401)
  expect(await call<ErrorBody>("POST", "/v1/shares", annT, { title: "", content: "c", privacy_level: "nope" })).toMatchObject({ status: 400 })
  const priv = await call<Share>("POST", "/v1/shares", annT, { title: "mine", content: "private words", privacy_level: "private" })
  expect(priv).toMatchObject({ status: 201, body: { owner: "ann", title: "mine", privacy_level: "private" } })
  const pub = await noCh.call<Share>("POST", "/v1/shares", bobT, { title: "open", content: "public words", privacy_level: "public", tags: ["x"] })
  expect(pub).toMatchObject({ status: 201, body: { owner: "bob", privacy_level: "public", tags: ["x"] } })
  const [row] = await sql<Array<{ owner: string; privacy_level: string }>>`SELECT owner, privacy_level FROM arena_shares WHERE id = ${priv.body.id}`
  expect(row).toEqual({ owner: "ann", privacy_level: "private" })
  for (const c of [ch, noCh]) {
    expect((await c.call<ErrorBody>("GET", `/v1/shares/${priv.body.id}`, null)).status).toBe(404)
    expect((await c.call<ErrorBody>("GET", `/v1/shares/${priv.body.id}`, bobT)).status).toBe(404)
    expect(await c.call<Share>("GET", `/v1/shares/${priv.body.id}`, annT)).toMatchObject({ status: 200, body: priv.body })
    expect(await c.call<Share>("GET", `/v1/shares/${priv.body.id}`, admin)).toMatchObject({ status: 200, body: priv.body })
    expect((await c.call<{ shares: Array<Share> }>("GET", "/v1/shares", null)).body.shares.map((s) => s.id)).toEqual([pub.body.id])
    expect((await c.call<{ shares: Array<Share> }>("GET", "/v1/shares?mine=true", annT)).body.shares.map((s) => s.id)).toEqual([priv.body.id])
    expect((await c.call<ErrorBody>("GET", "/v1/shares?mine=true", null)).status).toBe(401)
  }
  expect((await call<ErrorBody>("GET", "/v1/shares/short", annT)).body.error.details[0]!.path).toBe("path.id")
  expect((await call<ErrorBody>("PATCH", `/v1/shares/${priv.body.id}`, bobT, { title: "stolen" })).status).toBe(404)
  expect(await call<Share>("PATCH", `/v1/shares/${priv.body.id}`, annT, { title: "renamed" })).toMatchObject({ status: 200, body: { title: "renamed", content: "private words" } })
  expect((await call<ErrorBody>("PUT", `/v1/shares/${priv.body.id}`, annT, {})).status).toBe(405)
  expect((await call("DELETE", `/v1/shares/${priv.body.id}`, bobT)).status).toBe(404)
  const del = await fetch(`http://127.0.0.1:${noCh.port()}/v1/shares/${priv.body.id}`, { method: "DELETE", headers: { authorization: `Bearer ${annT}` } })
  expect(del.status).toBe(204)
  expect((await call("GET", `/v1/shares/${priv.body.id}`, annT)).status).toBe(404)

  // --- GET /v1/rules and /v1/achievements: the recorded history, as the single process shows it ---
  const stored = await Effect.runPromise(makeRulesStore(sql).history)
  expect(stored.map((v) => ({ version: v.version, hash: v.contentHash, from: v.effectiveFromSeq }))).toEqual([{ version: DEFAULT_RULES.version, hash: rulesContentHash(DEFAULT_RULES), from: 1 }])
  const expectedRules = JSON.parse(JSON.stringify(rulesHistoryDocument(await Effect.runPromise(compileHistory(stored))))) as unknown
  for (const c of [ch, noCh]) {
    const r = await c.call<{ version: string; in_force: boolean; content_hash: string }>("GET", "/v1/rules", null)
    expect(r.status).toBe(200)
    expect(r.body).toEqual(expectedRules)
    expect(r.body).toMatchObject({ version: DEFAULT_RULES.version, in_force: true, content_hash: rulesContentHash(DEFAULT_RULES) })
    expect(await c.call("GET", "/v1/achievements", null)).toEqual({ status: 200, body: JSON.parse(JSON.stringify(achievementCatalog(DEFAULT_RULES))) })
    expect((await c.call<ErrorBody>("GET", "/v1/rules?x=1", null)).body.error.details[0]!.path).toBe("query.x")
  }

  // --- what stays 501 says why and names docs/scaling.md ---
  // (Dry runs are served on both gateways: an unknown job is a 404, not a 501.)
  for (const c of [ch, noCh]) expect(await c.call<ErrorBody>("GET", "/v1/rules/dry-run/abcdefghijkl", admin)).toMatchObject({ status: 404, body: { error: { code: "not_found" } } })
  for (const [method, p, why] of [
    ["POST", "/v1/rules/apply", /re-projections/],
    ["GET", "/v1/rules/apply", /re-projections/],
    ["GET", "/v1/groups", /not served/]
  ] as const) {
    const r = await call<ErrorBody>(method, p, admin, method === "POST" ? {} : undefined)
    expect(r, `${method} ${p}`).toMatchObject({ status: 501, body: { error: { code: "not_implemented" } } })
    expect(r.body.error.message).toMatch(why)
    expect(r.body.error.message).toMatch(/docs\/scaling\.md/)
  }
}, 120_000)
