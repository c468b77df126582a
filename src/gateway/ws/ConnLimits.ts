// WebSocket admission: total connections, connections per IP, leaderboard subscriptions per IP.
// Checked at upgrade, counted from open to close; entries vanish when an IP has no sockets left.
// The caps are settings (ARENA_WS_MAX_*); a per-IP cap of 0 means none.
import { registry } from "../../observability/Metrics.js"
import { ApiError } from "../http/ApiError.js"
import type { WsConfig } from "../GatewayConfig.js"

const connections = registry.gauge("arena_ws_connections", "Open WebSocket connections, by route")
const refused = registry.counter("arena_ws_refused_total", "WebSocket upgrades refused, by reason")

export type WsRoute = "leaderboard" | "users"

export class ConnLimits {
  private total = 0
  private readonly perIp = new Map<string, { conns: number; subs: number }>()

  constructor(private readonly cfg: WsConfig) {
    connections.set(0, { route: "leaderboard" })
    connections.set(0, { route: "users" })
  }

  /** null when a new socket from `ip` may open, else why not. */
  refuse(ip: string, route: WsRoute): string | null {
    const c = this.perIp.get(ip)
    let reason: string | null = null
    const { maxConnectionsPerIp: perIp, maxSubscriptionsPerIp: subs } = this.cfg
    if (this.total >= this.cfg.maxConnections) reason = "server_full"
    else if (perIp > 0 && c !== undefined && c.conns >= perIp) reason = "connections_per_ip"
    else if (subs > 0 && route === "leaderboard" && c !== undefined && c.subs >= subs) reason = "subscriptions_per_ip"
    if (reason !== null) refused.inc({ reason })
    return reason
  }

  opened(ip: string, route: WsRoute): void {
    const c = this.perIp.get(ip) ?? { conns: 0, subs: 0 }
    c.conns++
    if (route === "leaderboard") c.subs++
    this.perIp.set(ip, c)
    this.total++
    connections.inc({ route })
  }

  closed(ip: string, route: WsRoute): void {
    const c = this.perIp.get(ip)
    if (c === undefined) return
    c.conns--
    if (route === "leaderboard") c.subs--
    if (c.conns <= 0) this.perIp.delete(ip)
    this.total--
    connections.dec({ route })
  }

  get open(): number {
    return this.total
  }
}

/** 503 when the server is full, 429 (retry later) for per-IP limits. */
export const refusalError = (reason: string): ApiError =>
  reason === "server_full"
    ? new ApiError(503, "server_full", "too many WebSocket connections; retry later", [], { "Retry-After": "5" })
    : new ApiError(429, "too_many_connections", `WebSocket limit reached (${reason.replace(/_/g, " ")})`, [], { "Retry-After": "5" })
