// GET /v1/leaderboards, /v1/leaderboards/{board} (keyset pages), /v1/leaderboards/{board}/users/{id}.
import type { BoardKey, Window } from "../../domain/Model.js"
import { periodResetsAt } from "../../domain/Periods.js"
import { notFound, stateUnavailable } from "../http/ApiError.js"
import { decodeBoardCursor, encodeBoardCursor } from "../http/Cursor.js"
import { JSON_TYPE, json } from "../http/Http.js"
import { Params, decodeSegment } from "../http/Params.js"
import type { Req, Route } from "../http/Router.js"
import type { BoardCursor, BoardPage, LeaderboardPort } from "../../ports/ReadModel.js"
import type { Principal } from "../auth/Auth.js"
import { PUBLIC_VIEWER, differsForViewer, publicRow, rowFor, seesUser } from "../protocol/Visibility.js"
import type { Viewer } from "../protocol/Visibility.js"

/** The request's viewer: private users' rows are named only to themselves and admin (Visibility.ts). */
const viewerOf = (p: Principal | null): Viewer => (p === null ? PUBLIC_VIEWER : { sub: p.sub, admin: p.admin })

/** Serialized entries arrays and whole page bodies, by the objects the port returned. */
const entriesJson = new WeakMap<BoardPage["entries"], string>()
const bodies = new WeakMap<BoardPage, { readonly key: BoardKey; readonly limit: number; readonly body: string }>()

/**
 * The body of GET /v1/leaderboards/{board}: byte for byte JSON.stringify of
 * {board, window, period, resets_at, seq, total, entries, next_cursor}. A port that returns the same page
 * object (or the same entries array) for an unchanged page (LiveBoards does) gets its serialized
 * body (or entries) back from here instead of serializing `limit` rows again.
 */
export const pageBody = (k: BoardKey, page: BoardPage, limit: number, viewer: Viewer = PUBLIC_VIEWER): string => {
  // A viewer who sees a private row named (their own, or admin) gets a body of their own, uncached.
  if (differsForViewer(page.entries, viewer)) return renderPage(k, page, limit, JSON.stringify(page.entries.map((e) => rowFor(e, viewer))))
  const done = bodies.get(page)
  if (done !== undefined && done.limit === limit && done.key.board === k.board && done.key.window === k.window && done.key.period === k.period) {
    return done.body
  }
  let entries = entriesJson.get(page.entries)
  if (entries === undefined) {
    entries = JSON.stringify(page.entries.map(publicRow))
    entriesJson.set(page.entries, entries)
  }
  const body = renderPage(k, page, limit, entries)
  bodies.set(page, { key: k, limit, body })
  return body
}

const renderPage = (k: BoardKey, page: BoardPage, limit: number, entries: string): string => {
  const last = page.entries[page.entries.length - 1]
  const more = last !== undefined && page.entries.length === limit && last.rank < page.total
  const body = `{"board":${JSON.stringify(k.board)},"window":${JSON.stringify(k.window)},"period":${JSON.stringify(k.period)},` +
    `"resets_at":${JSON.stringify(periodResetsAt(k.window, k.period))},` +
    `"seq":${JSON.stringify(page.seq)},"total":${JSON.stringify(page.total)},"entries":${entries},` +
    `"next_cursor":${JSON.stringify(more ? encodeBoardCursor({ xp: last.xp, seq: last.reached_seq }) : null)}}`
  return body
}

/**
 * The query of GET /v1/leaderboards/{board} (`period` null: not given, the current one), every bad
 * field named in one 400. Shared with the partitioned gateway's merged read (mergedReads.ts).
 */
export const pageQuery = (req: Req): { board: string; window: Window; period: string | null; limit: number; after: BoardCursor | null } => {
  const p = new Params(req.query, ["window", "period", "limit", "cursor"])
  const board = p.board(decodeSegment(req.params[0]!, "path.board"))
  const window = p.window() as Window
  const period = p.period(window) ?? null
  const limit = p.int("limit", 1, 1000, 100)
  const rawCursor = p.str("cursor")
  let after: BoardCursor | null = null
  if (rawCursor !== undefined) {
    after = decodeBoardCursor(rawCursor)
    if (after === null) p.issue("query.cursor", "is not a cursor returned by this API")
  }
  p.check()
  return { board, window, period, limit, after }
}

/** The query of GET /v1/leaderboards/{board}/users/{user_id}, as pageQuery's. */
export const aroundQuery = (req: Req): { board: string; userId: string; window: Window; period: string | null; radius: number } => {
  const p = new Params(req.query, ["window", "period", "radius"])
  const board = p.board(decodeSegment(req.params[0]!, "path.board"))
  const userId = p.userId(decodeSegment(req.params[1]!, "path.user_id"))
  const window = p.window() as Window
  const period = p.period(window) ?? null
  const radius = p.int("radius", 0, 50, 5)
  p.check()
  return { board, userId, window, period, radius }
}

/** 503 while there is no board state (loading, restarting): never an empty list or a 404 posing as the truth. */
const requireState = (lb: LeaderboardPort): void => {
  const why = lb.unavailable()
  if (why !== null) throw stateUnavailable(why)
}

export const leaderboardRoutes = (lb: LeaderboardPort): ReadonlyArray<Route> => [
  {
    method: "get",
    pattern: "/v1/leaderboards",
    handler: (req) => {
      new Params(req.query, []).check()
      requireState(lb)
      const byBoard = new Map<string, Array<{ window: Window; period: string; resets_at: string | null; size: number; closed: boolean }>>()
      for (const b of lb.list()) {
        const list = byBoard.get(b.board) ?? []
        list.push({ window: b.window, period: b.period, resets_at: periodResetsAt(b.window, b.period), size: b.size, closed: b.closed })
        byBoard.set(b.board, list)
      }
      return json({ boards: [...byBoard].map(([board, windows]) => ({ board, windows })) })
    }
  },
  {
    method: "get",
    pattern: "/v1/leaderboards/:board",
    handler: async (req) => {
      const q = pageQuery(req)
      const { board, window, limit, after } = q
      const period = q.period ?? lb.currentPeriod(window)
      requireState(lb)
      const page = await lb.page({ board, window, period }, after, limit)
      if (page === null) throw notFound(`no leaderboard ${board} for window=${window} period=${period}`)
      return { status: 200, body: pageBody({ board, window, period }, page, limit, viewerOf(req.principal)), contentType: JSON_TYPE }
    }
  },
  {
    method: "get",
    pattern: "/v1/leaderboards/:board/users/:user_id",
    handler: async (req) => {
      const q = aroundQuery(req)
      const { board, userId, window, radius } = q
      const period = q.period ?? lb.currentPeriod(window)
      requireState(lb)
      const r = await lb.around({ board, window, period }, userId, radius)
      if (r === null) throw notFound(`no leaderboard ${board} for window=${window} period=${period}`)
      const viewer = viewerOf(req.principal)
      // A private user's rank is not looked up by their id for others: the same 404 as no rank.
      if (r.user === null || (r.user.private === true && !seesUser(viewer, userId))) throw notFound(`user ${userId} has no rank on ${board} (window=${window}, period=${period})`)
      return json({ board, window, period, resets_at: periodResetsAt(window, period), seq: r.seq, total: r.total, user: rowFor(r.user, viewer), entries: r.entries.map((e) => rowFor(e, viewer)) })
    }
  }
]
