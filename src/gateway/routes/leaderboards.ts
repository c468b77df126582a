// GET /v1/leaderboards, /v1/leaderboards/{board} (keyset pages), /v1/leaderboards/{board}/users/{id}.
import type { Window } from "../../domain/model.js"
import { notFound } from "../http/ApiError.js"
import { decodeBoardCursor, encodeBoardCursor } from "../http/cursor.js"
import { json } from "../http/Http.js"
import { Params, decodeSegment } from "../http/params.js"
import type { Route } from "../http/Router.js"
import type { BoardCursor, LeaderboardPort, RankedEntry } from "../ports.js"

const entryJson = (e: RankedEntry): RankedEntry => ({ rank: e.rank, user_id: e.user_id, username: e.username, xp: e.xp, level: e.level })

export const leaderboardRoutes = (lb: LeaderboardPort): ReadonlyArray<Route> => [
  {
    method: "get",
    pattern: "/v1/leaderboards",
    handler: (req) => {
      new Params(req.query, []).check()
      const byBoard = new Map<string, Array<{ window: Window; period: string; size: number; closed: boolean }>>()
      for (const b of lb.list()) {
        const list = byBoard.get(b.board) ?? []
        list.push({ window: b.window, period: b.period, size: b.size, closed: b.closed })
        byBoard.set(b.board, list)
      }
      return json({ boards: [...byBoard].map(([board, windows]) => ({ board, windows })) })
    }
  },
  {
    method: "get",
    pattern: "/v1/leaderboards/:board",
    handler: async (req) => {
      const p = new Params(req.query, ["window", "period", "limit", "cursor"])
      const board = p.board(decodeSegment(req.params[0]!, "path.board"))
      const window = p.window()
      const period = p.period(window) ?? lb.currentPeriod(window)
      const limit = p.int("limit", 1, 1000, 100)
      const rawCursor = p.str("cursor")
      let after: BoardCursor | null = null
      if (rawCursor !== undefined) {
        after = decodeBoardCursor(rawCursor)
        if (after === null) p.issue("query.cursor", "is not a cursor returned by this API")
      }
      p.check()
      const page = await lb.page({ board, window, period }, after, limit)
      if (page === null) throw notFound(`no leaderboard ${board} for window=${window} period=${period}`)
      const last = page.entries[page.entries.length - 1]
      const more = last !== undefined && page.entries.length === limit && last.rank < page.total
      return json({
        board, window, period, seq: page.seq, total: page.total,
        entries: page.entries.map(entryJson),
        next_cursor: more ? encodeBoardCursor({ xp: last.xp, seq: last.reached_seq }) : null
      })
    }
  },
  {
    method: "get",
    pattern: "/v1/leaderboards/:board/users/:user_id",
    handler: async (req) => {
      const p = new Params(req.query, ["window", "period", "radius"])
      const board = p.board(decodeSegment(req.params[0]!, "path.board"))
      const userId = p.userId(decodeSegment(req.params[1]!, "path.user_id"))
      const window = p.window()
      const period = p.period(window) ?? lb.currentPeriod(window)
      const radius = p.int("radius", 0, 50, 5)
      p.check()
      const r = await lb.around({ board, window, period }, userId, radius)
      if (r === null) throw notFound(`no leaderboard ${board} for window=${window} period=${period}`)
      if (r.user === null) throw notFound(`user ${userId} has no rank on ${board} (window=${window}, period=${period})`)
      return json({ board, window, period, seq: r.seq, total: r.total, user: entryJson(r.user), entries: r.entries.map(entryJson) })
    }
  }
]
