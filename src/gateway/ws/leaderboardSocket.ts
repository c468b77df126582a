// /ws/leaderboard/{board}?window&period&limit&since&epoch: validates the upgrade (400/429 as JSON
// before any WebSocket exists), then hands the socket to the LeaderboardHub.
import type { Window } from "../../domain/model.js"
import { ApiError } from "../http/ApiError.js"
import { errorReply, writeReply } from "../http/Http.js"
import type { ResState } from "../http/Http.js"
import { Params, decodeSegment } from "../http/params.js"
import type { WsConfig } from "../GatewayConfig.js"
import type { LeaderboardPort } from "../ports.js"
import type { HttpRequest, HttpResponse, WebSocket } from "../uws.js"
import { connOf, uWS } from "../uws.js"
import type { ConnLimits } from "./ConnLimits.js"
import { refusalError } from "./ConnLimits.js"
import type { LbConn } from "./LbConn.js"
import type { LeaderboardHub } from "./LeaderboardHub.js"

const EPOCH = /^[A-Za-z0-9_.-]{1,64}$/
const SEQ = /^(0|[1-9]\d{0,15})$/

export interface UpgradeGuards {
  clientIp(res: HttpResponse, req: HttpRequest): string
  /** null when allowed. */
  rateLimit(ip: string): ApiError | null
  corsHeaders(origin: string): Array<readonly [string, string]>
}

export const refuseUpgrade = (res: HttpResponse, e: ApiError, cors: Array<readonly [string, string]>): void => {
  const st: ResState = { aborted: false, done: false }
  writeReply(res, st, errorReply(e), [["X-Content-Type-Options", "nosniff"], ...cors])
}

export const leaderboardBehavior = (
  lb: LeaderboardPort,
  hub: LeaderboardHub,
  limits: ConnLimits,
  guards: UpgradeGuards,
  cfg: WsConfig
): uWS.WebSocketBehavior<{ conn: LbConn }> => ({
  maxPayloadLength: 1024,
  maxBackpressure: cfg.maxBackpressure,
  closeOnBackpressureLimit: 0,
  idleTimeout: cfg.idleTimeoutSeconds,
  sendPingsAutomatically: true,
  compression: uWS.DISABLED,
  upgrade: (res, req, context) => {
    const ip = guards.clientIp(res, req)
    const cors = guards.corsHeaders(req.getHeader("origin"))
    const limited = guards.rateLimit(ip)
    if (limited !== null) return refuseUpgrade(res, limited, cors)
    let conn: LbConn
    try {
      const p = new Params(new URLSearchParams(req.getQuery() ?? ""), ["window", "period", "limit", "since", "epoch"])
      const board = p.board(decodeSegment(req.getParameter(0), "path.board"))
      const window: Window = p.window()
      const explicit = p.period(window)
      const limit = p.int("limit", 1, cfg.maxLimit, 100)
      const since = p.str("since"), epoch = p.str("epoch")
      if (since !== undefined && !SEQ.test(since)) p.issue("query.since", "must be a non-negative integer (a seq you received)")
      if (epoch !== undefined && !EPOCH.test(epoch)) p.issue("query.epoch", "must be an epoch you received")
      if ((since === undefined) !== (epoch === undefined)) p.issue(since === undefined ? "query.since" : "query.epoch", "since and epoch go together")
      p.check()
      conn = {
        ip, board, window, limit, follow: explicit === undefined, period: explicit ?? lb.currentPeriod(window),
        resume: since !== undefined && epoch !== undefined ? { since: Number(since), epoch } : null,
        ws: null, topic: null, stale: false, closed: false
      }
    } catch (e) {
      if (e instanceof ApiError) return refuseUpgrade(res, e, cors)
      throw e
    }
    const refused = limits.refuse(ip, "leaderboard")
    if (refused !== null) return refuseUpgrade(res, refusalError(refused), cors)
    res.upgrade({ conn }, req.getHeader("sec-websocket-key"), req.getHeader("sec-websocket-protocol"),
      req.getHeader("sec-websocket-extensions"), context)
  },
  open: (ws: WebSocket<{ conn: LbConn }>) => {
    const conn = connOf(ws)
    conn.ws = ws
    limits.opened(conn.ip, "leaderboard")
    hub.open(conn)
  },
  drain: (ws) => hub.drain(connOf(ws)),
  close: (ws) => {
    const conn = connOf(ws)
    limits.closed(conn.ip, "leaderboard")
    hub.close(conn)
  }
})
