// GET /v1/users/{user_id} (public profile; a private user's only to them and admin),
// /v1/users/{user_id}/ledger (owner or admin only) and PUT /v1/users/{user_id}/settings (owner or
// admin: time zone and visibility, published through the stream).
import { requireOwner } from "../auth/Auth.js"
import { ApiError, invalid, notFound, stateUnavailable } from "../http/ApiError.js"
import { checkSettings } from "../../domain/Settings.js"
import type { SettingsPort } from "../../ports/Settings.js"
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

export const userRoutes = (users: UserPort, settings?: SettingsPort, onError: (e: unknown, where: string) => void = () => undefined): ReadonlyArray<Route> => [
  {
    method: "get",
    pattern: "/v1/users/:user_id",
    handler: (req) => {
      const p = new Params(req.query, [])
      const userId = p.userId(decodeSegment(req.params[0]!, "path.user_id"))
      p.check()
      requireState(users)
      const profile = users.profile(userId)
      // A private user's profile is theirs and admin's: to anyone else it does not exist (§11).
      const v = req.principal
      if (profile === null || (profile.visibility === "private" && !(v !== null && (v.admin || v.sub === userId)))) throw notFound(`no user ${userId}`)
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
  },
  ...(settings === undefined ? [] : [settingsRoute(settings, onError)])
]

export const settingsRoute = (settings: SettingsPort, onError: (e: unknown, where: string) => void): Route => ({
  method: "put",
  pattern: "/v1/users/:user_id/settings",
  body: true,
  authorize: (p) => { if (p === null) requireOwner(p, "") },
  handler: async (req) => {
    // Ownership first: a stranger learns nothing, not even whether their body was valid.
    requireOwner(req.principal, decodeSegment(req.params[0]!, "path.user_id"))
    const p = new Params(req.query, [])
    const userId = p.userId(decodeSegment(req.params[0]!, "path.user_id"))
    p.check()
    const c = checkSettings(req.body)
    if (!c.ok) throw invalid(c.issues.map((i) => ({ path: i.path === "" ? "body" : `body.${i.path}`, message: i.message })))
    let published
    try {
      published = await settings.publish(userId, c.value)
    } catch (e) {
      onError(e, "PUT /v1/users/{id}/settings publish")
      throw new ApiError(503, "unavailable", "the event stream is unavailable; retry later", [], { "Retry-After": "1" })
    }
    // Applied in stream order: visible once /readyz seq ≥ this seq.
    return json({ user_id: userId, ...c.value, settings_id: published.settings_id, seq: published.seq }, 202)
  }
})
