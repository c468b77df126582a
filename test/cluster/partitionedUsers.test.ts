// /ws/users/{user_id} on the partitioned gateway (ARCHITECTURE §7, §9, issue 16) on a real 3-node
// nats-server cluster with P = 4: two `arena serve --role processor` processes and one
// `--role gateway`, all child processes. The single process's admission (401 without a token, 403
// with another user's, 400 for a bad id; the user's own token or an admin's opens it), and the
// user's notifications from the partition's owner: xp_awarded, level_up, achievement_unlocked and
// xp_corrected equal what the independent oracle folds from the stored stream for that user, in seq
// order, nobody else's, the same frames on every socket of the user; rank_changed (read by the
// gateway from the merged ranks) chains by prev_rank per board and ends at REST's rank as the user
// climbs past the others. Then kill -9 of the owner:
// the socket stays open and the new owner's notifications follow, an event stored while nobody
// owned the partition included; what the new owner replays from its checkpoint may come twice
// (same frame), nothing is missing.
import { randomBytes } from "node:crypto"
import type { JetStreamClient, JetStreamManager } from "@nats-io/jetstream"
import type postgres from "postgres"
import { afterAll, beforeAll, expect, it } from "vitest"
import { partitionKindSubject, partitionOfUser } from "../../src/domain/Partition.js"
import { mintToken } from "../../src/gateway/auth/Auth.js"
import type { UserNotification } from "../../src/ports/LiveFeed.js"
import { Oracle } from "../oracle/Oracle.js"
import { readStream } from "../oracle/stream.js"
import { openWs, wsUrl } from "../gateway/client.js"
import type { WsReader } from "../gateway/client.js"
import { clusterWorld } from "../support/clusterWorld.js"
import { gatewayClient } from "../support/gatewayClient.js"
import { partitionedMembers } from "../support/partitionedMembers.js"

const P = 4
const world = clusterWorld("pu", { partitions: P })
const { cluster, id, databaseUrl, dataDir } = world
const SECRET = randomBytes(48).toString("base64url")
const { procs, start, kill9 } = partitionedMembers({ cluster, partitions: P, databaseUrl, dataDir, env: { ARENA_JWT_SECRET: SECRET, ARENA_AUTH: "on" } })
const { call, until, setPort } = gatewayClient(procs, id)

let js: JetStreamClient
let jsm: JetStreamManager
let sql: postgres.Sql

beforeAll(async () => {
  ;({ js, jsm, sql } = await world.up())
})

afterAll(async () => {
  for (const p of procs) await kill9(p)
  await world.down()
})

// The watched user's id has both escaped characters (`.` → `~`, `@` → `=` in its subject token).
const W = "w.u@x.io"
const OTHERS = ["ann", "bob", "c.d", "g:h"]
let n = 0
const event = (user: string, action = "task_completed") => ({
  event_id: `${id}-${n++}`, user_id: user, username: user.replace(/[^A-Za-z0-9_]/g, "_"), agent_name: "cursor", action_type: action, timestamp: new Date().toISOString()
})
type Result = { status: string; seq: number }
let producer = ""
const post = async (items: Array<ReturnType<typeof event>>): Promise<Array<Result>> => {
  const r = await call<{ accepted: number; results: Array<Result> }>("POST", "/v1/events", producer, items)
  expect(r).toMatchObject({ status: 202, body: { accepted: items.length } })
  return r.body.results
}

/** What a notification says that the oracle checks independently (rank_changed is not compared here). */
const fact = (x: UserNotification): string | null => {
  switch (x.type) {
    case "xp_awarded": {
      const e = x.entry
      return JSON.stringify(["xp_awarded", x.user_id, x.seq, e.seq, e.event_id, e.xp, e.bonuses.map((b) => [b.achievement, b.xp]), e.total_awarded, e.total_xp_after, e.level_before, e.level_after])
    }
    case "level_up": return JSON.stringify(["level_up", x.user_id, x.seq, x.level, x.previous])
    case "achievement_unlocked": return JSON.stringify(["achievement_unlocked", x.user_id, x.seq, x.achievement, x.bonus])
    case "xp_corrected": {
      const e = x.entry
      return JSON.stringify(["xp_corrected", x.user_id, x.seq, e.seq, e.correction_id, e.correction, e.xp, e.total_xp_after, e.level_before, e.level_after])
    }
    case "rank_changed": return null
  }
}

/** The same facts as the oracle folds them from the stored stream: W's awards and corrections in [from, to]. */
const expected = async (from: number, to: number): Promise<Array<string>> => {
  const oracle = new Oracle(partitionKindSubject(partitionOfUser(W, P), "corrections"))
  for (const m of await readStream(js, jsm, "ARENA_XP")) oracle.apply(m)
  const rows: Array<[number, Array<string>]> = []
  for (const r of oracle.ledger) {
    if (r.user_id !== W || r.seq < from || r.seq > to) continue
    const out = [JSON.stringify(["xp_awarded", W, r.seq, r.seq, r.event_id, r.xp, r.bonuses.map((b) => [b.achievement, b.xp]), r.total_awarded, r.total_xp_after, r.level_before, r.level_after])]
    if (r.level_after !== r.level_before) out.push(JSON.stringify(["level_up", W, r.seq, r.level_after, r.level_before]))
    for (const b of r.bonuses) out.push(JSON.stringify(["achievement_unlocked", W, r.seq, b.achievement, b.xp]))
    rows.push([r.seq, out])
  }
  for (const c of oracle.corrections) {
    if (c.user_id !== W || c.seq < from || c.seq > to) continue
    const out = [JSON.stringify(["xp_corrected", W, c.seq, c.seq, c.correction_id, c.correction, c.xp, c.total_xp_after, c.level_before, c.level_after])]
    if (c.level_after > c.level_before) out.push(JSON.stringify(["level_up", W, c.seq, c.level_after, c.level_before]))
    rows.push([c.seq, out])
  }
  return rows.sort((a, b) => a[0] - b[0]).flatMap((r) => r[1])
}

const facts = (r: WsReader<UserNotification>): Array<string> => r.messages.map(fact).filter((f): f is string => f !== null)
const hasSeq = (r: WsReader<UserNotification>, seq: number, type: UserNotification["type"]) => r.messages.some((m) => m.seq === seq && m.type === type)

it("P = 4, 2 processors, a gateway: /ws/users serves the user's notifications from its partition's owner (= the oracle), with the single process's auth, and goes on after kill -9 of the owner", async () => {
  const a = await start("proc-a", "processor", 1)
  const b = await start("proc-b", "processor", 2)
  const gw = await start("gw", "gateway", 3)
  setPort(gw.port)
  const token = (sub: string, scope: string) => mintToken({ sub, scope, ttlSeconds: 3600 }, SECRET)
  producer = await token("producer", "events:write")
  const admin = await token("ops", "admin")
  const mine = await token(W, "")
  await until("every partition ready", async () => ((await call("GET", "/readyz", null)).status === 200 ? true : undefined))
  const base = `http://127.0.0.1:${gw.port}`
  const path = `/ws/users/${encodeURIComponent(W)}`

  // --- admission: the single process's answers ---
  const refusal = (p: string, protocols?: Array<string>) =>
    openWs(wsUrl(base, p), protocols === undefined ? {} : { protocols }).then((r) => (r.close(), "open" as const), (e: { status: number }) => e.status)
  expect(await refusal(path)).toBe(401)
  expect(await refusal(`${path}?token=${mine.slice(0, -2)}zz`)).toBe(401)
  expect(await refusal(`${path}?token=${await token("ann", "")}`)).toBe(403)
  expect(await refusal(path, ["bearer", await token("ann", "")])).toBe(403)
  expect(await refusal(`/ws/users/bad%20id?token=${admin}`)).toBe(400)

  // The others start ahead of W (150 XP each), so W's ranks climb.
  await post(OTHERS.map((u) => event(u, "mission_analytics")))
  await until("the others on the board", async () => {
    const r = await call<{ entries: Array<{ xp: number }> }>("GET", "/v1/leaderboards/global?limit=10", null)
    return r.body.entries.filter((e) => e.xp >= 150).length === OTHERS.length ? true : undefined
  })

  // Two sockets of W (its token as a subprotocol; an admin's) share the gateway's one subscription.
  const s1 = await openWs<UserNotification>(wsUrl(base, path), { protocols: ["bearer", mine] })
  expect(s1.ws.protocol).toBe("bearer")
  const s2 = await openWs<UserNotification>(wsUrl(base, `${path}?token=${admin}`))

  // The owner learns of the watch within a round trip: post W's events until one is notified.
  const first = await until("W's first notification", async () => {
    await post([event(W)])
    return s1.until((m) => m.find((x) => x.type === "xp_awarded")?.seq, 1_000, "a notification").catch(() => undefined)
  })

  // Ten complex API designs (api_master, +100) across levels 2 and 3 (100, 300 XP), others' events in
  // between, then an adjust that raises the level to 4 (700 XP).
  await post([...Array.from({ length: 10 }, () => event(W, "complex_api_design")), ...OTHERS.map((u) => event(u)), event(W), ...OTHERS.map((u) => event(u))])
  const adj = await call<{ status: string; seq: number }>("POST", "/v1/corrections", admin, { correction_id: `${id}-adj-1`, kind: "adjust", user_id: W, xp: 400, agent_name: "cursor", reason: "prize" })
  expect(adj).toMatchObject({ status: 202, body: { status: "accepted" } })
  // W's notifications come in seq order: once the adjust's is here, everything before it is.
  await s1.until(() => hasSeq(s1, adj.body.seq, "xp_corrected"), 20_000, "the adjust's xp_corrected")
  await s2.until(() => hasSeq(s2, adj.body.seq, "xp_corrected"), 20_000, "the adjust's xp_corrected on the admin's socket")
  const want = await expected(first, adj.body.seq)
  expect(want.filter((f) => f.startsWith("[\"level_up\"")).length).toBeGreaterThanOrEqual(3)
  expect(want.some((f) => f.includes("\"api_master\""))).toBe(true)
  expect(facts(s1)).toEqual(want)
  expect(s1.messages.every((m) => m.user_id === W)).toBe(true)
  const sameFrames = () => {
    const common = Math.min(s1.messages.length, s2.messages.length)
    expect(common).toBeGreaterThan(0)
    expect(s2.messages.slice(0, common).map((m) => JSON.stringify(m))).toEqual(s1.messages.slice(0, common).map((m) => JSON.stringify(m)))
  }
  sameFrames()

  // rank_changed: the merged rank (the gateway reads it after the user's awards): its global
  // all-time rank ends where REST says, and each board's frames chain (prev_rank = the last rank sent).
  const rest = await call<{ user: { rank: number } }>("GET", `/v1/leaderboards/global/users/${encodeURIComponent(W)}?window=all&radius=0`, null)
  expect(rest).toMatchObject({ status: 200, body: { user: { rank: 1 } } })
  const rankOn = (board: string, window: string) => s1.messages.filter((m): m is Extract<UserNotification, { type: "rank_changed" }> => m.type === "rank_changed" && m.board === board && m.window === window)
  await s1.until(() => rankOn("global", "all").at(-1)?.rank === rest.body.user.rank, 20_000, "global rank_changed at REST's rank")
  expect(rankOn("global", "all")[0]!.rank).toBeGreaterThan(1)
  for (const board of ["global", "agent:cursor"]) {
    const chain = rankOn(board, "all")
    expect(chain.length, `rank_changed on ${board}`).toBeGreaterThan(0)
    expect(chain.map((m) => m.prev_rank)).toEqual([null, ...chain.slice(0, -1).map((m) => m.rank)])
    for (const m of chain) expect(m.rank).not.toBe(m.prev_rank)
  }
  const before = s1.messages.length

  // --- kill -9 of W's partition's owner; an event stored while the partition has no owner ---
  const k = partitionOfUser(W, P)
  const owner = async () => (await sql<Array<{ owner: string; epoch: string }>>`SELECT owner, epoch FROM arena_partition_checkpoint WHERE partition = ${k}`)[0]!
  const was = await owner()
  const victim = was.owner === a.name ? a : b
  await kill9(victim)
  const [orphan] = await post([event(W), ...OTHERS.map((u) => event(u))])
  await until("the partition taken over", async () => {
    const now = await owner()
    return now.owner !== victim.name && Number(now.epoch) > Number(was.epoch) ? true : undefined
  })
  await until("every partition ready again", async () => ((await call("GET", "/readyz", null)).status === 200 ? true : undefined))
  const [later] = await post([event(W)])
  await s1.until(() => hasSeq(s1, later!.seq, "xp_awarded"), 20_000, "the new owner's notification")
  expect(s1.closed).toBe(null)
  expect(hasSeq(s1, orphan!.seq, "xp_awarded")).toBe(true)
  // What the new owner replayed from its checkpoint may come again (the same frames); nothing is missing.
  const distinct = [...new Set(facts(s1))]
  expect(distinct).toEqual(await expected(first, later!.seq))
  for (const m of s1.messages.slice(before)) {
    const same = s1.messages.slice(0, before).find((x) => x.seq === m.seq && x.type === m.type)
    if (same !== undefined && m.type !== "rank_changed") expect(m).toEqual(same)
  }
  await s2.until(() => hasSeq(s2, later!.seq, "xp_awarded"), 20_000, "the new owner's notification on the admin's socket")
  sameFrames()
  s1.close()
  s2.close()
}, 120_000)
