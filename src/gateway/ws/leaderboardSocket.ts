// The uWS behaviours of /ws/leaderboard/{board} and /ws/users/{user_id} on whichever thread holds
// the sockets: capture the upgrade request, ask the gate (admission, on the main thread: directly,
// or by message from a worker), upgrade or refuse, then hand open/drain/close to the SocketHost.
import type { ResState } from "../http/Http.js"
import { writeReply } from "../http/Http.js"
import type { WsConfig } from "../GatewayConfig.js"
import type { HttpRequest, HttpResponse, WebSocket, us_socket_context_t } from "../uws.js"
import { connOf, uWS } from "../uws.js"
import type { Admit, Refusal, UpgradeRequest } from "./Admission.js"
import type { ConnSpec } from "./HostLink.js"
import type { LbConn, UserConn } from "./LbConn.js"
import type { SocketHost } from "./SocketHost.js"

/** Admission as seen from a socket's thread: synchronous on the main thread, a round trip from a worker. */
export interface UpgradeGate {
  leaderboard(req: UpgradeRequest): Admit<ConnSpec> | Promise<Admit<ConnSpec>>
  users(req: UpgradeRequest): Promise<Admit<{ readonly userId: string; readonly protocol: string }>>
  /** An admitted upgrade that could not complete (the client went away meanwhile). */
  abandon(ip: string, route: "leaderboard" | "users"): void
}

export const refuseUpgrade = (res: HttpResponse, r: Refusal): void => {
  const st: ResState = { aborted: false, done: false }
  writeReply(res, st, r.reply, r.extra)
}

const capture = (res: HttpResponse, req: HttpRequest, clientIp: (res: HttpResponse, req: HttpRequest) => string) => ({
  request: {
    ip: clientIp(res, req), origin: req.getHeader("origin"), param: req.getParameter(0), query: req.getQuery() ?? "",
    authorization: req.getHeader("authorization"), protocols: req.getHeader("sec-websocket-protocol")
  } satisfies UpgradeRequest,
  key: req.getHeader("sec-websocket-key"),
  extensions: req.getHeader("sec-websocket-extensions")
})

/** Upgrade now when admission answered synchronously, else once it answers (if the client is still there). */
const decide = <T>(
  res: HttpResponse,
  answer: Admit<T> | Promise<Admit<T>>,
  upgrade: (value: T) => void,
  abandon: () => void
): void => {
  if (!(answer instanceof Promise)) return answer.ok ? upgrade(answer.value) : refuseUpgrade(res, answer.refusal)
  const st = { aborted: false }
  res.onAborted(() => { st.aborted = true })
  answer.then((a) => {
    if (st.aborted) { if (a.ok) abandon(); return }
    res.cork(() => (a.ok ? upgrade(a.value) : refuseUpgrade(res, a.refusal)))
  }, () => { if (!st.aborted) res.close() })
}

const base = (cfg: WsConfig) => ({
  maxPayloadLength: 1024,
  maxBackpressure: cfg.maxBackpressure,
  idleTimeout: cfg.idleTimeoutSeconds,
  sendPingsAutomatically: true,
  compression: uWS.DISABLED
})

export const leaderboardBehavior = (
  host: SocketHost,
  gate: UpgradeGate,
  cfg: WsConfig,
  clientIp: (res: HttpResponse, req: HttpRequest) => string
): uWS.WebSocketBehavior<{ conn: LbConn }> => ({
  ...base(cfg),
  closeOnBackpressureLimit: 0,
  upgrade: (res: HttpResponse, req: HttpRequest, context: us_socket_context_t) => {
    const c = capture(res, req, clientIp)
    const protocol = c.request.protocols
    decide(res, gate.leaderboard(c.request), (spec) => {
      const conn: LbConn = { kind: "leaderboard", ip: c.request.ip, spec, id: 0, ws: null, topic: null, stale: false, resyncing: false }
      res.upgrade({ conn }, c.key, protocol, c.extensions, context)
    }, () => gate.abandon(c.request.ip, "leaderboard"))
  },
  open: (ws: WebSocket<{ conn: LbConn }>) => {
    const conn = connOf(ws)
    conn.ws = ws
    host.openLeaderboard(conn)
  },
  drain: (ws) => host.drain(connOf(ws)),
  close: (ws) => host.closeLeaderboard(connOf(ws))
})

/**
 * /ws/users/{user_id}: the token is `?token=` or `Sec-WebSocket-Protocol: bearer, <jwt>`. A socket
 * over the send bound is closed (notifications are not replayable; the client re-reads its profile).
 */
export const userBehavior = (
  host: SocketHost,
  gate: UpgradeGate,
  cfg: WsConfig,
  clientIp: (res: HttpResponse, req: HttpRequest) => string
): uWS.WebSocketBehavior<{ conn: UserConn }> => ({
  ...base(cfg),
  closeOnBackpressureLimit: 1,
  upgrade: (res: HttpResponse, req: HttpRequest, context: us_socket_context_t) => {
    const c = capture(res, req, clientIp)
    decide(res, gate.users(c.request), (v) => {
      const conn: UserConn = { kind: "users", ip: c.request.ip, userId: v.userId, id: 0 }
      res.upgrade({ conn }, c.key, v.protocol, c.extensions, context)
    }, () => gate.abandon(c.request.ip, "users"))
  },
  open: (ws: WebSocket<{ conn: UserConn }>) => host.openUser(connOf(ws), (topic) => ws.subscribe(topic)),
  close: (ws) => host.closeUser(connOf(ws))
})
