// Closed periods on the partitioned gateway (ARCHITECTURE §4, §9 "boards merged exactly"; issue 16;
// docs/scaling.md) on a real 3-node nats-server cluster with P = 4: two `arena serve --role
// processor` processes and one `--role gateway`, all real child processes. With a rules grace that
// closes yesterday's day boards ~45 s after start-up, events for yesterday by users on every
// partition (XP ties across partitions among them) are applied while yesterday is open; then stream
// time passes the close (ticks), each processor archives its partitions' parts, and the gateway
// answers yesterday from those archives merged exactly, with the single process's bodies: pages
// (every cursor walk) and around-me of every user equal to the oracle's ranking of the same stream
// (rank = 1 + Σ partitions' better rows; ties in the seq order), seq 0 as an archived period has,
// on the global board, an agent board and a group board (the members' rows of the global archive,
// ranked among them); 404 for a period no partition archived and for a user without a rank there.
import { randomBytes } from "node:crypto"
import * as fs from "node:fs"
import * as path from "node:path"
import type { JetStreamClient, JetStreamManager } from "@nats-io/jetstream"
import type postgres from "postgres"
import { afterAll, beforeAll, expect, it } from "vitest"
import { DEFAULT_RULES_DOCUMENT } from "../../src/domain/DefaultRules.js"
import { partitionOfUser } from "../../src/domain/Partition.js"
import { mintToken } from "../../src/gateway/auth/Auth.js"
import type { PartitionState } from "../../src/ports/MergedReads.js"
import { Oracle } from "../oracle/Oracle.js"
import { DEFAULT_TABLES } from "../oracle/rules.js"
import { readStream } from "../oracle/stream.js"
import { clusterWorld } from "../support/clusterWorld.js"
import { gatewayClient } from "../support/gatewayClient.js"
import { partitionedMembers } from "../support/partitionedMembers.js"

const P = 4
const DAY = 86_400_000
/** Yesterday's day boards close this long after the test starts (the events must be applied before). */
const CLOSE_AFTER_S = 45
const world = clusterWorld("pcl", { partitions: P })
const { cluster, id, databaseUrl: dbUrl, dataDir } = world
const SECRET = randomBytes(48).toString("base64url")
const env: Record<string, string> = { ARENA_JWT_SECRET: SECRET, ARENA_AUTH: "on" }
const { procs, start, kill9 } = partitionedMembers({ cluster, partitions: P, databaseUrl: dbUrl, dataDir, env })
const { call, until, setPort } = gatewayClient(procs, id)

let js: JetStreamClient
let jsm: JetStreamManager
let sql: postgres.Sql
let yesterday = ""
let closesAt = 0
let graceMs = 0

beforeAll(async () => {
  ;({ js, jsm, sql } = await world.up())
  // The grace of the periods test (test/pipeline/periods.test.ts): yesterday closes CLOSE_AFTER_S from now.
  const todayStart = Math.floor(Date.now() / DAY) * DAY
  yesterday = new Date(todayStart - DAY).toISOString().slice(0, 10)
  const graceSeconds = Math.ceil((Date.now() - todayStart) / 1000) + CLOSE_AFTER_S
  graceMs = graceSeconds * 1000
  closesAt = todayStart + graceMs
  const rulesFile = path.join(dataDir, "rules.json")
  fs.writeFileSync(rulesFile, JSON.stringify({ ...DEFAULT_RULES_DOCUMENT, version: "test-closed", period_grace_seconds: graceSeconds }))
  env["ARENA_RULES"] = rulesFile
})

afterAll(async () => {
  for (const p of procs) await kill9(p)
  await world.down()
})

interface Row { rank: number; user_id: string | null; username: string | null; xp: number; level: number }
interface Page { board: string; window: string; period: string; resets_at: string | null; seq: number; total: number; entries: Array<Row>; next_cursor: string | null }
interface Around { board: string; window: string; period: string; seq: number; total: number; user: Row; entries: Array<Row> }
interface ErrorBody { error: { code: string; message: string } }

const token = (sub: string, scope = "") => mintToken({ sub, scope, ttlSeconds: 3600 }, SECRET)

/** Every entry of a board read page by page (`limit` each) through the cursors it hands out. */
const walk = async (board: string, q: string, limit: number): Promise<{ rows: Array<Row>; pages: Array<Page> }> => {
  const rows: Array<Row> = []
  const pages: Array<Page> = []
  let cursor: string | null = null
  do {
    const r: { status: number; body: Page } = await call<Page>("GET", `/v1/leaderboards/${board}?${q}&limit=${limit}${cursor === null ? "" : `&cursor=${cursor}`}`, null)
    expect(r.status, `${board} ${q} limit ${limit}`).toBe(200)
    pages.push(r.body)
    rows.push(...r.body.entries)
    cursor = r.body.next_cursor
  } while (cursor !== null && pages.length < 100)
  return { rows, pages }
}

it("P = 4: a closed day period merged exactly from each partition's archive (pages by cursor, around-me of every user, ties across partitions), as one process answers it", async () => {
  await start("proc-a", "processor", 1)
  await start("proc-b", "processor", 2)
  setPort((await start("gw", "gateway", 3)).port)
  await until("every partition ready", async () => ((await call("GET", "/readyz", null)).status === 200 ? true : undefined), 60_000)

  // --- events for yesterday while it is open: users on every partition, XP ties across partitions ---
  const counts: Record<string, number> = { u0: 3, u1: 3, u2: 7, u3: 1, u4: 5, u5: 5, u6: 2, u7: 9, u8: 3, u9: 5, u10: 1, u11: 4 }
  const users = Object.keys(counts)
  expect(new Set(users.map((u) => partitionOfUser(u, P))).size).toBe(P)
  let n = 0
  const events = Object.entries(counts).flatMap(([u, k]) => Array.from({ length: k }, (_, i) => ({
    event_id: `${id}-${n++}`, user_id: u, username: `${u}_name`, agent_name: i % 2 === 0 ? "cursor" : "aider", action_type: "task_completed",
    timestamp: `${yesterday}T${String(10 + (i % 10)).padStart(2, "0")}:00:00Z`
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
  // The precondition of what follows: yesterday was still open when its events were applied.
  expect(Date.now(), `the events were applied at ${new Date().toISOString()}; yesterday closed at ${new Date(closesAt).toISOString()}`).toBeLessThan(closesAt)
  // A group spanning every partition, with a member who has no score yesterday.
  const team = ["u0", "u1", "u2", "u3", "u4", "u5", "u6", "u9", "u10", "ghost"]
  expect(new Set(team.filter((u) => u !== "ghost").map((u) => partitionOfUser(u, P))).size).toBe(P)
  expect((await call("PUT", "/v1/groups/team", await token("alice"), { name: "Team", members: team })).status).toBe(201)

  // --- the close: every partition's stream time passes it and each archives its part ---
  await until("every partition archived yesterday", async () => {
    const states = await call<{ partitions: Array<PartitionState> }>("GET", "/v1/partitions", null)
    const archived = await sql<Array<{ partition: number }>>`
      SELECT DISTINCT partition FROM arena_partition_period_archive WHERE board = 'global' AND win = 'day' AND period = ${yesterday}`
    return states.status === 200 && states.body.partitions.every((s) => s.streamTimeMs >= closesAt) && archived.length === P ? true : undefined
  }, closesAt - Date.now() + 60_000)

  // --- the oracle over the stored stream (with the test's grace): yesterday's rankings ---
  const oracle = new Oracle(null, { rules: [{ fromSeq: 1, rules: { ...DEFAULT_TABLES, periodGraceMs: graceMs } }] })
  for (const m of await readStream(js, jsm, "ARENA_XP")) oracle.apply(m)
  const want = (board: string): Array<Row> => oracle.ranked(board, "day", yesterday).map((r) => ({ rank: r.rank, user_id: r.user_id, username: r.username, xp: r.xp, level: r.level }))
  const global = want("global")
  expect(global.map((r) => r.user_id).sort()).toEqual([...users].sort())
  // Ties in XP between users of different partitions: the order between them is the seq's.
  const ties = global.filter((r, i) => i > 0 && global[i - 1]!.xp === r.xp && partitionOfUser(global[i - 1]!.user_id!, P) !== partitionOfUser(r.user_id!, P))
  expect(ties.length).toBeGreaterThan(0)
  const groupRows = global.filter((r) => team.includes(r.user_id!)).map((r, i) => ({ ...r, rank: i + 1 }))
  const boards: Array<[string, Array<Row>]> = [["global", global], ["agent:cursor", want("agent:cursor")], ["agent:aider", want("agent:aider")], ["group:team", groupRows]]
  const q = `window=day&period=${yesterday}`

  for (const [board, rows] of boards) {
    expect(rows.length, board).toBeGreaterThan(2)
    // The whole board in one page: the single process's body for an archived period (seq 0).
    const whole = await call<Page>("GET", `/v1/leaderboards/${board}?${q}&limit=1000`, null)
    expect(whole.status, board).toBe(200)
    expect(whole.body, board).toEqual({ board, window: "day", period: yesterday, resets_at: expect.any(String), seq: 0, total: rows.length, entries: rows, next_cursor: null })
    // Keyset pages by cursor, of every size up to the board's: the same rows, ranks and totals.
    for (let limit = 1; limit <= rows.length; limit++) {
      const w = await walk(board, q, limit)
      expect(w.rows, `${board} limit ${limit}`).toEqual(rows)
      expect(w.pages.every((p) => p.seq === 0 && p.total === rows.length), `${board} limit ${limit}`).toBe(true)
    }
    // Around-me of every ranked user, radius 0..2: their row and neighbours at their exact ranks.
    for (const [i, me] of rows.entries()) {
      for (const radius of [0, 2]) {
        const r = await call<Around>("GET", `/v1/leaderboards/${board}/users/${me.user_id!}?${q}&radius=${radius}`, null)
        expect(r.status, `${board} ${me.user_id!}`).toBe(200)
        expect(r.body, `${board} ${me.user_id!} radius ${radius}`).toEqual({
          board, window: "day", period: yesterday, resets_at: expect.any(String), seq: 0, total: rows.length, user: me, entries: rows.slice(Math.max(0, i - radius), i + radius + 1)
        })
      }
    }
    // A user without a rank that period: 404, as one process answers.
    const none = await call<ErrorBody>("GET", `/v1/leaderboards/${board}/users/ghost?${q}`, null)
    expect(none, board).toMatchObject({ status: 404, body: { error: { code: "not_found" } } })
  }
  // A period no partition archived: 404 (the single process's answer for a period never archived).
  for (const board of ["global", "agent:cursor", "group:team"]) {
    const r = await call<ErrorBody>("GET", `/v1/leaderboards/${board}?window=day&period=2020-01-01`, null)
    expect(r, board).toMatchObject({ status: 404, body: { error: { code: "not_found", message: `no leaderboard ${board} for window=day period=2020-01-01` } } })
    expect((await call<ErrorBody>("GET", `/v1/leaderboards/${board}/users/u0?window=day&period=2020-01-01`, null)).status, board).toBe(404)
  }
  // The current period and all-time still answer live (seq the low watermark, not 0).
  const all = await call<Page>("GET", "/v1/leaderboards/global?limit=1000", null)
  expect(all.body.total).toBe(users.length)
  expect(all.body.seq).toBeGreaterThanOrEqual(lastSeq)
}, 240_000)
