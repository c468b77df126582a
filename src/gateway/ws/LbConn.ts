// Per-socket state on the thread that holds the socket (uWS user data): a /ws/leaderboard
// subscriber from open to close, and a /ws/users listener.
import type { WebSocket } from "../Uws.js"
import type { ConnSpec } from "./HostLink.js"

export interface LbConn {
  readonly kind: "leaderboard"
  readonly ip: string
  readonly spec: ConnSpec
  /** The host's number for this socket (0 until open). */
  id: number
  ws: WebSocket<{ conn: LbConn }> | null
  /** The uWS topic it is attached to (null until the hub answered the open). */
  topic: string | null
  /** Skipped by publishes (its buffer was over the bound); resynced with a snapshot on drain. */
  stale: boolean
  /** A resync was asked for and not yet answered. */
  resyncing: boolean
}

export interface UserConn {
  readonly kind: "users"
  readonly ip: string
  readonly userId: string
  id: number
}

export const userTopic = (userId: string): string => `user|${userId}`
