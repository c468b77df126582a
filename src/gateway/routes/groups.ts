// /v1/groups/{group_id}: PUT creates a group (owner = the token's sub) or replaces its name and
// members (owner or admin), DELETE removes it (owner or admin), GET reads it (members only for the
// owner and admin; anyone else sees name, owner and size). Others managing a group get 403. Its
// board is `group:<group_id>` on the leaderboard routes. While the store is unreachable: 503.
import { groupBoard, GROUP_ID } from "../../domain/BoardKeys.js"
import type { Group, GroupsPort } from "../../ports/Groups.js"
import { GroupStoreUnavailable } from "../../ports/Groups.js"
import { missingTokenIfAnonymous } from "../auth/Auth.js"
import type { Principal } from "../auth/Auth.js"
import { ApiError, forbidden, invalid, notFound } from "../http/ApiError.js"
import { json } from "../http/Http.js"
import type { Reply } from "../http/Http.js"
import { Params, decodeSegment } from "../http/Params.js"
import type { Req, Route } from "../http/Router.js"
import { decodeGroupInput } from "../Schemas.js"

const GROUPS_RETRY_AFTER_S = 2

const guarded = (h: (req: Req) => Promise<Reply>) => async (req: Req): Promise<Reply> => {
  try {
    return await h(req)
  } catch (e) {
    if (e instanceof GroupStoreUnavailable) throw groupsUnavailable()
    throw e
  }
}

/** 503 while the groups' database cannot be reached (a write, or a read where groups are not in memory). */
export const groupsUnavailable = (): ApiError =>
  new ApiError(503, "unavailable", "groups cannot be read or changed right now (their database cannot be reached); retry later", [], {
    "Retry-After": String(GROUPS_RETRY_AFTER_S)
  })

/** The group id of `/v1/groups/:group_id` (400 naming `path.group_id`); no query parameters. */
const groupIdOf = (req: Req): string => {
  const p = new Params(req.query, [])
  const id = decodeSegment(req.params[0]!, "path.group_id")
  if (!GROUP_ID.test(id)) p.issue("path.group_id", "must be 1..64 characters of [A-Za-z0-9._-]")
  p.check()
  return id
}

export const groupJson = (g: Group, viewer: Principal | null) => {
  const full = viewer !== null && (viewer.admin || viewer.sub === g.owner)
  return {
    id: g.id, name: g.name, owner: g.owner, updated_at: g.updated_at, size: g.members.length,
    ...(full ? { members: g.members } : {}),
    board: groupBoard(g.id)
  }
}

export const groupRoutes = (groups: GroupsPort): ReadonlyArray<Route> => [
  {
    method: "get",
    pattern: "/v1/groups/:group_id",
    handler: guarded(async (req) => {
      const id = groupIdOf(req)
      const g = await groups.get(id)
      if (g === null) throw notFound(`no group ${id}`)
      return json(groupJson(g, req.principal))
    })
  },
  {
    method: "put",
    pattern: "/v1/groups/:group_id",
    body: true,
    authorize: (p) => void missingTokenIfAnonymous(p),
    handler: guarded(async (req) => {
      const id = groupIdOf(req)
      const who = missingTokenIfAnonymous(req.principal)
      const decoded = decodeGroupInput(req.body)
      if (!decoded.ok) throw invalid(decoded.issues)
      const out = await groups.put(id, who.sub, who.admin, decoded.value)
      if (!out.ok) throw forbidden(`group ${id} belongs to another user`)
      return json(groupJson(out.group, who), out.created ? 201 : 200, out.created ? { Location: `/v1/groups/${id}` } : {})
    })
  },
  {
    method: "delete",
    pattern: "/v1/groups/:group_id",
    authorize: (p) => void missingTokenIfAnonymous(p),
    handler: guarded(async (req) => {
      const id = groupIdOf(req)
      const who = missingTokenIfAnonymous(req.principal)
      const out = await groups.delete(id, who.sub, who.admin)
      if (out === "missing") throw notFound(`no group ${id}`)
      if (out === "forbidden") throw forbidden(`group ${id} belongs to another user`)
      return { status: 204, body: "", contentType: "text/plain" }
    })
  }
]
