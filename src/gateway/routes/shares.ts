// /v1/shares: create and list; /v1/shares/{id}: read, edit (PATCH) and delete. Any valid token acts
// for its own `sub` (owner = sub); private shares are visible only to their owner or an admin, only
// they may edit or delete, and anyone else gets 404 (never 403) so existence does not leak. While
// the store is unreachable every route answers 503 with Retry-After.
import { missingTokenIfAnonymous } from "../auth/Auth.js"
import type { Principal } from "../auth/Auth.js"
import { ApiError, invalid, notFound } from "../http/ApiError.js"
import { decodeSeqCursor, encodeSeqCursor } from "../http/Cursor.js"
import { json } from "../http/Http.js"
import type { Reply } from "../http/Http.js"
import { Params, decodeSegment } from "../http/Params.js"
import type { Req, Route } from "../http/Router.js"
import { decodeShareInput, decodeSharePatch } from "../Schemas.js"
import type { Share, ShareStore } from "../../ports/Shares.js"
import { ShareStoreUnavailable } from "../../ports/Shares.js"

/**
 * Public and unlisted shares are readable by anyone holding the id; private ones only by the
 * owner or an admin. Callers answer 404 (not 403) otherwise, so existence does not leak.
 */
export const canRead = (share: Share, viewer: Principal | null): boolean =>
  share.privacy_level !== "private" || (viewer !== null && (viewer.admin || viewer.sub === share.owner))

/**
 * Editing and deleting: the owner (any valid token acts for its own `sub`, §6) or an admin. Callers
 * answer 404 to anyone else, as for reads.
 */
export const canManage = (share: Share, viewer: Principal | null): boolean =>
  viewer !== null && (viewer.admin || viewer.sub === share.owner)

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

/** Seconds a client should wait before retrying while the share store is unreachable. */
export const SHARES_RETRY_AFTER_S = 2

/** The handler, with the store's "unreachable" turned into 503 + Retry-After (anything else stays a 500). */
const guarded = (h: (req: Req) => Promise<Reply>) => async (req: Req): Promise<Reply> => {
  try {
    return await h(req)
  } catch (e) {
    if (e instanceof ShareStoreUnavailable) {
      throw new ApiError(503, "unavailable", "shares are unavailable right now (their database cannot be reached); retry later", [], {
        "Retry-After": String(SHARES_RETRY_AFTER_S)
      })
    }
    throw e
  }
}

/** The share id of `/v1/shares/:id` (400 naming `path.id` when malformed); no query parameters. */
const shareIdOf = (req: Req): string => {
  const p = new Params(req.query, [])
  const id = decodeSegment(req.params[0]!, "path.id")
  if (!SHARE_ID.test(id)) p.issue("path.id", "must be a share id (22 characters of [A-Za-z0-9_-])")
  p.check()
  return id
}

/** The share the caller may manage (owner or admin), else 404 as for a share that does not exist. */
const managed = async (store: ShareStore, req: Req, id: string): Promise<Share> => {
  const share = await store.get(id)
  if (share === null || !canManage(share, req.principal)) throw notFound(`no share ${id}`)
  return share
}

export const shareRoutes = (store: ShareStore): ReadonlyArray<Route> => [
  {
    method: "post",
    pattern: "/v1/shares",
    body: true,
    authorize: (p) => void missingTokenIfAnonymous(p),
    handler: guarded(async (req) => {
      const owner = missingTokenIfAnonymous(req.principal).sub
      const decoded = decodeShareInput(req.body)
      if (!decoded.ok) throw invalid(decoded.issues)
      const share = await store.create(owner, decoded.value)
      return json(shareJson(share), 201, { Location: `/v1/shares/${share.id}` })
    })
  },
  {
    method: "get",
    pattern: "/v1/shares",
    handler: guarded(async (req) => {
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
    })
  },
  {
    method: "get",
    pattern: "/v1/shares/:id",
    handler: guarded(async (req) => {
      const id = shareIdOf(req)
      const share = await store.get(id)
      if (share === null || !canRead(share, req.principal)) throw notFound(`no share ${id}`)
      return json(shareJson(share))
    })
  },
  {
    method: "patch",
    pattern: "/v1/shares/:id",
    body: true,
    authorize: (p) => void missingTokenIfAnonymous(p),
    handler: guarded(async (req) => {
      const id = shareIdOf(req)
      const decoded = decodeSharePatch(req.body)
      if (!decoded.ok) throw invalid(decoded.issues)
      await managed(store, req, id)
      // The owner never changes, so the check above still holds; a concurrent delete gives 404.
      const share = await store.update(id, decoded.value)
      if (share === null) throw notFound(`no share ${id}`)
      return json(shareJson(share))
    })
  },
  {
    method: "delete",
    pattern: "/v1/shares/:id",
    authorize: (p) => void missingTokenIfAnonymous(p),
    handler: guarded(async (req) => {
      const id = shareIdOf(req)
      await managed(store, req, id)
      if (!(await store.delete(id))) throw notFound(`no share ${id}`)
      return { status: 204, body: "", contentType: "text/plain" }
    })
  }
]
