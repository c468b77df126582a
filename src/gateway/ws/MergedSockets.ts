// /ws/leaderboard/{board} on the partitioned gateway (ARCHITECTURE §7, §9): the single process's
// WebSocket feed — admission, TopicHub (topics, coalescing, resume ring, epochs), SocketHost and
// the uWS behaviours, unchanged — over a LeaderboardPort fed by the board mergers' chains
// (adapters/nats/MergedLiveBoards.ts). Same frames, so existing clients work.
// The partitioned gateway's HTTP server is node:http (MergedGateway.ts); uWS cannot adopt a node
// socket, so the uWS app listens on a private loopback port and `upgrade` pipes each
// /ws/leaderboard upgrade there byte for byte, with the client's address in X-Arena-Client-Ip (set
// here, never taken from the client). One loopback hop per socket: a cost the fan-out benchmark
// has not measured on this path.
// The around-me feed /ws/leaderboard/{board}/around/{user_id} (given `around`): the same hub over
// windows the port recomputes from the partitions (adapters/nats/MergedWindows.ts), admitted by
// MergedAroundGate.ts (a private user's window: 404). Group boards' feeds (`group:<id>`, around-me
// included) are the same hub over views the port recomputes from the partitions (MergedWindows.ts).
// /ws/users/{user_id} (with `notifications`): the single process's admission (token of that user or
// admin), UserFeed and socket behaviour over the owners' notification subjects (MergedUserFeed.ts).
import type * as http from "node:http"
import * as net from "node:net"
import type { Duplex } from "node:stream"
import type { LeaderboardPort } from "../../ports/ReadModel.js"
import type { NotificationPort } from "../../ports/LiveFeed.js"
import type { Authenticator } from "../auth/Auth.js"
import type { WsConfig } from "../GatewayConfig.js"
import { rateLimited } from "../http/ApiError.js"
import { clientIpOfRequest } from "../http/Exchange.js"
import type { RateLimiter } from "../limits/RateLimiter.js"
import type { us_listen_socket } from "../Uws.js"
import { assertNativeUws, uWS } from "../Uws.js"
import { Admission } from "./Admission.js"
import { holdAnchor } from "./Anchor.js"
import type { AroundPrivacy } from "./MergedAroundGate.js"
import { admitAround } from "./MergedAroundGate.js"
import { ConnLimits } from "./ConnLimits.js"
import type { UpgradeGate } from "./LeaderboardSocket.js"
import { wsBehaviors } from "./LeaderboardSocket.js"
import { SocketHost } from "./SocketHost.js"
import { TopicHub } from "./TopicHub.js"
import { UserFeed } from "./UserFeed.js"
import { registryMetrics } from "./WsMetrics.js"

const CLIENT_IP = "x-arena-client-ip"
const LEADERBOARD = /^\/ws\/leaderboard\/[^/]+$/
const AROUND = /^\/ws\/leaderboard\/[^/]+\/around\/[^/]+$/
const USERS = /^\/ws\/users\/[^/]+$/

export interface MergedSocketsOptions {
  readonly boards: LeaderboardPort
  readonly cfg: WsConfig
  readonly auth: Authenticator
  readonly ipLimiter: RateLimiter
  /** X-Forwarded-For's first hop is the client (behind a trusted proxy only). */
  readonly trustProxy: boolean
  readonly log: { readonly warn: (m: string) => void }
  /** Serve the around-me feed (`boards` answers watchAround); absent: it answers 501. */
  readonly around?: AroundPrivacy
  /** /ws/users/{user_id}: the users' notifications (absent: 501). */
  readonly notifications?: NotificationPort
}

export interface MergedSockets {
  /** node:http's `upgrade` event: /ws/leaderboard/{board} (and /ws/users/{user_id}) go to the feeds, anything else is refused. */
  readonly upgrade: (req: http.IncomingMessage, socket: Duplex, head: Buffer) => void
  readonly stats: () => { connections: number; topics: number; lingering: number; ringBytes: number }
  readonly close: () => Promise<void>
}

const refuse = (socket: Duplex, status: number, code: string, message: string): void => {
  const body = JSON.stringify({ error: { code, message, details: [] } })
  socket.end(`HTTP/1.1 ${status} ${status === 501 ? "Not Implemented" : "Bad Request"}\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`)
}

export const startMergedSockets = async (o: MergedSocketsOptions): Promise<MergedSockets> => {
  assertNativeUws()
  const app = uWS.App()
  const hub = new TopicHub(o.boards, o.cfg)
  hub.start()
  const limits = new ConnLimits(o.cfg)
  const admission = new Admission(o.boards, o.auth, limits, {
    rateLimit: (ip) => {
      const d = o.ipLimiter.hit(`ip:${ip}`)
      return d.allowed ? null : rateLimited(d.retryAfterSeconds)
    },
    corsHeaders: () => []
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
  const behaviors = wsBehaviors(host, gate, o.cfg, (_res, req) => req.getHeader(CLIENT_IP))
  app.ws("/ws/leaderboard/:board", behaviors.leaderboard)
  if (o.around !== undefined) app.ws("/ws/leaderboard/:board/around/:user_id", behaviors.around)
  if (users !== null) app.ws("/ws/users/:user_id", behaviors.users)
  let stopAnchor = (): void => undefined
  let listenSocket: us_listen_socket | false = false
  try {
    stopAnchor = await holdAnchor(app, behaviors.anchors, (m) => o.log.warn(m))
    listenSocket = await new Promise<us_listen_socket | false>((resolve) => app.listen("127.0.0.1", 0, resolve))
    if (listenSocket === false) throw new Error("the WebSocket feed could not listen on 127.0.0.1")
  } catch (e) {
    stopAnchor()
    stopUsers()
    host.stop()
    hub.stop()
    throw e
  }
  const inner = uWS.us_socket_local_port(listenSocket)
  const pipes = new Set<Duplex>()

  const upgrade = (req: http.IncomingMessage, socket: Duplex, head: Buffer): void => {
    const path = (req.url ?? "/").split("?")[0]!
    if (!LEADERBOARD.test(path) && !(o.around !== undefined && AROUND.test(path)) && !(users !== null && USERS.test(path))) {
      return refuse(socket, 501, "not_implemented", `${path} is not served by --role gateway yet: partitioned mode serves /ws/leaderboard/{board}, its around-me feed and /ws/users/{user_id} (docs/scaling.md)`)
    }
    const ip = clientIpOfRequest(req, o.trustProxy)
    let head1 = `${req.method ?? "GET"} ${req.url ?? "/"} HTTP/1.1\r\n`
    for (let i = 0; i + 1 < req.rawHeaders.length; i += 2) {
      if (req.rawHeaders[i]!.toLowerCase() !== CLIENT_IP) head1 += `${req.rawHeaders[i]}: ${req.rawHeaders[i + 1]}\r\n`
    }
    head1 += `${CLIENT_IP}: ${ip}\r\n\r\n`
    const up = net.connect({ host: "127.0.0.1", port: inner })
    pipes.add(socket)
    const end = () => {
      pipes.delete(socket)
      up.destroy()
      socket.destroy()
    }
    up.once("error", end)
    up.once("close", end)
    socket.once("error", end)
    socket.once("close", end)
    up.setNoDelay(true)
    up.write(head1)
    if (head.length > 0) up.write(head)
    socket.pipe(up)
    up.pipe(socket)
  }

  let closed: Promise<void> | null = null
  return {
    upgrade,
    stats: () => ({ connections: limits.open, ...hub.stats() }),
    close: () => {
      closed ??= (async () => {
        stopAnchor()
        if (listenSocket !== false) uWS.us_listen_socket_close(listenSocket)
        ;(app as unknown as { close(): void }).close()
        for (const s of pipes) s.destroy()
        await new Promise((r) => setImmediate(r))
        stopUsers()
        host.stop()
        hub.stop()
      })()
      return closed
    }
  }
}
