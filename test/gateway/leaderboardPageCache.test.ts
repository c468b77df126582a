// The page cache behind GET /v1/leaderboards/{board}: an unchanged page is served again (same
// object, so its serialized body is reused), and any change a reader could see — a score, a new
// row, a username or level read from user state, seq, total — is served fresh, byte for byte
// what the uncached Boards.page and serialization give.
import { describe, expect, it } from "vitest"
import { Deferred, Effect } from "effect"
import type { Scope } from "effect"
import type { ScoreChange } from "../../src/domain/Model.js"
import type { Req } from "../../src/gateway/http/Router.js"
import type { BoardCursor, BoardPage } from "../../src/ports/ReadModel.js"
import { encodeBoardCursor } from "../../src/gateway/http/Cursor.js"
import { leaderboardRoutes } from "../../src/gateway/routes/leaderboards.js"
import type { ActorDefect } from "../../src/actors/Actor.js"
import { Boards } from "../../src/actors/Boards.js"
import { LiveBoards } from "../../src/actors/LiveBoards.js"

type Users = Map<string, { username: string; level: number }>

const withLive = <A>(f: (live: LiveBoards, boards: Boards, users: Users) => Effect.Effect<A>) =>
  Effect.runPromise(Effect.scoped(Effect.gen(function*() {
    const latch = yield* Deferred.make<never, ActorDefect>()
    const scope = yield* Effect.scope
    const users: Users = new Map()
    const boards = new Boards({
      lookup: (id) => users.get(id),
      latch, periodGraceMs: 600_000, readArchive: async () => null, now: () => Date.UTC(2026, 10, 26),
      emitView: () => {}, emitRollover: () => {}, watchedUsers: new Set(), notify: () => {}
    }, scope as Scope.Scope)
    const live = new LiveBoards(() => Date.UTC(2026, 10, 26))
    live.attach(boards)
    return yield* f(live, boards, users)
  })))

const key = { board: "global", window: "all" as const, period: "all" }
const change = (userId: string, xp: number, seq: number): ScoreChange =>
  ({ board: "global", window: "all", period: "all", userId, username: userId, xp, seq, level: 1 })
const settle = Effect.sleep(5)

/** What the route answered before the cache: JSON.stringify of the page built from scratch. */
const uncachedBody = (p: BoardPage, limit: number): string => {
  const last = p.entries[p.entries.length - 1]
  const more = last !== undefined && p.entries.length === limit && last.rank < p.total
  return JSON.stringify({
    board: key.board, window: key.window, period: key.period, seq: p.seq, total: p.total,
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
    withLive((live, boards) => Effect.gen(function*() {
      yield* boards.dispatch([change("a", 30, 1), change("b", 20, 2), change("c", 10, 3)], 3, 0)
      yield* settle
      const first = live.page(key, null, 2) as BoardPage
      expect(live.page(key, null, 2)).toBe(first)
      const body1 = yield* Effect.promise(() => get(live, "limit=2"))
      expect(body1).toBe(uncachedBody(boards.page(key, null, 2) as BoardPage, 2))
      expect(JSON.parse(body1).entries.map((e: { user_id: string }) => e.user_id)).toEqual(["a", "b"])

      yield* boards.dispatch([change("c", 40, 4)], 4, 0) // c overtakes everyone
      yield* settle
      const body2 = yield* Effect.promise(() => get(live, "limit=2"))
      expect(JSON.parse(body2).entries.map((e: { user_id: string; xp: number }) => [e.user_id, e.xp])).toEqual([["c", 40], ["a", 30]])
      expect(JSON.parse(body2).seq).toBe(4)
      expect(body2).toBe(uncachedBody(boards.page(key, null, 2) as BoardPage, 2))
    })))

  it("keeps the rows but answers the new seq and total when only rows below the page changed", () =>
    withLive((live, boards) => Effect.gen(function*() {
      yield* boards.dispatch([change("a", 30, 1), change("b", 20, 2)], 2, 0)
      yield* settle
      const before = live.page(key, null, 2) as BoardPage
      yield* boards.dispatch([change("z", 1, 3)], 3, 0) // a new last row: seq and total change, the top 2 do not
      yield* settle
      const after = live.page(key, null, 2) as BoardPage
      expect(after).not.toBe(before)
      expect(after.entries).toBe(before.entries)
      expect([after.seq, after.total]).toEqual([3, 3])
      const body = yield* Effect.promise(() => get(live, "limit=2"))
      expect(body).toBe(uncachedBody(boards.page(key, null, 2) as BoardPage, 2))
      expect(JSON.parse(body).next_cursor).not.toBeNull() // a third row exists now
    })))

  it("sees a username or level change in user state although the board did not change", () =>
    withLive((live, boards, users) => Effect.gen(function*() {
      users.set("a", { username: "Ann", level: 1 })
      yield* boards.dispatch([change("a", 30, 1), change("b", 20, 2)], 2, 0)
      yield* settle
      const body1 = yield* Effect.promise(() => get(live, ""))
      users.set("a", { username: "Ann", level: 2 }) // e.g. XP earned on another board
      const body2 = yield* Effect.promise(() => get(live, ""))
      expect(JSON.parse(body2).entries[0].level).toBe(2)
      users.set("a", { username: "Annie", level: 2 })
      const body3 = yield* Effect.promise(() => get(live, ""))
      expect(JSON.parse(body3).entries[0].username).toBe("Annie")
      expect(new Set([body1, body2, body3]).size).toBe(3)
      expect(body3).toBe(uncachedBody(boards.page(key, null, 100) as BoardPage, 100))
    })))

  it("equals the uncached page through random changes, limits and cursors", () =>
    withLive((live, boards, users) => Effect.gen(function*() {
      let seed = 7
      const rnd = (n: number) => { seed = (seed * 1103515245 + 12345) % 2 ** 31; return seed % n }
      let seq = 0
      for (let round = 0; round < 60; round++) {
        const changes = Array.from({ length: 1 + rnd(6) }, () => change(`u${rnd(40)}`, rnd(8) * 10, ++seq))
        if (rnd(3) > 0) { // some rounds change nothing on the board
          yield* boards.dispatch(changes, seq, 0)
          yield* settle
        }
        if (rnd(4) === 0) users.set(`u${rnd(40)}`, { username: `name${rnd(5)}`, level: 1 + rnd(3) })
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
          const body = yield* Effect.promise(() => get(live, `limit=${limit}`))
          expect(body).toBe(uncachedBody(boards.page(key, null, limit) as BoardPage, limit))
        }
      }
    })))
})
