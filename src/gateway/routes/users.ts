// GET /v1/users/{user_id} (public profile) and /v1/users/{user_id}/ledger (owner or admin only).
import { requireOwner } from "../auth/Auth.js"
import { notFound, stateUnavailable } from "../http/ApiError.js"
import { decodeSeqCursor, encodeSeqCursor } from "../http/Cursor.js"
import { json } from "../http/Http.js"
import { Params, decodeSegment } from "../http/Params.js"
import type { Route } from "../http/Router.js"
import type { UserPort } from "../../ports/ReadModel.js"


/** 503 while the pipeline loads or restarts: a profile would 404 and a ledger lack what `seq` promises. */
const requireState = (users: UserPort): void => {
  const why = users.unavailable()
  if (why !== null) throw stateUnavailable(why)
}

export const userRoutes = (users: UserPort): ReadonlyArray<Route> => [
  {
    method: "get",
    pattern: "/v1/users/:user_id",
    handler: (req) => {
      const p = new Params(req.query, [])
      const userId = p.userId(decodeSegment(req.params[0]!, "path.user_id"))
      p.check()
      requireState(users)
      const profile = users.profile(userId)
      if (profile === null) throw notFound(`no user ${userId}`)
      return json(profile)
    }
  },
  {
    method: "get",
    pattern: "/v1/users/:user_id/ledger",
    handler: async (req) => {
      // Ownership first: a stranger learns nothing, not even whether their parameters were valid.
      requireOwner(req.principal, decodeSegment(req.params[0]!, "path.user_id"))
      const p = new Params(req.query, ["limit", "cursor"])
      const userId = p.userId(decodeSegment(req.params[0]!, "path.user_id"))
      const limit = p.int("limit", 1, 1000, 100)
      const cursor = p.str("cursor")
      const beforeSeq = cursor === undefined ? null : decodeSeqCursor(cursor)
      if (cursor !== undefined && beforeSeq === null) p.issue("query.cursor", "is not a cursor returned by this API")
      p.check()
      requireState(users)
      const page = await users.ledger(userId, limit, beforeSeq)
      return json({ user_id: userId, entries: page.entries, next_cursor: page.nextBeforeSeq === null ? null : encodeSeqCursor(page.nextBeforeSeq) })
    }
  }
]
