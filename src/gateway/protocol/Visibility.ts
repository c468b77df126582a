// How board rows of private users leave the gateway (ARCHITECTURE §11): to anyone but the user
// and admin such a row keeps its rank, xp and level but shows as {user_id: null, username: null,
// anonymous: true}. Shared WebSocket frames are serialized once per topic, so they are always the
// public rendering (a private user watching a board sees their own row anonymous there too; their
// own rank is theirs through REST and /ws/users). REST answers are per request: the viewer's own
// row, or every row for admin, is shown named.
import type { RankedEntry } from "../../ports/ReadModel.js"

/** Who is asking: the token's sub and whether it is admin (null sub: no token). */
export interface Viewer {
  readonly sub: string | null
  readonly admin: boolean
}

export const PUBLIC_VIEWER: Viewer = { sub: null, admin: false }

export interface PublicRow {
  readonly rank: number
  readonly user_id: string | null
  readonly username: string | null
  readonly xp: number
  readonly level: number
  readonly anonymous?: true
}

/** May this viewer see this private user as a person? */
export const seesUser = (v: Viewer, userId: string): boolean => v.admin || v.sub === userId

/** A row as `v` may see it (never the private user's id or name to another viewer). */
export const rowFor = (e: RankedEntry, v: Viewer): PublicRow =>
  e.private === true && !seesUser(v, e.user_id)
    ? { rank: e.rank, user_id: null, username: null, xp: e.xp, level: e.level, anonymous: true }
    : { rank: e.rank, user_id: e.user_id, username: e.username, xp: e.xp, level: e.level }

/** The row as anyone may see it (shared frames, cached public bodies). */
export const publicRow = (e: RankedEntry): PublicRow => rowFor(e, PUBLIC_VIEWER)

/** True when `v` sees some of these rows differently from the public (their own private row, or admin and any private row). */
export const differsForViewer = (entries: ReadonlyArray<RankedEntry>, v: Viewer): boolean => {
  if (v.sub === null && !v.admin) return false
  for (const e of entries) if (e.private === true && seesUser(v, e.user_id)) return true
  return false
}
