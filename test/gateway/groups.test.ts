// Groups on the real service (`arena serve` with its own Postgres): PUT/GET/DELETE /v1/groups/{id}
// with good and bad input (owner = sub, admin may manage any, others 403), the board group:<id>
// ranking members by their global score with the leaderboard REST contract (pages, cursor,
// around-me), its WebSocket feeds (top-N and around-me) folded by a client equal to REST through
// member events, a member's first event, and membership changes; groups survive a restart. A
// closed period of a group board answers like the global board's closed period (pages, cursor,
// around-me), from the members' rows of the global archive; group boards are not listed by
// GET /v1/leaderboards (a deliberate choice: README, "Groups").
import fc from "fast-check"
import { expect, it } from "vitest"
import type { RankedEntry } from "../../src/ports/ReadModel.js"
import type { AroundMessage, LeaderboardMessage } from "../../src/gateway/protocol/Messages.js"
import { db, useArena } from "../support/arena.js"
import { api, openWs, wsUrl } from "./client.js"
import type { WsReader } from "./client.js"
import { event } from "./harness.js"
import { fold, foldWindow } from "./wsProtocol.js"
import { SQL_AND_HEADERS } from "../security/hostile.js"

const { names, arena, token, postEvents: post } = useArena("groups")


interface Page { seq: number; total: number; entries: Array<RankedEntry>; next_cursor: string | null }
const page = async (q: string): Promise<Page> => {
  const r = await api<Page>(arena.baseUrl, "GET", `/v1/leaderboards/${q}`)
  expect(r.status, q).toBe(200)
  return r.json
}
const put = async (id: string, sub: string, body: unknown, scope = "") =>
  api<{ id: string; owner: string; members?: Array<string>; size: number; board: string; error?: { details: Array<{ path: string }> } }>(
    arena.baseUrl, "PUT", `/v1/groups/${id}`, { token: await token(sub, scope), body })

type Err = { error: { details: Array<{ path: string }> } }
const field = (r: { json: unknown }): string | undefined => (r.json as Err).error?.details[0]?.path

it("manages groups: owner = sub, admin any, others 403; bad input is a 400 naming the field", async () => {
  expect((await api(arena.baseUrl, "PUT", "/v1/groups/g1", { body: { name: "G", members: [] } })).status).toBe(401)
  const created = await put("g1", "alice", { name: "Team", members: ["a", "b"] })
  expect(created.status).toBe(201)
  expect(created.json).toMatchObject({ id: "g1", owner: "alice", members: ["a", "b"], size: 2, board: "group:g1" })
  expect((await put("g1", "alice", { name: "Team 2", members: ["a"] })).status).toBe(200)
  expect((await put("g1", "bob", { name: "Mine", members: [] })).status).toBe(403)
  const admin = await put("g1", "root", { name: "Team 3", members: ["a", "c"] }, "admin")
  expect(admin.status).toBe(200)
  expect(admin.json.owner).toBe("alice")
  // Members are shown to the owner and admin only.
  expect((await api<{ members?: Array<string> }>(arena.baseUrl, "GET", "/v1/groups/g1")).json).toMatchObject({ name: "Team 3", size: 2, owner: "alice" })
  expect((await api<{ members?: Array<string> }>(arena.baseUrl, "GET", "/v1/groups/g1")).json.members).toBeUndefined()
  expect((await api<{ members?: Array<string> }>(arena.baseUrl, "GET", "/v1/groups/g1", { token: await token("alice") })).json.members).toEqual(["a", "c"])
  expect((await api(arena.baseUrl, "GET", "/v1/groups/nope")).status).toBe(404)

  const tooMany = Array.from({ length: 10_001 }, (_, i) => `m${i}`)
  const bad: Array<[string, unknown, string]> = [
    ["g2", { members: [] }, "body.name"], ["g2", { name: "", members: [] }, "body.name"], ["g2", { name: "x".repeat(101), members: [] }, "body.name"],
    ["g2", { name: "G" }, "body.members"], ["g2", { name: "G", members: "a" }, "body.members"], ["g2", { name: "G", members: ["a", "bad id"] }, "body.members[1]"],
    ["g2", { name: "G", members: ["a", "b", "a"] }, "body.members[2]"], ["g2", { name: "G", members: tooMany }, "body.members"],
    ["g2", { name: "G", members: [], extra: 1 }, "body.extra"], ["bad%20id", { name: "G", members: [] }, "path.group_id"], ["g2", [1], "body"]
  ]
  for (const [id, body, path] of bad) {
    const r = await put(id, "alice", body)
    expect([id, JSON.stringify(body).slice(0, 60), r.status, field(r)]).toEqual([id, JSON.stringify(body).slice(0, 60), 400, path])
  }
  expect((await api(arena.baseUrl, "PUT", "/v1/groups/g2?x=1", { token: await token("alice"), body: { name: "G", members: [] } })).status).toBe(400)
  // 10,000 members is the bound, and fits.
  expect((await put("big", "alice", { name: "Big", members: tooMany.slice(0, 10_000) })).status).toBe(201)

  expect((await api(arena.baseUrl, "DELETE", "/v1/groups/g1")).status).toBe(401)
  expect((await api(arena.baseUrl, "DELETE", "/v1/groups/g1", { token: await token("bob") })).status).toBe(403)
  expect((await api(arena.baseUrl, "DELETE", "/v1/groups/g1", { token: await token("alice") })).status).toBe(204)
  expect((await api(arena.baseUrl, "DELETE", "/v1/groups/g1", { token: await token("alice") })).status).toBe(404)
  expect((await api(arena.baseUrl, "GET", "/v1/groups/g1")).status).toBe(404)
  expect((await api(arena.baseUrl, "GET", "/v1/leaderboards/group:g1")).status).toBe(404)
  expect((await api(arena.baseUrl, "DELETE", "/v1/groups/big", { token: await token("root", "admin") })).status).toBe(204)

  // The served OpenAPI documents both, from the schema that validates the body.
  const doc = (await api<{ paths: Record<string, Record<string, unknown>>; components: { schemas: Record<string, { additionalProperties?: unknown }> } }>(arena.baseUrl, "GET", "/openapi.json")).json
  expect(Object.keys(doc.paths["/v1/groups/{group_id}"]!).sort()).toEqual(["delete", "get", "put"])
  expect(doc.paths["/ws/leaderboard/{board}/around/{user_id}"]).toBeDefined()
  expect(doc.components.schemas["GroupInput"]!.additionalProperties).toBe(false)
  expect((await api(arena.baseUrl, "GET", "/ws/leaderboard/global/around/u1")).status).toBe(426)
})

it("never answers hostile group bodies or ids with a 5xx; what it stores reads back verbatim", async () => {
  const alice = await token("alice")
  const text = fc.oneof(fc.constantFrom(...SQL_AND_HEADERS), fc.string({ maxLength: 120, unit: "binary" }))
  const body = fc.oneof(
    fc.record({ name: text, members: fc.array(fc.oneof(text, fc.constantFrom("u1", "a.b@c:d-e_f")), { maxLength: 20 }) }),
    fc.jsonValue({ maxDepth: 3 }),
    fc.record({ name: text, members: fc.constant([]), owner: fc.constant("mallory") })
  )
  const id = fc.oneof(fc.constantFrom("fz", "fz.1", "fz_-", "%2e%2e", "..", "a%00b", "x".repeat(65)), fc.string({ minLength: 1, maxLength: 20 }).map(encodeURIComponent))
  await fc.assert(fc.asyncProperty(id, body, async (gid, b) => {
    const r = await api<{ name?: string; owner?: string; error?: { details: Array<{ path: string }> } }>(arena.baseUrl, "PUT", `/v1/groups/${gid}`, { token: alice, body: b })
    expect(r.status, JSON.stringify([gid, b]).slice(0, 200)).toBeLessThan(500)
    if (r.status < 300) {
      expect(r.json.owner).toBe("alice")
      const back = await api<{ name: string; members: Array<string> }>(arena.baseUrl, "GET", `/v1/groups/${gid}`, { token: alice })
      // Stored as UTF-8: a lone surrogate reads back as U+FFFD (as share text does; SECURITY.md).
      expect(back.json.name).toBe(Buffer.from((b as { name: string }).name, "utf8").toString("utf8"))
      expect(back.json.members).toEqual((b as { members: Array<string> }).members)
    } else {
      expect(r.json.error, JSON.stringify(r.json)).toBeDefined()
      if (r.status === 400) expect(r.json.error!.details.length, JSON.stringify(r.json)).toBeGreaterThan(0)
    }
  }), { numRuns: 150, seed: 15 })
  const lone = await put("fz-lone", "alice", { name: "a\ud800b", members: [] })
  expect([lone.status, (await api<{ name: string }>(arena.baseUrl, "GET", "/v1/groups/fz-lone")).json.name]).toEqual([201, "a\ufffdb"])
})

/** Folds a top-N socket until it equals REST's page (the service has shown `seq`). */
const topMatches = async (ws: WsReader<LeaderboardMessage>, q: string, limit: number, seq: number): Promise<Page> => {
  const want = await page(q)
  expect(want.seq).toBeGreaterThanOrEqual(seq)
  await ws.until((m) => m.length > 0 && JSON.stringify(fold(m, limit).entries) === JSON.stringify(want.entries), 10_000, `${q} equal to REST: ${JSON.stringify(want.entries)}`)
  return want
}
const windowMatches = async (ws: WsReader<AroundMessage>, q: string): Promise<void> => {
  const want = (await api<{ entries: Array<RankedEntry> }>(arena.baseUrl, "GET", `/v1/leaderboards/${q}`)).json.entries
  await ws.until((m) => m.length > 0 && JSON.stringify(foldWindow(m).entries) === JSON.stringify(want), 10_000, `${q} equal to REST`)
}

it("ranks members by global score with pages, cursor and around-me, and streams it live through score and membership changes", async () => {
  // Scores: u1 < u2 < … < u6 (one more event each); n1 and n2 are not members.
  const setup: Array<Record<string, unknown>> = []
  for (let i = 1; i <= 6; i++) for (let k = 0; k < i; k++) setup.push(event(`u${i}`))
  for (let k = 0; k < 9; k++) setup.push(event("n1"))
  let last = await post(setup)
  await arena.waitForSeq(last)
  expect((await put("team", "alice", { name: "Team", members: ["u1", "u2", "u3", "u4", "u5", "fresh"] })).status).toBe(201)

  const all = await page("group:team?limit=100")
  expect(all.total).toBe(5)
  expect(all.entries.map((e) => [e.rank, e.user_id])).toEqual([[1, "u5"], [2, "u4"], [3, "u3"], [4, "u2"], [5, "u1"]])
  const global = await page("global?limit=100")
  for (const e of all.entries) expect(e.xp).toBe(global.entries.find((g) => g.user_id === e.user_id)!.xp)
  // Keyset pages: two of 2 then the last one, equal to the whole list.
  const p1 = await page("group:team?limit=2")
  const p2 = await page(`group:team?limit=2&cursor=${p1.next_cursor!}`)
  const p3 = await page(`group:team?limit=2&cursor=${p2.next_cursor!}`)
  expect([...p1.entries, ...p2.entries, ...p3.entries]).toEqual(all.entries)
  expect(p3.next_cursor).toBeNull()
  const around = (await api<{ user: RankedEntry; entries: Array<RankedEntry> }>(arena.baseUrl, "GET", "/v1/leaderboards/group:team/users/u3?radius=1")).json
  expect(around.user).toMatchObject({ rank: 3, user_id: "u3" })
  expect(around.entries.map((e) => e.user_id)).toEqual(["u4", "u3", "u2"])
  expect((await api(arena.baseUrl, "GET", "/v1/leaderboards/group:team/users/n1")).status).toBe(404)
  expect((await api(arena.baseUrl, "GET", "/v1/leaderboards/group:nosuch")).status).toBe(404)
  expect((await api(arena.baseUrl, "GET", "/v1/leaderboards/group:bad%20id")).status).toBe(400)

  const top = await openWs<LeaderboardMessage>(wsUrl(arena.baseUrl, "/ws/leaderboard/group:team?limit=4"))
  const day = await openWs<LeaderboardMessage>(wsUrl(arena.baseUrl, "/ws/leaderboard/group:team?window=day&limit=10"))
  const win = await openWs<AroundMessage>(wsUrl(arena.baseUrl, "/ws/leaderboard/group:team/around/u3?radius=1"))
  expect(await top.nth(0)).toMatchObject({ type: "snapshot", board: "group:team" })
  await topMatches(top, "group:team?limit=4", 4, last)
  await windowMatches(win, "group:team/users/u3?radius=1")

  // Members move (u1 climbs past u2..u4), a non-member moves, a member scores their first event.
  for (let k = 0; k < 4; k++) last = await post([event("u1"), event("n2")])
  last = await post([event("fresh"), event("fresh")])
  await arena.waitForSeq(last)
  await topMatches(top, "group:team?limit=4", 4, last)
  await topMatches(day, "group:team?window=day&limit=10", 10, last)
  await windowMatches(win, "group:team/users/u3?radius=1")
  expect((await page("group:team?limit=10")).entries.map((e) => e.user_id)).toContain("fresh")

  // Membership changes: n1 (high score) joins, u5 leaves — deltas, no snapshot.
  const before = top.messages.length
  expect((await put("team", "alice", { name: "Team", members: ["u1", "u2", "u3", "u4", "fresh", "n1"] })).status).toBe(200)
  const after = await topMatches(top, "group:team?limit=4", 4, last)
  expect(after.entries[0]!.user_id).toBe("n1")
  expect(after.entries.some((e) => e.user_id === "u5")).toBe(false)
  expect(top.messages.slice(before).every((m) => m.type === "delta")).toBe(true)
  await topMatches(day, "group:team?window=day&limit=10", 10, last)
  await windowMatches(win, "group:team/users/u3?radius=1")
  const folded = fold(top.messages, 4)
  expect(folded.snapshots).toBe(1)

  // Deleting the group empties its live board (removed entries), and REST answers 404.
  expect((await api(arena.baseUrl, "DELETE", "/v1/groups/team", { token: await token("alice") })).status).toBe(204)
  await top.until((m) => fold(m, 4).entries.length === 0, 10_000, "an empty board after delete")
  for (const s of [top, day, win]) s.close()
})

it("keeps groups across a restart (stored in Postgres, loaded at start)", async () => {
  expect((await put("keep", "carol", { name: "Kept", members: ["u2", "u4"] })).status).toBe(201)
  const before = await page("group:keep")
  await arena.stop()
  await arena.start()
  await arena.waitForSeq(before.seq)
  const g = await api<{ owner: string; members: Array<string> }>(arena.baseUrl, "GET", "/v1/groups/keep", { token: await token("carol") })
  expect(g.json).toMatchObject({ owner: "carol", members: ["u2", "u4"] })
  expect((await page("group:keep")).entries).toEqual(before.entries)
})

it("answers a closed period of a group board from the global archive like any closed period (and the global board's own pages by cursor and around-me), and does not list group boards", async () => {
  // The global day 2020-01-01 as archived when it closed: members of the group and others, interleaved.
  const rows = [["x1", 90, 11], ["m1", 80, 12], ["x2", 70, 13], ["m2", 60, 14], ["m3", 60, 15], ["x3", 50, 16], ["m4", 40, 17]] as const
  const sql = db(names)
  try {
    for (const [i, [user, xp, at]] of rows.entries()) {
      await sql`INSERT INTO arena_period_archive (board, win, period, rank, user_id, username, xp, reached_seq, level) VALUES ('global', 'day', '2020-01-01', ${i + 1}, ${user}, ${user.toUpperCase()}, ${xp}, ${at}, 1)`
    }
    await sql`INSERT INTO arena_period_closed (board, win, period, entries, closed_at_seq) VALUES ('global', 'day', '2020-01-01', ${rows.length}, 1)`
  } finally { await sql.end() }
  expect((await put("old", "dora", { name: "Old", members: ["m1", "m2", "m3", "m4", "never-scored"] })).status).toBe(201)
  const q = "window=day&period=2020-01-01"
  const global = await page(`global?${q}`)
  const whole = await page(`group:old?${q}`)
  const members = global.entries.filter((e) => e.user_id.startsWith("m")).map((e, i) => ({ ...e, rank: i + 1 }))
  expect(whole).toMatchObject({ total: 4, next_cursor: null, seq: global.seq })
  expect(whole.entries).toEqual(members)
  expect(whole).toMatchObject({ board: "group:old", window: "day", period: "2020-01-01", resets_at: (global as Page & { resets_at: string }).resets_at })
  // Pages and cursors as on any board (m2 and m3 tie on xp: the lower reached seq first).
  const first = await page(`group:old?${q}&limit=2`)
  expect(first.entries.map((e) => [e.rank, e.user_id])).toEqual([[1, "m1"], [2, "m2"]])
  const second = await page(`group:old?${q}&limit=2&cursor=${first.next_cursor!}`)
  expect(second.entries.map((e) => [e.rank, e.user_id])).toEqual([[3, "m3"], [4, "m4"]])
  // Around-me: the window among the members; a non-member has no rank there (404, as on any board).
  const around = await api<{ total: number; user: RankedEntry; entries: Array<RankedEntry> }>(arena.baseUrl, "GET", `/v1/leaderboards/group:old/users/m3?${q}&radius=1`)
  expect([around.status, around.json.total, around.json.user.rank, around.json.entries.map((e) => e.user_id)]).toEqual([200, 4, 3, ["m2", "m3", "m4"]])
  expect((await api(arena.baseUrl, "GET", `/v1/leaderboards/group:old/users/x1?${q}`)).status).toBe(404)
  // The global board's own closed period by cursor and around-me, read from its archive by key (seq 0):
  // the user's archived row and neighbours at their archived ranks; a user not in it has no rank (404).
  const walked: Array<[number, string]> = []
  for (let cursor: string | null = null, i = 0; i === 0 || cursor !== null; i++) {
    const p: Page = await page(`global?${q}&limit=2${cursor === null ? "" : `&cursor=${cursor}`}`)
    expect([p.seq, p.total]).toEqual([0, 7])
    walked.push(...p.entries.map((e): [number, string] => [e.rank, e.user_id]))
    cursor = p.next_cursor
  }
  expect(walked).toEqual(rows.map(([u], i) => [i + 1, u]))
  for (const [user, radius, want] of [["m3", 1, [[4, "m2"], [5, "m3"], [6, "x3"]]], ["x1", 2, [[1, "x1"], [2, "m1"], [3, "x2"]]], ["m4", 0, [[7, "m4"]]]] as const) {
    const r = await api<{ seq: number; total: number; period: string; user: RankedEntry; entries: Array<RankedEntry> }>(arena.baseUrl, "GET", `/v1/leaderboards/global/users/${user}?${q}&radius=${radius}`)
    expect([r.status, r.json.seq, r.json.total, r.json.period, r.json.user.user_id, r.json.entries.map((e) => [e.rank, e.user_id])]).toEqual([200, 0, 7, "2020-01-01", user, want])
  }
  expect((await api(arena.baseUrl, "GET", `/v1/leaderboards/global/users/never-scored?${q}`)).status).toBe(404)
  expect((await api(arena.baseUrl, "GET", "/v1/leaderboards/global/users/m3?window=day&period=2020-01-02")).status).toBe(404)
  // A period never archived, and a group that does not exist: 404, as for the global board.
  expect((await api(arena.baseUrl, "GET", "/v1/leaderboards/global?window=day&period=2020-01-02")).status).toBe(404)
  expect((await api(arena.baseUrl, "GET", "/v1/leaderboards/group:old?window=day&period=2020-01-02")).status).toBe(404)
  expect((await api(arena.baseUrl, "GET", `/v1/leaderboards/group:none?${q}`)).status).toBe(404)
  // The membership is today's: a member added later is ranked in the old period too.
  expect((await put("old", "dora", { name: "Old", members: ["x1", "m3"] })).status).toBe(200)
  expect((await page(`group:old?${q}`)).entries.map((e) => [e.rank, e.user_id, e.xp])).toEqual([[1, "x1", 90], [2, "m3", 60]])
  // Not listed: the list is of the boards the pipeline keeps (README, "Groups").
  const list = await api<{ boards: Array<{ board: string }> }>(arena.baseUrl, "GET", "/v1/leaderboards")
  expect(list.status).toBe(200)
  expect(list.json.boards.map((b) => b.board).filter((b) => b.startsWith("group:"))).toEqual([])
})
