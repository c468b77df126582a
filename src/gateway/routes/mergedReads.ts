// The partitioned gateway's own routes (ARCHITECTURE §9), answered by scatter-gather over the
// partitions' owners (MergedReadsPort): GET /v1/leaderboards/{board} (keyset pages, the single
// process's body), /v1/leaderboards/{board}/users/{user_id} (rank and around-me), /v1/users/{user_id}
// (the profile from the user's partition), /v1/partitions, and the probes /healthz, /readyz (never
// rate limited, as health.ts's) and /metrics (this process's registry). Group boards `group:<id>`
// merge the members' scores (groupPage/groupAround) over the group as stored. Reads of boards are
// public-viewer reads (private rows anonymous); a private profile only to its user and admin.
import { periodResetsAt } from "../../domain/Periods.js"
import { groupIdOf } from "../../domain/BoardKeys.js"
import { PROMETHEUS_CONTENT_TYPE, registry } from "../../observability/Metrics.js"
import type { GroupsPort } from "../../ports/Groups.js"
import { GroupStoreUnavailable } from "../../ports/Groups.js"
import type { MergedReadsPort } from "../../ports/MergedReads.js"
import type { ApiError } from "../http/ApiError.js"
import { notFound } from "../http/ApiError.js"
import { encodeBoardCursor } from "../http/Cursor.js"
import { json } from "../http/Http.js"
import { Params, decodeSegment } from "../http/Params.js"
import type { Route } from "../http/Router.js"
import { publicRow } from "../protocol/Visibility.js"
import { groupsUnavailable } from "./groups.js"
import { aroundQuery, pageQuery } from "./leaderboards.js"

export interface MergedReadDeps {
  readonly reads: MergedReadsPort
  /** The group store (group boards); absent: a group board is `notServed`. */
  readonly groups?: GroupsPort | undefined
  /** The 501 of what this gateway does not serve, naming docs/scaling.md. */
  readonly notServed: (path: string) => ApiError
}

export const mergedReadRoutes = (d: MergedReadDeps): ReadonlyArray<Route> => {
  const { reads } = d
  /**
   * The members of group board `board` (null: not a group board), read from the store on each
   * request as the single process reads its registry; a group that does not exist has none (`missing`).
   */
  const groupOf = async (board: string, path: string): Promise<{ readonly members: ReadonlyArray<string>; readonly missing: boolean } | null> => {
    const id = groupIdOf(board)
    if (id === null) return null
    if (d.groups === undefined) throw d.notServed(path)
    const g = await Promise.resolve(d.groups.get(id)).catch((e: unknown) => { throw e instanceof GroupStoreUnavailable ? groupsUnavailable() : e })
    return g === null ? { members: [], missing: true } : { members: g.members, missing: false }
  }
  return [
    {
      method: "get",
      pattern: "/v1/leaderboards/:board",
      handler: async (req) => {
        const { board, window: w, period, limit, after } = pageQuery(req)
        const group = await groupOf(board, req.path)
        const page = group === null ? await reads.page(board, w, period, after, limit) : await reads.groupPage(board, group.members, w, period, after, limit)
        // A group that does not exist has no board (the single process's 404, for the period read).
        if (page === null || group?.missing === true) throw notFound(`no leaderboard ${board} for window=${w} period=${page?.key.period ?? period}`)
        const last = page.entries[page.entries.length - 1]
        const more = last !== undefined && page.entries.length === limit && last.rank < page.total
        return json({
          board, window: w, period: page.key.period, resets_at: periodResetsAt(w, page.key.period), seq: page.seq, total: page.total,
          entries: page.entries.map(publicRow), next_cursor: more ? encodeBoardCursor({ xp: last.xp, seq: last.reached_seq }) : null
        })
      }
    },
    {
      method: "get",
      pattern: "/v1/leaderboards/:board/users/:user_id",
      handler: async (req) => {
        const { board, userId, window: w, period, radius } = aroundQuery(req)
        const group = await groupOf(board, req.path)
        const r = group === null ? await reads.around(board, w, period, userId, radius) : await reads.groupAround(board, group.members, w, period, userId, radius)
        if (r === null || group?.missing === true) throw notFound(`no leaderboard ${board} for window=${w} period=${r?.key.period ?? period}`)
        if (r.user === null || r.user.private === true) throw notFound(`user ${userId} has no rank on ${board} (window=${w}, period=${r.key.period})`)
        return json({ board, window: w, period: r.key.period, resets_at: periodResetsAt(w, r.key.period), seq: r.seq, total: r.total, user: publicRow(r.user), entries: r.entries.map(publicRow) })
      }
    },
    {
      method: "get",
      pattern: "/v1/users/:user_id",
      handler: async (req) => {
        const p = new Params(req.query, [])
        const userId = p.userId(decodeSegment(req.params[0]!, "path.user_id"))
        p.check()
        const profile = await reads.profile(userId)
        // A private user's profile is theirs and admin's: to anyone else it does not exist (§11), as in the single process.
        const v = req.principal
        if (profile === null || ((profile as { visibility?: unknown }).visibility === "private" && !(v !== null && (v.admin || v.sub === userId)))) throw notFound(`no user ${userId}`)
        return json(profile)
      }
    },
    { method: "get", pattern: "/v1/partitions", handler: async () => json({ partitions: await reads.states() }) }
  ]
}

/** /healthz, /readyz (every partition replayed: seq is the low watermark) and /metrics: probes, never rate limited. */
export const mergedHealthRoutes = (reads: MergedReadsPort): ReadonlyArray<Route> => [
  { method: "get", pattern: "/healthz", rateLimited: false, handler: () => json({ ok: true }) },
  {
    method: "get",
    pattern: "/readyz",
    rateLimited: false,
    handler: async () => {
      const states = await reads.states()
      const waiting = states.filter((s) => s.phase !== "ready").map((s) => s.partition)
      return waiting.length === 0
        ? json({ ready: true, partitions: reads.partitions, seq: Math.max(0, Math.min(...states.map((s) => s.applied))) }) // the low watermark: every event ≤ seq is visible
        : json({ ready: false, reasons: [`partitions ${waiting.join(", ")} are replaying`] }, 503, { "Retry-After": "1" })
    }
  },
  { method: "get", pattern: "/metrics", rateLimited: false, handler: () => ({ status: 200, body: registry.render(), contentType: PROMETHEUS_CONTENT_TYPE }) }
]
