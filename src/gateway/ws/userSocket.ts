// /ws/users/{user_id}: the user's notifications (xp_awarded, level_up, achievement_unlocked,
// rank_changed), one uWS topic per user. Needs a token whose sub is the user (or admin), given as
// `?token=` or `Sec-WebSocket-Protocol: bearer, <jwt>`. A socket over the send bound is closed
// (notifications are not replayable; the client reconnects and re-reads its profile).
import type { Authenticator } from "../auth/Auth.js"
import { requireOwner } from "../auth/Auth.js"
import { ApiError, missingToken } from "../http/ApiError.js"
import { Params, decodeSegment } from "../http/params.js"
import type { WsConfig } from "../GatewayConfig.js"
import type { NotificationPort, UserNotification } from "../ports.js"
import type { TemplatedApp, WebSocket } from "../uws.js"
import { connOf, uWS } from "../uws.js"
import type { ConnLimits } from "./ConnLimits.js"
import { refusalError } from "./ConnLimits.js"
import type { UpgradeGuards } from "./leaderboardSocket.js"
import { refuseUpgrade } from "./leaderboardSocket.js"
import { registry } from "../../observability/Metrics.js"

interface UserConn {
  readonly ip: string
  readonly userId: string
  release: (() => void) | null
}

const sent = registry.counter("arena_ws_messages_sent_total", "WebSocket frames sent, by type")

export const userTopic = (userId: string): string => `user|${userId}`

/** Publishes each notification to its user's topic, serialized once, only if someone listens. */
export const startUserFanout = (app: TemplatedApp, notifications: NotificationPort): (() => void) =>
  notifications.onUserNotification((n: UserNotification) => {
    const topic = userTopic(n.user_id)
    const listeners = app.numSubscribers(topic)
    if (listeners === 0) return
    app.publish(topic, JSON.stringify(n))
    sent.inc({ type: "notification" }, listeners)
  })

/** `bearer, <jwt>` → the jwt; the protocol answered back is `bearer`. */
const protocolToken = (header: string): string => {
  const parts = header.split(",").map((s) => s.trim())
  const i = parts.indexOf("bearer")
  return i >= 0 && i + 1 < parts.length ? parts[i + 1]! : ""
}

export const userBehavior = (
  auth: Authenticator,
  notifications: NotificationPort,
  limits: ConnLimits,
  guards: UpgradeGuards,
  cfg: WsConfig
): uWS.WebSocketBehavior<{ conn: UserConn }> => ({
  maxPayloadLength: 1024,
  maxBackpressure: cfg.maxBackpressure,
  closeOnBackpressureLimit: 1,
  idleTimeout: cfg.idleTimeoutSeconds,
  sendPingsAutomatically: true,
  compression: uWS.DISABLED,
  upgrade: (res, req, context) => {
    const st = { aborted: false }
    res.onAborted(() => {
      st.aborted = true
    })
    // uWS's req is gone after this callback returns: capture everything before awaiting.
    const ip = guards.clientIp(res, req)
    const cors = guards.corsHeaders(req.getHeader("origin"))
    const key = req.getHeader("sec-websocket-key")
    const protocols = req.getHeader("sec-websocket-protocol")
    const extensions = req.getHeader("sec-websocket-extensions")
    const authorization = req.getHeader("authorization")
    const rawUser = req.getParameter(0)
    const query = new URLSearchParams(req.getQuery() ?? "")
    const limited = guards.rateLimit(ip)
    if (limited !== null) return refuseUpgrade(res, limited, cors)
    const run = async (): Promise<UserConn> => {
      const p = new Params(query, ["token"])
      const userId = p.userId(decodeSegment(rawUser, "path.user_id"))
      p.check()
      const token = p.str("token") ?? protocolToken(protocols)
      const principal = await auth.authenticate(authorization, token)
      if (principal === null) throw missingToken()
      requireOwner(principal, userId)
      const refused = limits.refuse(ip, "users")
      if (refused !== null) throw refusalError(refused)
      return { ip, userId, release: null }
    }
    run().then(
      (conn) => {
        if (st.aborted) return
        const chosen = protocolToken(protocols) !== "" ? "bearer" : ""
        res.cork(() => res.upgrade({ conn }, key, chosen, extensions, context))
      },
      (e: unknown) => {
        if (st.aborted) return
        refuseUpgrade(res, e instanceof ApiError ? e : new ApiError(500, "internal", "internal error"), cors)
      }
    )
  },
  open: (ws: WebSocket<{ conn: UserConn }>) => {
    const conn = connOf(ws)
    limits.opened(conn.ip, "users")
    conn.release = notifications.watchUser(conn.userId)
    ws.subscribe(userTopic(conn.userId))
  },
  close: (ws) => {
    const conn = connOf(ws)
    limits.closed(conn.ip, "users")
    conn.release?.()
    conn.release = null
  }
})
