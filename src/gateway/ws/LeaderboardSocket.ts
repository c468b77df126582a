// The uWS behaviours of /ws/leaderboard/{board} and /ws/users/{user_id} on whichever thread holds
// the sockets: capture the upgrade request, ask the gate (admission, on the main thread: directly,
// or by message from a worker), upgrade or refuse, then hand open/drain/close to the SocketHost.
import type { ResState } from "../http/Http.js"
import { writeReply } from "../http/Http.js"
import type { WsConfig } from "../GatewayConfig.js"
import type { HttpRequest, HttpResponse, WebSocket, us_socket_context_t } from "../Uws.js"
import { connOf, uWS } from "../Uws.js"
import type { Admit, Refusal, UpgradeRequest } from "./Admission.js"
import type { ConnSpec } from "./HostLink.js"
import type { LbConn, UserConn } from "./LbConn.js"
import type { SocketHost } from "./SocketHost.js"
import type { AnchorSet } from "./Anchor.js"

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

const capture = (res: HttpResponse, req: HttpRequest, clientIp: (res: HttpResponse, req: HttpRequest) => string, aroundMe = false) => ({
  request: {
    ip: clientIp(res, req), origin: req.getHeader("origin"), param: req.getParameter(0), query: req.getQuery() ?? "",
    authorization: req.getHeader("authorization"), protocols: req.getHeader("sec-websocket-protocol"),
    ...(aroundMe ? { aroundUser: req.getParameter(1) ?? "" } : {})
  } satisfies UpgradeRequest,
  key: req.getHeader("sec-websocket-key"),
  extensions: req.getHeader("sec-websocket-extensions")
})

/**
 * Open WebSockets of one thread: any of them can host the cork of a later upgrade. uWS documents
 * `res.cork(() => res.upgrade(…))` after an await, but upgrade moves the socket in memory and cork
 * then uncorks the old address; in worker threads that closes a fresh socket now and then (1006
 * right after the 101, about 1 in 30,000 upgrades; reproduced while building bench/fanout). Corking
 * another socket first makes res.cork run its callback without corking res (no warning, no stale
 * uncork). Each thread holds one permanent anchor to itself (Anchor.ts), so there is always one;
 * only if it could not open does an upgrade run uncorked (uWS prints a warning).
 */
export class Anchors implements AnchorSet {
  private readonly open = new Set<WebSocket<unknown>>()
  add(ws: WebSocket<unknown>): void { this.open.add(ws) }
  delete(ws: WebSocket<unknown>): void { this.open.delete(ws) }
  upgradeLater(res: HttpResponse, upgrade: () => void): void {
    const anchor = this.open.values().next().value
    if (anchor !== undefined) anchor.cork(() => res.cork(upgrade))
    else upgrade()
  }
}

/** Upgrade now when admission answered synchronously, else once it answers (if the client is still there). */
const decide = <T>(
  anchors: Anchors,
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
    if (a.ok) anchors.upgradeLater(res, () => upgrade(a.value))
    else res.cork(() => refuseUpgrade(res, a.refusal))
  }, () => { if (!st.aborted) res.cork(() => res.close()) })
}

const base = (cfg: WsConfig) => ({
  maxPayloadLength: 1024,
  maxBackpressure: cfg.maxBackpressure,
  idleTimeout: cfg.idleTimeoutSeconds,
  sendPingsAutomatically: true,
  compression: uWS.DISABLED
})

/** The uWS behaviours of both feeds on one thread, and its anchors (give them holdAnchor). */
export const wsBehaviors = (
  host: SocketHost,
  gate: UpgradeGate,
  cfg: WsConfig,
  clientIp: (res: HttpResponse, req: HttpRequest) => string
): {
  leaderboard: uWS.WebSocketBehavior<{ conn: LbConn }>
  /** /ws/leaderboard/:board/around/:user_id — the leaderboard socket, on the window around a user. */
  around: uWS.WebSocketBehavior<{ conn: LbConn }>
  users: uWS.WebSocketBehavior<{ conn: UserConn }>
  anchors: Anchors
} => {
  const anchors = new Anchors()
  return {
    leaderboard: leaderboardBehavior(anchors, host, gate, cfg, clientIp),
    around: leaderboardBehavior(anchors, host, gate, cfg, clientIp, true),
    users: userBehavior(anchors, host, gate, cfg, clientIp),
    anchors
  }
}

const leaderboardBehavior = (
  anchors: Anchors,
  host: SocketHost,
  gate: UpgradeGate,
  cfg: WsConfig,
  clientIp: (res: HttpResponse, req: HttpRequest) => string,
  aroundMe = false
): uWS.WebSocketBehavior<{ conn: LbConn }> => ({
  ...base(cfg),
  closeOnBackpressureLimit: 0,
  upgrade: (res: HttpResponse, req: HttpRequest, context: us_socket_context_t) => {
    const c = capture(res, req, clientIp, aroundMe)
    const protocol = c.request.protocols
    decide(anchors, res, gate.leaderboard(c.request), (spec) => {
      const conn: LbConn = { kind: "leaderboard", ip: c.request.ip, spec, id: 0, ws: null, topic: null, stale: false, resyncing: false }
      res.upgrade({ conn }, c.key, protocol, c.extensions, context)
    }, () => gate.abandon(c.request.ip, "leaderboard"))
  },
  open: (ws: WebSocket<{ conn: LbConn }>) => {
    anchors.add(ws)
    const conn = connOf(ws)
    conn.ws = ws
    host.openLeaderboard(conn)
  },
  drain: (ws) => host.drain(connOf(ws)),
  close: (ws) => {
    anchors.delete(ws)
    host.closeLeaderboard(connOf(ws))
  }
})

/**
 * /ws/users/{user_id}: the token is `?token=` or `Sec-WebSocket-Protocol: bearer, <jwt>`. A socket
 * over the send bound is closed (notifications are not replayable; the client re-reads its profile).
 */
const userBehavior = (
  anchors: Anchors,
  host: SocketHost,
  gate: UpgradeGate,
  cfg: WsConfig,
  clientIp: (res: HttpResponse, req: HttpRequest) => string
): uWS.WebSocketBehavior<{ conn: UserConn }> => ({
  ...base(cfg),
  closeOnBackpressureLimit: 1,
  upgrade: (res: HttpResponse, req: HttpRequest, context: us_socket_context_t) => {
    const c = capture(res, req, clientIp)
    decide(anchors, res, gate.users(c.request), (v) => {
      const conn: UserConn = { kind: "users", ip: c.request.ip, userId: v.userId, id: 0 }
      res.upgrade({ conn }, c.key, v.protocol, c.extensions, context)
    }, () => gate.abandon(c.request.ip, "users"))
  },
  open: (ws: WebSocket<{ conn: UserConn }>) => {
    anchors.add(ws)
    host.openUser(connOf(ws), (topic) => ws.subscribe(topic))
  },
  close: (ws) => {
    anchors.delete(ws)
    host.closeUser(connOf(ws))
  }
})
