// /ws/leaderboard/{board} on the partitioned gateway (ARCHITECTURE §7, §9): the single process's
// WebSocket feed — admission, TopicHub (topics, coalescing, resume ring, epochs), SocketHost and
// the uWS behaviours, unchanged — over a LeaderboardPort fed by the board mergers' chains
// (adapters/nats/MergedLiveBoards.ts), mounted on the gateway's own uWS app (MergedGateway.ts), as
// Gateway.ts mounts its feeds: the client address and the limits and CORS headers are the Router's.
// Same frames, so existing clients work.
// The around-me feed /ws/leaderboard/{board}/around/{user_id} (given `around`): the same hub over
// windows the port recomputes from the partitions (adapters/nats/MergedWindows.ts), admitted by
// MergedAroundGate.ts (a private user's window: 404). Group boards' feeds (`group:<id>`, around-me
// included) are the same hub over views the port recomputes from the partitions (MergedWindows.ts).
// /ws/users/{user_id} (with `notifications`): the single process's admission (token of that user or
// admin), UserFeed and socket behaviour over the owners' notification subjects (MergedUserFeed.ts).
import type { LeaderboardPort } from "../../ports/ReadModel.js"
import type { NotificationPort } from "../../ports/LiveFeed.js"
import type { Authenticator } from "../auth/Auth.js"
import type { WsConfig } from "../GatewayConfig.js"
import type { Router } from "../http/Router.js"
import type { RateLimiter } from "../limits/RateLimiter.js"
import type { TemplatedApp } from "../Uws.js"
import { Admission } from "./Admission.js"
import type { AroundPrivacy } from "./MergedAroundGate.js"
import { admitAround } from "./MergedAroundGate.js"
import { ConnLimits } from "./ConnLimits.js"
import type { Anchors, UpgradeGate } from "./LeaderboardSocket.js"
import { wsBehaviors } from "./LeaderboardSocket.js"
import { SocketHost } from "./SocketHost.js"
import { TopicHub } from "./TopicHub.js"
import { UserFeed } from "./UserFeed.js"
import { registryMetrics } from "./WsMetrics.js"

/** The feeds' sources; absent parts are not mounted (their upgrades answer MergedGateway's 501). */
export interface MergedSocketsOptions {
  readonly boards: LeaderboardPort
  readonly cfg: WsConfig
  /** Serve the around-me feed (`boards` answers watchAround). */
  readonly around?: AroundPrivacy
  /** /ws/users/{user_id}: the users' notifications. */
  readonly notifications?: NotificationPort
}

export interface MergedSockets {
  /** The feeds' paths this app serves, as uWS patterns. */
  readonly patterns: ReadonlyArray<string>
  /** Give them holdAnchor before listening (ws/Anchor.ts). */
  readonly anchors: Anchors
  readonly stats: () => { connections: number; topics: number; lingering: number; ringBytes: number }
  /** After the app closed (its sockets' close handlers have run): stops the host, feeds and hub. */
  readonly stop: () => void
}

export const mountMergedSockets = (
  app: TemplatedApp,
  router: Router,
  limiters: { readonly auth: Authenticator; readonly ipLimiter: RateLimiter },
  o: MergedSocketsOptions
): MergedSockets => {
  const hub = new TopicHub(o.boards, o.cfg)
  hub.start()
  const limits = new ConnLimits(o.cfg)
  const admission = new Admission(o.boards, limiters.auth, limits, {
    rateLimit: (ip) => router.checkRate(`ip:${ip}`, limiters.ipLimiter, "ip"),
    corsHeaders: (origin) => router.corsHeaders(origin)
  }, o.cfg)
  const host = new SocketHost(app, o.cfg, registryMetrics)
  const link = hub.addHost(host).hub
  // As Gateway.ts: acknowledge in the next iteration, once uWS has written what was published.
  const ack = (): void => {
    const published = performance.now()
    setImmediate(() => link.ack(performance.now() - published))
  }
  const none = (): void => undefined
  const users = o.notifications === undefined ? null : new UserFeed(o.notifications)
  const stopUsers = users?.start() ?? none
  host.bind({ ...link, ack, ...(users?.forHost(host).hub ?? { userOpen: none, userClose: none }), release: (ip, route) => admission.release(ip, route) })
  host.start()
  const gate: UpgradeGate = {
    leaderboard: (req) => req.aroundUser !== undefined && o.around !== undefined ? admitAround(admission, o.around, req) : admission.leaderboard(req),
    users: (req) => users === null ? Promise.reject(new Error("not served")) : admission.users(req),
    abandon: (ip, route) => admission.release(ip, route)
  }
  const behaviors = wsBehaviors(host, gate, o.cfg, router.clientIp)
  const patterns = ["/ws/leaderboard/:board"]
  app.ws("/ws/leaderboard/:board", behaviors.leaderboard)
  if (o.around !== undefined) {
    patterns.push("/ws/leaderboard/:board/around/:user_id")
    app.ws("/ws/leaderboard/:board/around/:user_id", behaviors.around)
  }
  if (users !== null) {
    patterns.push("/ws/users/:user_id")
    app.ws("/ws/users/:user_id", behaviors.users)
  }
  return {
    patterns,
    anchors: behaviors.anchors,
    stats: () => ({ connections: limits.open, ...hub.stats() }),
    stop: () => {
      stopUsers()
      host.stop()
      hub.stop()
    }
  }
}
