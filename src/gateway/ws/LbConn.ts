// Per-socket state of a /ws/leaderboard subscriber (uWS user data). Created at upgrade, owned by
// the LeaderboardHub from open to close.
import type { Window } from "../../domain/model.js"
import type { WebSocket } from "../uws.js"
import type { Topic } from "./Topic.js"

export interface LbConn {
  readonly ip: string
  readonly board: string
  readonly window: Window
  readonly limit: number
  /** No explicit period: follows the window's current period across rollovers. */
  readonly follow: boolean
  period: string
  readonly resume: { readonly since: number; readonly epoch: string } | null
  ws: WebSocket<{ conn: LbConn }> | null
  topic: Topic | null
  /** Skipped by publishes (its buffer was over the bound); resynced with a snapshot on drain. */
  stale: boolean
  closed: boolean
}
