// The gateway's settings: listen address, auth, CORS, body/rate/WebSocket limits. Built from the
// decoded ArenaConfig plus optional overrides; `checkGatewayConfig` refuses unsafe production setups.
import type { ArenaConfig, RateLimits, WsCaps } from "../Config.js"
import { DEFAULT_RATE_LIMITS, DEFAULT_WS_CAPS } from "../Config.js"
import { DEV_SECRET, secretProblem } from "./auth/Auth.js"

/** ARENA_RATE_LIMIT_* (perIp, perToken: requests per window, 0 = no limit) plus the key bound. */
export interface RateLimitConfig extends RateLimits {
  /** Upper bound on tracked keys (memory bound). */
  readonly maxKeys: number
}

export interface WsConfig {
  /** uWS maxBackpressure: the hard per-socket buffer bound (uWS drops above it). */
  readonly maxBackpressure: number
  /** A socket buffering more than this when a delta is published is marked stale (skipped). */
  readonly staleBytes: number
  /** A stale socket is resynced with a snapshot once its buffer drains to this. */
  readonly resyncBytes: number
  readonly idleTimeoutSeconds: number
  readonly maxConnections: number
  /** 0: no per-IP cap (the total still holds). */
  readonly maxConnectionsPerIp: number
  /** Leaderboard subscriptions per IP (each /ws/leaderboard socket is one); 0: no per-IP cap. */
  readonly maxSubscriptionsPerIp: number
  readonly maxLimit: number
  readonly ringMaxDeltas: number
  readonly ringMaxBytes: number
  /** How long a topic outlives its last subscriber (so a reconnect can resume from its ring). */
  readonly lingerMs: number
}

export interface GatewayConfig {
  readonly host: string
  readonly port: number
  readonly production: boolean
  readonly authEnabled: boolean
  readonly jwtSecret: string | undefined
  /** Exact origins allowed for CORS; "*" allows any. Empty: no CORS headers. */
  readonly corsOrigins: ReadonlyArray<string>
  readonly bodyLimitBytes: number
  /** Use X-Forwarded-For's client address (only behind a trusted proxy). */
  readonly trustProxy: boolean
  readonly rateLimit: RateLimitConfig
  readonly ws: WsConfig
  /** Directory of index.html/.js/.css and dashboard.*; defaults to src/gateway/pages. */
  readonly pagesDir?: string | undefined
  /**
   * WebSocket worker threads (ARENA_WS_THREADS). 0: every socket on the main thread. N ≥ 1: N
   * threads accept all connections on the port and hold the WebSocket sockets; the main thread
   * keeps the pipeline, topic history, admission and HTTP routes (workers forward HTTP to it).
   */
  readonly wsThreads: number
  /** The compiled worker script (tests running TypeScript sources point it at dist/). */
  readonly wsWorkerUrl?: string | undefined
}

export const DEFAULT_WS: WsConfig = {
  maxBackpressure: 1024 * 1024,
  staleBytes: 256 * 1024,
  resyncBytes: 16 * 1024,
  idleTimeoutSeconds: 60,
  ...DEFAULT_WS_CAPS,
  maxLimit: 1000,
  ringMaxDeltas: 1024,
  ringMaxBytes: 1024 * 1024,
  lingerMs: 30_000
}

export const DEFAULT_RATE_LIMIT: RateLimitConfig = { ...DEFAULT_RATE_LIMITS, maxKeys: 100_000 }

export interface GatewayOverrides {
  readonly corsOrigins?: ReadonlyArray<string>
  readonly bodyLimitBytes?: number
  readonly trustProxy?: boolean
  readonly rateLimit?: Partial<RateLimitConfig>
  readonly ws?: Partial<WsConfig>
  readonly pagesDir?: string
  readonly wsThreads?: number
  readonly wsWorkerUrl?: string
}

export const gatewayConfig = (
  arena: Pick<ArenaConfig, "host" | "port" | "jwtSecret" | "authEnabled" | "production"> & {
    readonly wsThreads?: number
    readonly rateLimit?: RateLimits
    readonly wsCaps?: WsCaps
  },
  o: GatewayOverrides = {}
): GatewayConfig => ({
  host: arena.host,
  port: arena.port,
  production: arena.production,
  authEnabled: arena.authEnabled,
  // Outside production a missing secret falls back to a fixed dev secret so `arena token` works.
  jwtSecret: arena.jwtSecret ?? (arena.production ? undefined : DEV_SECRET),
  corsOrigins: o.corsOrigins ?? [],
  bodyLimitBytes: o.bodyLimitBytes ?? 1024 * 1024,
  trustProxy: o.trustProxy ?? false,
  rateLimit: { ...DEFAULT_RATE_LIMIT, ...arena.rateLimit, ...o.rateLimit },
  ws: { ...DEFAULT_WS, ...arena.wsCaps, ...o.ws },
  pagesDir: o.pagesDir,
  wsThreads: o.wsThreads ?? arena.wsThreads ?? 0,
  wsWorkerUrl: o.wsWorkerUrl
})

/** Throws a clear error for settings the gateway must not start with. */
export const checkGatewayConfig = (c: GatewayConfig): void => {
  if (c.production) {
    if (!c.authEnabled) throw new Error("refusing to start: ARENA_AUTH=off is for development only (NODE_ENV=production)")
    const problem = secretProblem(c.jwtSecret)
    if (problem !== null) throw new Error(`refusing to start: ${problem} (NODE_ENV=production); generate one with \`openssl rand -base64 48\``)
  }
  if (c.authEnabled && (c.jwtSecret === undefined || c.jwtSecret === "")) {
    throw new Error("refusing to start: auth is on and ARENA_JWT_SECRET is not set")
  }
  const w = c.ws
  if (!(w.resyncBytes < w.staleBytes && w.staleBytes < w.maxBackpressure)) {
    throw new Error("ws limits must satisfy resyncBytes < staleBytes < maxBackpressure")
  }
  if (!(c.bodyLimitBytes >= 1024)) throw new Error("bodyLimitBytes must be at least 1024")
  if (!(Number.isInteger(c.wsThreads) && c.wsThreads >= 0 && c.wsThreads <= 64)) throw new Error("wsThreads must be an integer 0..64")
}
