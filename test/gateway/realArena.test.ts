// The gateway inside the real service (`arena serve`: NATS JetStream → actors → boards → uWS),
// on fresh names: REST ingest with a minted token, WebSocket snapshot + deltas equal to REST and
// a resume after missed deltas (guarantee 6), every kind of per-user notification computed by the
// real engine (xp_awarded, level_up, achievement_unlocked, rank_changed), ledger privacy and
// content, and shares on the service's own Postgres.
import { expect, it } from "vitest"
import type { RankedEntry } from "../../src/ports/ReadModel.js"
import type { UserNotification } from "../../src/ports/LiveFeed.js"
import type { LeaderboardMessage } from "../../src/gateway/protocol/Messages.js"
import { useArena } from "../support/arena.js"
import { api, openWs, wsUrl } from "./client.js"
import type { WsReader } from "./client.js"
import { event } from "./harness.js"
import { fold } from "./wsProtocol.js"

const { arena, token, postEvents: post } = useArena("gw")


it("streams the real pipeline's board: snapshot then chained deltas equal to REST, plus user notifications", async () => {
  await arena.waitForSeq(await post(Array.from({ length: 30 }, (_, i) => event(`p${i % 10}`))))
  const lb = await openWs<LeaderboardMessage>(wsUrl(arena.baseUrl, "/ws/leaderboard/global?limit=5"))
  const me = await openWs<UserNotification>(wsUrl(arena.baseUrl, `/ws/users/p3?token=${await token("p3")}`))
  expect((await lb.nth(0)).type).toBe("snapshot")
  let last = 0
  for (let r = 0; r < 8; r++) last = await post([event(`p${(r * 3) % 10}`, "complex_api_design"), event("p3", "task_completed")])
  await arena.waitForSeq(last)
  const page = (await api<{ seq: number; entries: Array<RankedEntry> }>(arena.baseUrl, "GET", "/v1/leaderboards/global?limit=5")).json
  await lb.until((m) => m[m.length - 1]!.seq >= page.seq, 10_000, "deltas up to the REST seq")
  expect(fold(lb.messages, 5).entries).toEqual(page.entries)
  await me.until((m) => m.some((n) => n.type === "xp_awarded"), 10_000, "xp_awarded")
  expect(me.messages.every((n) => n.user_id === "p3")).toBe(true)
  lb.close()
  me.close()
})

it("keeps ledgers and private shares to their owners on the real service", async () => {
  const owner = await token("p3", "events:write")
  expect((await api(arena.baseUrl, "GET", "/v1/users/p3/ledger")).status).toBe(401)
  expect((await api(arena.baseUrl, "GET", "/v1/users/p3/ledger", { token: await token("p4") })).status).toBe(403)
  // The ledger comes from analytics storage (ClickHouse), written behind the boards: wait until it
  // holds p3's 12 events (3 in the first round, then 8 task_completed and 1 complex_api_design),
  // then check the page is p3's newest five, newest first, each carrying the running total.
  const profile = (await api<{ total_xp: number }>(arena.baseUrl, "GET", "/v1/users/p3")).json
  type Row = { user_id: string; seq: number; total_awarded: number; total_xp_after: number }
  let entries: Array<Row> = []
  for (let i = 0; i < 300; i++) {
    const r = await api<{ entries: Array<Row> }>(arena.baseUrl, "GET", "/v1/users/p3/ledger?limit=1000", { token: owner })
    expect(r.status).toBe(200)
    entries = r.json.entries
    if (entries.length >= 12) break
    await new Promise((res) => setTimeout(res, 100))
  }
  expect(entries).toHaveLength(12)
  expect(entries.every((e) => e.user_id === "p3")).toBe(true)
  expect(entries.map((e) => e.seq)).toEqual([...entries.map((e) => e.seq)].sort((a, b) => b - a))
  expect(entries[0]!.total_xp_after).toBe(profile.total_xp)
  expect(entries.reduce((t, e) => t + e.total_awarded, 0)).toBe(profile.total_xp)
  const page = await api<{ entries: Array<Row> }>(arena.baseUrl, "GET", "/v1/users/p3/ledger?limit=5", { token: owner })
  expect(page.json.entries).toEqual(entries.slice(0, 5))
  const created = await api<{ id: string }>(arena.baseUrl, "POST", "/v1/shares", { token: owner, body: { title: "mine", content: "private words", privacy_level: "private" } })
  expect(created.status).toBe(201)
  expect((await api(arena.baseUrl, "GET", `/v1/shares/${created.json.id}`)).status).toBe(404)
  expect((await api(arena.baseUrl, "GET", `/v1/shares/${created.json.id}`, { token: owner })).status).toBe(200)
  expect((await api(arena.baseUrl, "GET", "/v1/users/p3")).status).toBe(200)
})

it("resumes a real board after missed deltas: only the missed deltas, chained, ending equal to REST (guarantee 6)", async () => {
  const first = await openWs<LeaderboardMessage>(wsUrl(arena.baseUrl, "/ws/leaderboard/global?limit=6"))
  await arena.waitForSeq(await post([event("p1", "mission_security"), event("p7", "realtime_feature")]))
  const seen = (await api<{ seq: number; entries: Array<RankedEntry> }>(arena.baseUrl, "GET", "/v1/leaderboards/global?limit=6")).json
  await first.until((m) => m.length > 0 && m[m.length - 1]!.seq >= seen.seq, 10_000, "first reader at the REST seq")
  const saved = fold(first.messages, 6)
  expect(saved.entries).toEqual(seen.entries)
  first.close()
  await first.until(() => first.closed !== null, 5000, "close")
  // Three rounds the client misses, each moving the top-6.
  let last = 0
  for (const [u, a] of [["p2", "mission_analytics"], ["p8", "mission_performance"], ["p4", "mission_analytics"]] as const) last = await post([event(u, a)])
  await arena.waitForSeq(last)
  const now = (await api<{ seq: number; entries: Array<RankedEntry> }>(arena.baseUrl, "GET", "/v1/leaderboards/global?limit=6")).json
  const again: WsReader<LeaderboardMessage> = await openWs<LeaderboardMessage>(wsUrl(arena.baseUrl, `/ws/leaderboard/global?limit=6&since=${saved.seq}&epoch=${saved.epoch}`))
  await again.until((m) => m.length > 0 && m[m.length - 1]!.seq >= now.seq, 10_000, "resume up to the REST seq")
  expect(again.messages[0]).toMatchObject({ type: "delta", prev_seq: saved.seq })
  expect(again.messages.every((m) => m.type === "delta")).toBe(true)
  expect(fold(again.messages, 6, saved).entries).toEqual(now.entries)
  again.close()
})

it("pushes xp_awarded, level_up, achievement_unlocked and rank_changed from the real engine to /ws/users", async () => {
  type Profile = { total_xp: number; level: { number: number; title: string }; ranks: Array<{ board: string; window: string; period: string; rank: number }> }
  const me = await openWs<UserNotification>(wsUrl(arena.baseUrl, `/ws/users/nova?token=${await token("nova")}`))
  // The first award proves the feed is registered; everything after it is pushed.
  await arena.waitForSeq(await post([event("nova", "task_completed")]))
  await me.until((m) => m.some((n) => n.type === "xp_awarded"), 10_000, "the first xp_awarded")
  const before = (await api<Profile>(arena.baseUrl, "GET", "/v1/users/nova")).json
  expect(before).toMatchObject({ total_xp: 10, level: { number: 1 } })
  const mark = me.messages.length
  // Ten complex API designs: 250 XP, api_master's 100 bonus on the tenth: 360 in all, level 3 (≥ 300),
  // and first place on the global board (nobody else is near 360).
  const last = await post(Array.from({ length: 10 }, () => event("nova", "complex_api_design")))
  await arena.waitForSeq(last)
  const after = (await api<Profile>(arena.baseUrl, "GET", "/v1/users/nova")).json
  expect(after).toMatchObject({ total_xp: 360, level: { number: 3, title: "Adept" } })
  const global = after.ranks.find((r) => r.board === "global" && r.window === "all")!
  expect(global.rank).toBe(1)
  const pushed = await me.until((m) => {
    const got = m.slice(mark)
    const rank = got.filter((n) => n.type === "rank_changed" && n.board === "global" && n.window === "all")
    return got.filter((n) => n.type === "xp_awarded").length === 10 && rank.length > 0 && rank[rank.length - 1]!.type === "rank_changed" &&
      (rank[rank.length - 1] as { rank: number }).rank === 1 ? got : undefined
  }, 10_000, "ten awards and the rank change to first place")
  expect(pushed.every((n) => n.user_id === "nova")).toBe(true)
  // The level-ups the awards crossed, in order, each naming the level it left.
  expect(pushed.filter((n) => n.type === "level_up").map((n) => n.type === "level_up" && [n.previous, n.level, n.title])).toEqual([[1, 2, "Apprentice"], [2, 3, "Adept"]])
  const unlocked = pushed.filter((n) => n.type === "achievement_unlocked")
  expect(unlocked).toEqual([{ type: "achievement_unlocked", user_id: "nova", seq: last, achievement: "api_master", bonus: 100 }])
  const tenth = pushed.find((n) => n.type === "xp_awarded" && n.seq === last)
  expect(tenth?.type === "xp_awarded" && tenth.entry).toMatchObject({ xp: 25, total_awarded: 125, total_xp_after: 360, level_before: 2, level_after: 3 })
  // rank_changed reports moves only: consecutive reports for one board never repeat a rank.
  const ranks = pushed.filter((n) => n.type === "rank_changed" && n.board === "global" && n.window === "all").map((n) => n.type === "rank_changed" && [n.prev_rank, n.rank])
  for (const [prev, rank] of ranks as Array<[number | null, number]>) expect(prev).not.toBe(rank)
  me.close()
})
