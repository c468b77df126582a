// startGateway: the uWS app with every route of ARCHITECTURE §6–§7, the live-page assets and the
// WebSocket feeds; returns the bound port and a close() that stops listening and closes sockets.
// With wsThreads ≥ 1 the sockets live in worker threads (threads/), the rest stays here.
import { Authenticator } from "./auth/Auth.js"
import type { GatewayDeps } from "./GatewayDeps.js"
import { consoleLogger } from "./GatewayDeps.js"
import { checkGatewayConfig } from "./GatewayConfig.js"
import { Router } from "./http/Router.js"
import { RateLimiter } from "./limits/RateLimiter.js"
import { analyticsRoutes } from "./routes/analytics.js"
import { correctionRoutes } from "./routes/corrections.js"
import { erasureRoutes } from "./routes/erasures.js"
import { eventRoutes } from "./routes/events.js"
import { healthRoutes } from "./routes/health.js"
import { leaderboardRoutes } from "./routes/leaderboards.js"
import { groupRoutes } from "./routes/groups.js"
import { openApiRoutes } from "./routes/openapi.js"
import { defaultPagesDir, pageRoutes } from "./routes/pages.js"
import { rulesRoutes } from "./routes/rules.js"
import { shareRoutes } from "./routes/shares.js"
import { userRoutes } from "./routes/users.js"
import { startWsThreads } from "./threads/WsThreads.js"
import type { WsThreads } from "./threads/WsThreads.js"
import type { TemplatedApp, us_listen_socket } from "./Uws.js"
import { assertNativeUws, uWS } from "./Uws.js"
import { Admission } from "./ws/Admission.js"
import { holdAnchor } from "./ws/Anchor.js"
import { ConnLimits } from "./ws/ConnLimits.js"
import type { Anchors, UpgradeGate } from "./ws/LeaderboardSocket.js"
import { wsBehaviors } from "./ws/LeaderboardSocket.js"
import { SocketHost } from "./ws/SocketHost.js"
import { TopicHub } from "./ws/TopicHub.js"
import { UserFeed } from "./ws/UserFeed.js"
import { registryMetrics } from "./ws/WsMetrics.js"

export interface RunningGateway {
  readonly port: number
  /**
   * Live WebSocket state, for tests and diagnostics (worker threads report theirs every 0.5 s):
   * `threads` is the leaderboard sockets each thread holds (one entry without worker threads).
   */
  stats(): {
    connections: number; topics: number; lingering: number; stale: number; ringBytes: number; maxBuffered: number
    threads: ReadonlyArray<number>
  }
  close(): Promise<void>
}

const listen = (app: TemplatedApp, host: string, port: number): Promise<us_listen_socket> =>
  new Promise<us_listen_socket>((resolve, reject) => {
    app.listen(host, port, (s) => {
      if (s === false) reject(new Error(`gateway could not listen on ${host}:${port} (address in use?)`))
      else resolve(s)
    })
  })

export const startGateway = async (deps: GatewayDeps): Promise<RunningGateway> => {
  assertNativeUws()
  const cfg = deps.config
  checkGatewayConfig(cfg)
  const log = deps.log ?? consoleLogger
  const onError = (e: unknown, where: string): void =>
    log.error("request failed", { where, error: e instanceof Error ? `${e.name}: ${e.message}` : String(e) })

  // Without worker threads this thread accepts every connection; with them, none.
  const app = cfg.wsThreads === 0 ? uWS.App() : null
  const auth = new Authenticator(cfg.authEnabled, cfg.jwtSecret)
  const rl = cfg.rateLimit
  const ipLimiter = new RateLimiter(rl.perIp, rl.windowMs, rl.maxKeys)
  const tokenLimiter = new RateLimiter(rl.perToken, rl.windowMs, rl.maxKeys)
  const router = new Router(app, {
    auth, ipLimiter, tokenLimiter, corsOrigins: cfg.corsOrigins, bodyLimitBytes: cfg.bodyLimitBytes, trustProxy: cfg.trustProxy, onError
  })

  const limits = new ConnLimits(cfg.ws)
  const admission = new Admission(deps.leaderboards, auth, limits, {
    rateLimit: (ip) => router.checkRate(`ip:${ip}`, ipLimiter, "ip"),
    corsHeaders: (origin) => router.corsHeaders(origin)
  }, cfg.ws)
  const hub = new TopicHub(deps.leaderboards, cfg.ws)
  hub.start()
  const users = new UserFeed(deps.notifications)
  const stopUsers = users.start()

  let local: SocketHost | null = null
  let anchors: Anchors | null = null
  if (app !== null) {
    const host = new SocketHost(app, cfg.ws, registryMetrics)
    const link = hub.addHost(host).hub
    // On this thread the hub can hand over a batch at any point of an iteration, and what is
    // published is written when it ends: acknowledge in the next one, so the batches written
    // together stay within the hub's in-flight bound (TopicHub inFlightBytesOf). The immediate
    // runs after uWS has written (its check handle runs first): the time since publishing is what
    // the writes cost this thread, and the hub rests that long (TopicHub FLUSH_REST_RATIO).
    const ack = (): void => {
      const published = performance.now()
      setImmediate(() => link.ack(performance.now() - published))
    }
    host.bind({ ...link, ack, ...users.forHost(host).hub, release: (ip, route) => admission.release(ip, route) })
    host.start()
    const gate: UpgradeGate = {
      leaderboard: (req) => admission.leaderboard(req),
      users: (req) => admission.users(req),
      abandon: (ip, route) => admission.release(ip, route)
    }
    const behaviors = wsBehaviors(host, gate, cfg.ws, router.clientIp)
    app.ws("/ws/leaderboard/:board", behaviors.leaderboard)
    app.ws("/ws/leaderboard/:board/around/:user_id", behaviors.around)
    app.ws("/ws/users/:user_id", behaviors.users)
    local = host
    anchors = behaviors.anchors
  }

  const routes = [
    ...eventRoutes(deps.ingest, onError),
    ...leaderboardRoutes(deps.leaderboards),
    ...userRoutes(deps.users, deps.settings, onError),
    ...rulesRoutes(deps.rules, deps.dryRuns, deps.rulesApply),
    ...(deps.corrections !== undefined ? correctionRoutes(deps.corrections) : []),
    ...shareRoutes(deps.shares),
    ...(deps.erasures !== undefined ? erasureRoutes(deps.erasures) : []),
    ...(deps.groups !== undefined ? groupRoutes(deps.groups) : []),
    ...healthRoutes(deps.health),
    ...openApiRoutes(),
    ...pageRoutes(cfg.pagesDir ?? defaultPagesDir(), deps.analytics !== undefined),
    ...(deps.analytics !== undefined ? analyticsRoutes(deps.analytics) : [])
  ]
  for (const r of routes) router.add(r)
  router.finish()

  let listenSocket: us_listen_socket | null = null
  let threads: WsThreads | null = null
  let stopAnchor = (): void => undefined
  try {
    if (app !== null) {
      // The cork anchor opens before clients can connect (ws/Anchor.ts).
      stopAnchor = await holdAnchor(app, anchors!, (m) => log.warn(m))
      listenSocket = await listen(app, cfg.host, cfg.port)
    } else {
      const workerUrl = new URL(cfg.wsWorkerUrl ?? "./threads/wsWorker.js", import.meta.url)
      threads = await startWsThreads(cfg.wsThreads, { config: cfg, hub, users, admission, router, log, workerUrl })
    }
  } catch (e) {
    stopAnchor()
    stopUsers()
    hub.stop()
    local?.stop()
    throw e
  }
  const port = listenSocket !== null ? uWS.us_socket_local_port(listenSocket) : threads!.port

  let closed: Promise<void> | null = null
  return {
    port,
    stats: () => {
      const own = local?.stats()
      const ws = own !== undefined ? { stale: own.stale, maxBuffered: own.maxBuffered, threads: [own.sockets] } : threads!.stats()
      return { connections: limits.open, ...hub.stats(), ...ws }
    },
    close: () => {
      closed ??= (async () => {
        if (app !== null && listenSocket !== null) {
          stopAnchor()
          uWS.us_listen_socket_close(listenSocket)
          // App.close() force-closes every remaining socket (HTTP keep-alive and WebSocket); their
          // close handlers still run, so the hub and limits are released before the hub stops.
          ;(app as unknown as { close(): void }).close()
          await new Promise((r) => setImmediate(r))
        }
        await threads?.close()
        local?.stop()
        stopUsers()
        hub.stop()
      })()
      return closed
    }
  }
}
