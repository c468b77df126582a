// startGateway: the uWS app with every route of ARCHITECTURE §6–§7, the live-page assets and the
// WebSocket feeds; returns the bound port and a close() that stops listening and closes sockets.
import { Authenticator } from "./auth/Auth.js"
import type { GatewayDeps } from "./deps.js"
import { consoleLogger } from "./deps.js"
import { checkGatewayConfig } from "./GatewayConfig.js"
import { Router } from "./http/Router.js"
import { RateLimiter } from "./limits/RateLimiter.js"
import { analyticsRoutes } from "./routes/analytics.js"
import { eventRoutes } from "./routes/events.js"
import { healthRoutes } from "./routes/health.js"
import { leaderboardRoutes } from "./routes/leaderboards.js"
import { openApiRoutes } from "./routes/openapi.js"
import { defaultPagesDir, pageRoutes } from "./routes/pages.js"
import { rulesRoutes } from "./routes/rules.js"
import { shareRoutes } from "./routes/shares.js"
import { userRoutes } from "./routes/users.js"
import type { us_listen_socket } from "./uws.js"
import { assertNativeUws, uWS } from "./uws.js"
import { ConnLimits } from "./ws/ConnLimits.js"
import { LeaderboardHub } from "./ws/LeaderboardHub.js"
import { leaderboardBehavior } from "./ws/leaderboardSocket.js"
import type { UpgradeGuards } from "./ws/leaderboardSocket.js"
import { startUserFanout, userBehavior } from "./ws/userSocket.js"

export interface RunningGateway {
  readonly port: number
  /** Live WebSocket state, for tests and diagnostics. */
  stats(): { connections: number; topics: number; lingering: number; stale: number; ringBytes: number; maxBuffered: number }
  close(): Promise<void>
}

export const startGateway = async (deps: GatewayDeps): Promise<RunningGateway> => {
  assertNativeUws()
  const cfg = deps.config
  checkGatewayConfig(cfg)
  const log = deps.log ?? consoleLogger
  const onError = (e: unknown, where: string): void =>
    log.error("request failed", { where, error: e instanceof Error ? `${e.name}: ${e.message}` : String(e) })

  const app = uWS.App()
  const auth = new Authenticator(cfg.authEnabled, cfg.jwtSecret)
  const rl = cfg.rateLimit
  const ipLimiter = new RateLimiter(rl.perIp, rl.windowMs, rl.maxKeys)
  const tokenLimiter = new RateLimiter(rl.perToken, rl.windowMs, rl.maxKeys)
  const router = new Router(app, {
    auth, ipLimiter, tokenLimiter, corsOrigins: cfg.corsOrigins, bodyLimitBytes: cfg.bodyLimitBytes, trustProxy: cfg.trustProxy, onError
  })

  const guards: UpgradeGuards = {
    clientIp: (res, req) => router.clientIp(res, req),
    rateLimit: (ip) => router.checkRate(`ip:${ip}`, ipLimiter, "ip"),
    corsHeaders: (origin) => router.corsHeaders(origin)
  }
  const limits = new ConnLimits(cfg.ws)
  const hub = new LeaderboardHub(deps.leaderboards, app, cfg.ws)
  hub.start()
  const stopFanout = startUserFanout(app, deps.notifications)
  app.ws("/ws/leaderboard/:board", leaderboardBehavior(deps.leaderboards, hub, limits, guards, cfg.ws))
  app.ws("/ws/users/:user_id", userBehavior(auth, deps.notifications, limits, guards, cfg.ws))

  const routes = [
    ...eventRoutes(deps.ingest, onError),
    ...leaderboardRoutes(deps.leaderboards),
    ...userRoutes(deps.users),
    ...rulesRoutes(deps.rules),
    ...shareRoutes(deps.shares),
    ...healthRoutes(deps.health),
    ...openApiRoutes(),
    ...pageRoutes(cfg.pagesDir ?? defaultPagesDir(), deps.analytics !== undefined),
    ...(deps.analytics !== undefined ? analyticsRoutes(deps.analytics) : [])
  ]
  for (const r of routes) router.add(r)
  router.finish()

  const listenSocket = await new Promise<us_listen_socket>((resolve, reject) => {
    app.listen(cfg.host, cfg.port, (s) => {
      if (s === false) reject(new Error(`gateway could not listen on ${cfg.host}:${cfg.port} (address in use?)`))
      else resolve(s)
    })
  })
  const port = uWS.us_socket_local_port(listenSocket)

  let closed: Promise<void> | null = null
  return {
    port,
    stats: () => ({ connections: limits.open, ...hub.stats() }),
    close: () => {
      closed ??= (async () => {
        uWS.us_listen_socket_close(listenSocket)
        // App.close() force-closes every remaining socket (HTTP keep-alive and WebSocket); their
        // close handlers still run, so the hub and limits are released before the hub stops.
        ;(app as unknown as { close(): void }).close()
        await new Promise((r) => setImmediate(r))
        stopFanout()
        hub.stop()
      })()
      return closed
    }
  }
}
