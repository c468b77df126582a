// Period rollover through the pipeline's own path, in-process: the real Boards (src/actors/Boards.ts)
// over an engine state, moved by stream time (rollPeriods, closeExpired), feeding the real LiveFeed
// and LiveBoards under the real gateway. Followers of the current day move to the new day with a
// fresh snapshot (new epoch) and then get its deltas; a subscription to the old day keeps it, and
// the old day stays readable over REST while it closes. No NATS or Postgres: stream time is set here.
import { afterAll, beforeAll, expect, it } from "vitest"
import { Boards } from "../../src/actors/Boards.js"
import { LiveBoards } from "../../src/actors/LiveBoards.js"
import { LiveFeed } from "../../src/actors/LiveFeed.js"
import type { Position } from "../../src/actors/Processor.js"
import { newEngineState } from "../../src/domain/engine/EngineState.js"
import { startGateway } from "../../src/gateway/Gateway.js"
import type { RunningGateway } from "../../src/gateway/Gateway.js"
import { gatewayConfig } from "../../src/gateway/GatewayConfig.js"
import type { LeaderboardMessage } from "../../src/gateway/protocol/Messages.js"
import type { RankedEntry } from "../../src/ports/ReadModel.js"
import { MemoryLeaderboards, MemoryPipeline } from "../support/memoryPorts.js"
import { api, openWs, wsUrl } from "./client.js"
import { fold } from "./wsProtocol.js"

const live = new LiveBoards()
const state = newEngineState(600_000)
const pos: Position = { applied: 0, streamTimeMs: Date.parse("2026-05-31T23:59:00Z"), gaps: 0 }
const boards = new Boards(state, pos, { readArchive: async () => null, committedSeq: () => 0, now: Date.now, feed: new LiveFeed(live) })
let gateway: RunningGateway
let baseUrl = ""

/** A user's score on the global day board of `period` at `seq`, then a publish, as the engine and pipeline do. */
const score = (user: string, period: string, xp: number, seq: number): void => {
  const id = state.boards.openIdOf("global", "day", period, pos.streamTimeMs)
  const uid = state.users.intern(user)
  state.users.setUsername(uid, user.toUpperCase())
  const t = state.boards.tree(id)!
  let old = -1
  let oldSeq = 0
  t.forEach((u, x, s) => { if (u === uid) { old = x; oldSeq = s } })
  state.boards.score(id, uid, old, oldSeq, xp, seq)
  pos.applied = seq
  boards.publish(state.boards.takeChanged())
}

beforeAll(async () => {
  const stand = new MemoryPipeline(new MemoryLeaderboards())
  live.attach(boards)
  boards.rollPeriods()
  gateway = await startGateway({
    leaderboards: live, users: stand, ingest: stand, health: stand, notifications: stand, rules: stand,
    shares: null as never, config: gatewayConfig({ host: "127.0.0.1", port: 0, jwtSecret: "rollover-secret-0123456789abcdef-0123", authEnabled: true, production: false }, { rateLimit: { perIp: 100_000, perToken: 100_000 } }),
    log: { warn: () => {}, error: (m, f) => console.error(m, f) }
  })
  baseUrl = `http://127.0.0.1:${gateway.port}`
})
afterAll(async () => {
  await gateway?.close()
})

const rest = async (query: string) =>
  (await api<{ seq: number; period: string; entries: Array<RankedEntry> }>(baseUrl, "GET", `/v1/leaderboards/global?${query}`)).json

it("moves followers of the current day to the next day when stream time crosses midnight; the old day stays where it was", async () => {
  score("ann", "2026-05-31", 30, 1)
  score("bob", "2026-05-31", 20, 2)
  const follower = await openWs<LeaderboardMessage>(wsUrl(baseUrl, "/ws/leaderboard/global?window=day&limit=5"))
  const fixed = await openWs<LeaderboardMessage>(wsUrl(baseUrl, "/ws/leaderboard/global?window=day&period=2026-05-31&limit=5"))
  const s0 = await follower.nth(0)
  expect(s0).toMatchObject({ type: "snapshot", period: "2026-05-31", entries: [{ user_id: "ann", xp: 30 }, { user_id: "bob", xp: 20 }] })
  expect((await fixed.nth(0)).type).toBe("snapshot")

  // Stream time passes midnight (an event of the new day was applied): the pipeline rolls over.
  pos.streamTimeMs = Date.parse("2026-06-01T00:00:05Z")
  boards.rollPeriods()
  const s1 = await follower.nth(1)
  expect(s1).toMatchObject({ type: "snapshot", period: "2026-06-01", entries: [] })
  expect(s1.epoch).not.toBe(s0.epoch)
  expect((await rest("window=day&limit=5")).period).toBe("2026-06-01")

  score("cat", "2026-06-01", 10, 3)
  score("ann", "2026-06-01", 25, 4)
  score("bob", "2026-05-31", 45, 5) // a late event for yesterday, still open (grace)
  const today = await rest("window=day&limit=5")
  await follower.until((m) => m[m.length - 1]!.seq >= 4, 5000, "the new day's deltas")
  const f = fold(follower.messages, 5)
  expect([f.period, f.entries]).toEqual(["2026-06-01", today.entries])
  expect(today.entries.map((e) => [e.user_id, e.xp])).toEqual([["ann", 25], ["cat", 10]])
  // The fixed subscription followed only the old day: its late event, never the new day's.
  await fixed.until((m) => m[m.length - 1]!.seq >= 5, 5000, "yesterday's late event")
  const y = fold(fixed.messages, 5)
  expect([y.period, y.entries.map((e) => [e.user_id, e.xp])]).toEqual(["2026-05-31", [["bob", 45], ["ann", 30]]])
  expect(fixed.messages.every((m) => m.period === "2026-05-31")).toBe(true)

  // Past the grace the old day closes; its page still answers (from the closing archive).
  pos.streamTimeMs = Date.parse("2026-06-01T00:10:01Z")
  expect(boards.closeExpired().map((a) => a.period)).toEqual(["2026-05-31"])
  expect((await rest("window=day&period=2026-05-31&limit=5")).entries.map((e) => [e.rank, e.user_id, e.xp])).toEqual([[1, "bob", 45], [2, "ann", 30]])
  follower.close()
  fixed.close()
})
