// DELETE /v1/users/{user_id} (the user themselves or an admin) erases a user (ARCHITECTURE §11):
// 202 with the erasure's id and a Location; the erasure runs in the background and survives
// restarts. GET /v1/erasures/{id} shows its progress to whoever asked (or an admin); anyone else
// gets 404, as for an id that does not exist. While Postgres cannot be reached: 503 + Retry-After.
import { missingTokenIfAnonymous, requireOwner } from "../auth/Auth.js"
import { ApiError, notFound } from "../http/ApiError.js"
import { json } from "../http/Http.js"
import type { Reply } from "../http/Http.js"
import { Params, decodeSegment } from "../http/Params.js"
import type { Req, Route } from "../http/Router.js"
import { ERASURE_ID } from "../../domain/Erasure.js"
import type { ErasurePort } from "../../ports/Erasures.js"

const RETRY_AFTER_S = 2

const guarded = (h: (req: Req) => Promise<Reply>) => async (req: Req): Promise<Reply> => {
  try {
    return await h(req)
  } catch (e) {
    if (e instanceof ApiError) throw e
    throw new ApiError(503, "unavailable", `erasures are unavailable right now (${e instanceof Error ? e.message : String(e)}); retry later`, [], {
      "Retry-After": String(RETRY_AFTER_S)
    })
  }
}

export const erasureRoutes = (erasures: ErasurePort): ReadonlyArray<Route> => [
  {
    method: "delete",
    pattern: "/v1/users/:user_id",
    handler: guarded(async (req) => {
      // Ownership first (401 anonymous, 403 another user's token): a stranger learns nothing more.
      const principal = requireOwner(req.principal, decodeSegment(req.params[0]!, "path.user_id"))
      const p = new Params(req.query, [])
      const userId = p.userId(decodeSegment(req.params[0]!, "path.user_id"))
      p.check()
      const view = await erasures.request(userId, principal.sub)
      return json({ ...view, user_id: userId }, 202, { Location: `/v1/erasures/${view.erasure_id}` })
    })
  },
  {
    method: "get",
    pattern: "/v1/erasures/:id",
    authorize: (p) => void missingTokenIfAnonymous(p),
    handler: guarded(async (req) => {
      const principal = missingTokenIfAnonymous(req.principal)
      const p = new Params(req.query, [])
      const id = decodeSegment(req.params[0]!, "path.id")
      if (!ERASURE_ID.test(id)) p.issue("path.id", "must be an erasure id (22 characters of [A-Za-z0-9_-])")
      p.check()
      const view = await erasures.get(id, principal)
      if (view === null) throw notFound(`no erasure ${id}`)
      return json(view)
    })
  }
]
