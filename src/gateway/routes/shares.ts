// POST/GET /v1/shares and GET /v1/shares/{id}. Owner = the token's sub; private shares are visible
// only to their owner or an admin, and anyone else gets 404 (never 403) so existence does not leak.
import { SCOPE_EVENTS_WRITE, missingTokenIfAnonymous, requireScope } from "../auth/Auth.js"
import { invalid, notFound } from "../http/ApiError.js"
import { decodeSeqCursor, encodeSeqCursor } from "../http/Cursor.js"
import { json } from "../http/Http.js"
import { Params, decodeSegment } from "../http/Params.js"
import type { Route } from "../http/Router.js"
import { decodeShareInput } from "../Schemas.js"
import type { Share, ShareStore } from "../../ports/Shares.js"
import type { Principal } from "../auth/Auth.js"

/**
 * Public and unlisted shares are readable by anyone holding the id; private ones only by the
 * owner or an admin. Callers answer 404 (not 403) otherwise, so existence does not leak.
 */
export const canRead = (share: Share, viewer: Principal | null): boolean =>
  share.privacy_level !== "private" || (viewer !== null && (viewer.admin || viewer.sub === share.owner))

export const SHARE_ID = /^[A-Za-z0-9_-]{22}$/

export const shareJson = (s: Share): Omit<Share, "seq"> => ({
  id: s.id,
  owner: s.owner,
  title: s.title,
  content: s.content,
  privacy_level: s.privacy_level,
  agents_used: s.agents_used,
  xp_earned: s.xp_earned,
  tags: s.tags,
  created_at: s.created_at
})

export const shareRoutes = (store: ShareStore): ReadonlyArray<Route> => [
  {
    method: "post",
    pattern: "/v1/shares",
    body: true,
    authorize: (p) => requireScope(p, SCOPE_EVENTS_WRITE),
    handler: async (req) => {
      const owner = requireScope(req.principal, SCOPE_EVENTS_WRITE).sub
      const decoded = decodeShareInput(req.body)
      if (!decoded.ok) throw invalid(decoded.issues)
      const share = await store.create(owner, decoded.value)
      return json(shareJson(share), 201, { Location: `/v1/shares/${share.id}` })
    }
  },
  {
    method: "get",
    pattern: "/v1/shares",
    handler: async (req) => {
      const p = new Params(req.query, ["mine", "limit", "cursor"])
      const mine = p.bool("mine")
      const limit = p.int("limit", 1, 100, 20)
      const rawCursor = p.str("cursor")
      const before = rawCursor === undefined ? null : decodeSeqCursor(rawCursor)
      if (rawCursor !== undefined && before === null) p.issue("query.cursor", "is not a cursor returned by this API")
      p.check()
      if (mine) missingTokenIfAnonymous(req.principal)
      const viewer = req.principal?.sub ?? null
      const rows = await store.list({ viewer, mineOnly: mine, limit: limit + 1, beforeSeq: before })
      const page = rows.slice(0, limit)
      const last = page[page.length - 1]
      return json({
        shares: page.map(shareJson),
        next_cursor: rows.length > limit && last !== undefined ? encodeSeqCursor(last.seq) : null
      })
    }
  },
  {
    method: "get",
    pattern: "/v1/shares/:id",
    handler: async (req) => {
      const p = new Params(req.query, [])
      const id = decodeSegment(req.params[0]!, "path.id")
      if (!SHARE_ID.test(id)) p.issue("path.id", "must be a share id (22 characters of [A-Za-z0-9_-])")
      p.check()
      const share = await store.get(id)
      if (share === null || !canRead(share, req.principal)) throw notFound(`no share ${id}`)
      return json(shareJson(share))
    }
  }
]
