// The page cache behind GET /v1/leaderboards/{board}: an unchanged page is served again (same
// object, so its serialized body is reused), and any change a reader could see — a score, a new
// row, a username or level read from user state, seq, total — is served fresh, byte for byte
// what the uncached Boards.page and serialization give.
import { describe, expect, it } from "vitest"
import type { Req } from "../../src/gateway/http/Router.js"
import type { BoardCursor, BoardPage } from "../../src/ports/ReadModel.js"
import { encodeBoardCursor } from "../../src/gateway/http/Cursor.js"
import { leaderboardRoutes } from "../../src/gateway/routes/leaderboards.js"
import { LiveBoards } from "../../src/actors/LiveBoards.js"
import { boardsHarness } from "../../src/actors/TestBoards.js"
import { PRIVATE } from "../../src/domain/state/UserTable.js"

const withLive = async (f: (live: LiveBoards, h: ReturnType<typeof boardsHarness>) => Promise<void> | void): Promise<void> => {
  const h = boardsHarness()
  const live = new LiveBoards(() => Date.UTC(2026, 10, 26))
  live.attach(h.boards)
  await f(live, h)
}

const key = { board: "global", window: "all" as const, period: "all" }

/** What the route answered before the cache: JSON.stringify of the page built from scratch. */
const uncachedBody = (p: BoardPage, limit: number): string => {
  const last = p.entries[p.entries.length - 1]
  const more = last !== undefined && p.entries.length === limit && last.rank < p.total
  return JSON.stringify({
    board: key.board, window: key.window, period: key.period, resets_at: null, seq: p.seq, total: p.total,
    entries: p.entries.map((e) => ({ rank: e.rank, user_id: e.user_id, username: e.username, xp: e.xp, level: e.level })),
    next_cursor: more ? encodeBoardCursor({ xp: last.xp, seq: last.reached_seq }) : null
  })
}

/** GET /v1/leaderboards/global?query through the route's handler. */
const get = async (live: LiveBoards, query: string): Promise<string> => {
  const handler = leaderboardRoutes(live).find((r) => r.pattern === "/v1/leaderboards/:board")!.handler
  const req: Req = { method: "get", path: "/v1/leaderboards/global", query: new URLSearchParams(query), params: ["global"], ip: "127.0.0.1", principal: null, body: undefined }
  const reply = await handler(req)
  expect(reply.status).toBe(200)
  return reply.body as string
}

describe("LiveBoards page cache", () => {
  it("serves an unchanged page again as the same object, and a board change fresh (never stale)", () =>
    withLive(async (live, h) => {
      h.dispatch([["a", 30, 1], ["b", 20, 2], ["c", 10, 3]])
      const first = live.page(key, null, 2) as BoardPage
      expect(live.page(key, null, 2)).toBe(first)
      const body1 = await get(live, "limit=2")
      expect(body1).toBe(uncachedBody(h.boards.page(key, null, 2) as BoardPage, 2))
      expect(JSON.parse(body1).entries.map((e: { user_id: string }) => e.user_id)).toEqual(["a", "b"])

      h.dispatch([["c", 40, 4]]) // c overtakes everyone
      const body2 = await get(live, "limit=2")
      expect(JSON.parse(body2).entries.map((e: { user_id: string; xp: number }) => [e.user_id, e.xp])).toEqual([["c", 40], ["a", 30]])
      expect(JSON.parse(body2).seq).toBe(4)
      expect(body2).toBe(uncachedBody(h.boards.page(key, null, 2) as BoardPage, 2))
    }))

  it("keeps the rows but answers the new seq and total when only rows below the page changed", () =>
    withLive(async (live, h) => {
      h.dispatch([["a", 30, 1], ["b", 20, 2]])
      const before = live.page(key, null, 2) as BoardPage
      h.dispatch([["z", 1, 3]]) // a new last row: seq and total change, the top 2 do not
      const after = live.page(key, null, 2) as BoardPage
      expect(after).not.toBe(before)
      expect(after.entries).toBe(before.entries)
      expect([after.seq, after.total]).toEqual([3, 3])
      const body = await get(live, "limit=2")
      expect(body).toBe(uncachedBody(h.boards.page(key, null, 2) as BoardPage, 2))
      expect(JSON.parse(body).next_cursor).not.toBeNull() // a third row exists now
    }))

  it("sees a username or level change in user state although the board did not change", () =>
    withLive(async (live, h) => {
      h.setUser("a", { username: "Ann", level: 1 })
      h.dispatch([["a", 30, 1], ["b", 20, 2]])
      const body1 = await get(live, "")
      h.setUser("a", { level: 2 }) // e.g. XP earned on another board
      const body2 = await get(live, "")
      expect(JSON.parse(body2).entries[0].level).toBe(2)
      h.setUser("a", { username: "Annie" })
      const body3 = await get(live, "")
      expect(JSON.parse(body3).entries[0].username).toBe("Annie")
      expect(new Set([body1, body2, body3]).size).toBe(3)
      expect(body3).toBe(uncachedBody(h.boards.page(key, null, 100) as BoardPage, 100))
    }))

  it("sees a visibility change in user state: the cached public body never shows a user turned private", () =>
    withLive(async (live, h) => {
      h.setUser("a", { username: "Ann" })
      h.dispatch([["a", 30, 1], ["b", 20, 2]])
      const named = await get(live, "")
      expect(named).toContain("Ann")
      const uid = h.state.users.uidOf("a")
      h.state.users.privacy[uid] = PRIVATE
      const hidden = await get(live, "")
      expect(hidden).not.toContain("Ann")
      expect(JSON.parse(hidden).entries[0]).toEqual({ rank: 1, user_id: null, username: null, xp: 30, level: 1, anonymous: true })
      h.state.users.privacy[uid] = 0
      expect(await get(live, "")).toBe(named)
    }))

  it("equals the uncached page through random changes, limits and cursors", () =>
    withLive(async (live, h) => {
      const boards = h.boards
      let seed = 7
      const rnd = (n: number) => { seed = (seed * 1103515245 + 12345) % 2 ** 31; return seed % n }
      let seq = 0
      for (let round = 0; round < 60; round++) {
        const changes = Array.from({ length: 1 + rnd(6) }, () => [`u${rnd(40)}`, rnd(8) * 10, ++seq] as const)
        if (rnd(3) > 0) h.dispatch(changes) // some rounds change nothing on the board
        if (rnd(4) === 0) h.setUser(`u${rnd(40)}`, { username: `name${rnd(5)}`, level: 1 + rnd(3) })
        for (const limit of [1, 3, 10, 100]) {
          let after: BoardCursor | null = null
          for (let pageNo = 0; pageNo < 3; pageNo++) {
            const want = boards.page(key, after, limit) as BoardPage
            const got = live.page(key, after, limit) as BoardPage
            expect(got).toEqual(want)
            const last = want.entries[want.entries.length - 1]
            if (last === undefined) break
            after = { xp: last.xp, seq: last.reached_seq }
          }
          const body = await get(live, `limit=${limit}`)
          expect(body).toBe(uncachedBody(boards.page(key, null, limit) as BoardPage, limit))
        }
      }
    }))
})
