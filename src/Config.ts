// The environment, decoded once with Schema (ARCHITECTURE §8). Every bad value is reported
// with its variable name; nothing else in Arena reads process.env.
import { Schema } from "effect"
import * as os from "node:os"
import * as path from "node:path"

const Port = Schema.NumberFromString.check(Schema.isInt(), Schema.isBetween({ minimum: 0, maximum: 65535 }))
const PositiveInt = Schema.NumberFromString.check(Schema.isInt(), Schema.isGreaterThanOrEqualTo(1))
const Threads = Schema.String.check(Schema.isPattern(/^(\d|1[0-6])$/, {
  message: "Expected a whole number of WebSocket worker threads from 0 to 16 (0: every socket on the main thread)"
}))
const OnOff = Schema.Literals(["on", "off"])
const Duration = Schema.String.check(Schema.isPattern(/^\d+(ms|s|m|h)?$/))
/** Requests per rate-limit window: a whole number, `0` or `off` (no limit). */
const RateLimit = Schema.String.check(Schema.isPattern(/^(off|\d{1,9})$/, {
  message: "Expected a whole number of requests per window (at most 9 digits), or 0 / off to disable the limit"
}))
/** A WebSocket cap per client IP: a whole number, `0` or `off` (no per-IP cap; the total still holds). */
const PerIpCap = Schema.String.check(Schema.isPattern(/^(off|\d{1,7})$/, {
  message: "Expected a whole number of sockets per client IP (at most 7 digits), or 0 / off for no per-IP cap"
}))
/** The total WebSocket cap: a memory bound, so never off. */
const TotalCap = Schema.String.check(Schema.isPattern(/^0*[1-9]\d{0,6}$/, {
  message: "Expected a positive whole number of sockets (at most 7 digits); the total cap cannot be turned off"
}))
const RateWindow = Schema.String.check(Schema.isPattern(/^0*[1-9]\d{0,9}(ms|s|m|h)?$/, {
  message: "Expected a positive duration such as 500ms, 60s, 1m or 1h (a bare number is seconds)"
}))

/** True for a zone name Intl knows (Config imports nothing of Arena; domain/Zones.ts canonicalizes). */
const isIanaZone = (s: string): boolean => {
  if (!/^[A-Za-z][A-Za-z0-9_+\-/]*$/u.test(s)) return false
  try { new Intl.DateTimeFormat("en-US", { timeZone: s }); return true } catch { return false }
}

const Env = Schema.Struct({
  NATS_URL: Schema.optional(Schema.String.check(Schema.isPattern(/^(nats|tls|wss?):\/\/\S+$/))),
  DATABASE_URL: Schema.optional(Schema.String.check(Schema.isPattern(/^postgres(ql)?:\/\/\S+$/))),
  CLICKHOUSE_URL: Schema.optional(Schema.String.check(Schema.isPattern(/^(chdb:\/\/\/\S+|https?:\/\/\S+)$/))),
  CLICKHOUSE_DATABASE: Schema.optional(Schema.String.check(Schema.isPattern(/^[A-Za-z_][A-Za-z0-9_]{0,63}$/))),
  CLICKHOUSE_USER: Schema.optional(Schema.String),
  CLICKHOUSE_PASSWORD: Schema.optional(Schema.String),
  PORT: Schema.optional(Port),
  HOST: Schema.optional(Schema.String.check(Schema.isMinLength(1))),
  ARENA_JWT_SECRET: Schema.optional(Schema.String),
  ARENA_AUTH: Schema.optional(OnOff),
  ARENA_RULES: Schema.optional(Schema.String.check(Schema.isMinLength(1))),
  ARENA_DATA_DIR: Schema.optional(Schema.String.check(Schema.isMinLength(1))),
  ARENA_STREAM: Schema.optional(Schema.String.check(Schema.isPattern(/^[A-Za-z0-9_-]{1,64}$/))),
  ARENA_SUBJECT_PREFIX: Schema.optional(Schema.String.check(Schema.isPattern(/^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$/))),
  ARENA_DUPLICATE_WINDOW: Schema.optional(Duration),
  ARENA_SNAPSHOT_INTERVAL: Schema.optional(Duration),
  ARENA_ERASURE_STEP_PAUSE: Schema.optional(Duration),
  ARENA_REPROJECTION_STEP_PAUSE: Schema.optional(Duration),
  ARENA_BATCH_MAX: Schema.optional(PositiveInt.check(Schema.isLessThanOrEqualTo(100_000))),
  ARENA_WS_THREADS: Schema.optional(Threads),
  ARENA_WS_MAX_CONNECTIONS: Schema.optional(TotalCap),
  ARENA_WS_MAX_CONNECTIONS_PER_IP: Schema.optional(PerIpCap),
  ARENA_WS_MAX_SUBSCRIPTIONS_PER_IP: Schema.optional(PerIpCap),
  ARENA_RATE_LIMIT_PER_IP: Schema.optional(RateLimit),
  ARENA_RATE_LIMIT_PER_TOKEN: Schema.optional(RateLimit),
  ARENA_RATE_LIMIT_WINDOW: Schema.optional(RateWindow),
  ARENA_PARTITIONS: Schema.optional(Schema.String.check(Schema.isPattern(/^0*([1-9]\d{0,2}|10[01]\d|102[0-4])$/, {
    message: "Expected a whole number of partitions from 1 to 1024 (fixed for the life of a deployment; unset: one process)"
  }))),
  ARENA_LEASE_TTL: Schema.optional(Schema.String.check(Schema.isPattern(/^0*[1-9]\d{0,9}(ms|s|m|h)?$/, {
    message: "Expected a positive duration of at least 1s, such as 10s or 3000ms (a bare number is seconds)"
  }))),
  ARENA_LOG: Schema.optional(Schema.Literals(["debug", "info", "warn", "error"])),
  ARENA_PERIOD_TZ: Schema.optional(Schema.String.check(Schema.makeFilter((s: string) => isIanaZone(s) || "Expected an IANA time zone such as UTC or Europe/Berlin (board periods' calendar)"))),
  NODE_ENV: Schema.optional(Schema.String)
})

/**
 * ARENA_WS_THREADS when unset: one WebSocket thread per core, at most 4, so sending frames (the
 * kernel's ~8 µs per frame, a whole core at 10k sockets) never queues a board's delta behind the
 * pipeline on the main thread, nor the pipeline behind the sends; none on a single core, where a
 * thread could only add a hop.
 */
export const defaultWsThreads = (cores: number): number => (cores <= 1 ? 0 : Math.min(cores, 4))

/** The gateway's sliding-window request limits; 0 disables one. */
export interface RateLimits {
  /** Requests per window per client IP (every request, authenticated or not; WebSocket upgrades too). */
  readonly perIp: number
  /** Requests per window per token subject. */
  readonly perToken: number
  readonly windowMs: number
}

/**
 * Partition leases live 20 s: long enough to ride out the loss of the NATS node that leads the
 * lease stream (adapters/nats/Leases.ts NATS_FAILOVER_MS, up to ~11 s on nats-server 2.9), short
 * enough that a dead processor's partitions move within 20 s. Below 15 s a NATS node failure can
 * move partitions away from live processors (a warning says so at start).
 */
export const DEFAULT_LEASE_TTL = "20s"

export const DEFAULT_RATE_LIMITS: RateLimits = { perIp: 1200, perToken: 3000, windowMs: 60_000 }

/** WebSocket admission caps (ARENA_WS_MAX_*); a per-IP cap of 0 means none. */
export interface WsCaps {
  readonly maxConnections: number
  readonly maxConnectionsPerIp: number
  /** Leaderboard subscriptions per IP (each /ws/leaderboard socket is one). */
  readonly maxSubscriptionsPerIp: number
}

export const DEFAULT_WS_CAPS: WsCaps = { maxConnections: 20_000, maxConnectionsPerIp: 64, maxSubscriptionsPerIp: 64 }

export interface ArenaConfig {
  readonly natsUrl: string
  readonly databaseUrl: string
  /** `chdb:///abs/path` (embedded, the default) or `http(s)://…` (a server). */
  readonly clickhouseUrl: string
  readonly clickhouseDatabase: string
  readonly clickhouseUser: string | undefined
  readonly clickhousePassword: string | undefined
  readonly host: string
  readonly port: number
  readonly jwtSecret: string | undefined
  readonly authEnabled: boolean
  readonly rulesPath: string | undefined
  readonly dataDir: string
  readonly stream: string
  readonly subjectPrefix: string
  readonly duplicateWindowMs: number
  readonly snapshotIntervalMs: number
  /** A pause after each recorded erasure step (0; tests set it to kill -9 between any two steps). */
  readonly erasureStepPauseMs: number
  /** A pause at each step of a retroactive apply (0; tests set it to kill -9 while it is pending and built). */
  readonly reprojectionStepPauseMs: number
  readonly batchMax: number
  /** WebSocket worker threads of the gateway (0: sockets on the main thread). */
  readonly wsThreads: number
  /** ARENA_WS_MAX_CONNECTIONS / _PER_IP, ARENA_WS_MAX_SUBSCRIPTIONS_PER_IP. */
  readonly wsCaps: WsCaps
  /** ARENA_RATE_LIMIT_PER_IP / _PER_TOKEN / _WINDOW. */
  readonly rateLimit: RateLimits
  /** ARENA_PARTITIONS: P in partitioned mode (ARCHITECTURE §9); undefined = today's single-process mode. */
  readonly partitions: number | undefined
  /** ARENA_LEASE_TTL (default 20s): partition, coordinator and merger leases in partitioned mode. */
  readonly leaseTtlMs: number
  readonly logLevel: "debug" | "info" | "warn" | "error"
  /** ARENA_PERIOD_TZ: the IANA zone whose calendar board periods (day, week, month) follow. */
  readonly periodTz: string
  readonly production: boolean
}

export class ConfigError extends Schema.TaggedError<ConfigError>()("ConfigError", {
  message: Schema.String
}) {}

/** "24h" → ms; a bare number is seconds. */
export const parseDuration = (s: string): number => {
  const m = /^(\d+)(ms|s|m|h)?$/.exec(s)
  if (!m) throw new Error(`not a duration: ${s}`)
  const n = Number(m[1])
  switch (m[2]) {
    case "ms": return n
    case "m": return n * 60_000
    case "h": return n * 3_600_000
    default: return n * 1000
  }
}

/** A request limit or per-IP cap: `off` and `0` both mean none. */
const parseLimit = (s: string): number => (s === "off" ? 0 : Number(s))

/** Decode an environment (process.env by default); throws ConfigError naming each bad variable. */
export const decodeConfig = (env: Record<string, string | undefined> = process.env): ArenaConfig => {
  const picked: Record<string, string> = {}
  for (const key of Object.keys(Env.fields)) {
    const v = env[key]
    if (v !== undefined && v !== "") picked[key] = v
  }
  const decoded = Schema.decodeUnknownExit(Env)(picked, { errors: "all" })
  if (decoded._tag === "Failure") {
    const text = String(decoded.cause).replace(/\n\s+at \["(\w+)"\]/g, " (in $1)")
    throw new ConfigError({ message: `invalid environment:\n${text}` })
  }
  const e = decoded.value
  const dataDir = path.resolve(e.ARENA_DATA_DIR ?? "./data")
  const clickhouseUrl = e.CLICKHOUSE_URL ?? `chdb://${path.join(dataDir, "clickhouse")}`
  const leaseTtlMs = parseDuration(e.ARENA_LEASE_TTL ?? DEFAULT_LEASE_TTL)
  if (leaseTtlMs < 1000) throw new ConfigError({ message: `invalid environment:\nARENA_LEASE_TTL: must be at least 1s (leases are renewed every third of it, at most every second), got ${e.ARENA_LEASE_TTL}` })
  return {
    natsUrl: e.NATS_URL ?? "nats://127.0.0.1:4222",
    databaseUrl: e.DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/arena",
    clickhouseUrl,
    clickhouseDatabase: e.CLICKHOUSE_DATABASE ?? "arena",
    clickhouseUser: e.CLICKHOUSE_USER,
    clickhousePassword: e.CLICKHOUSE_PASSWORD,
    host: e.HOST ?? "127.0.0.1",
    port: e.PORT ?? 8080,
    jwtSecret: e.ARENA_JWT_SECRET,
    authEnabled: (e.ARENA_AUTH ?? "on") === "on",
    rulesPath: e.ARENA_RULES,
    dataDir,
    stream: e.ARENA_STREAM ?? "ARENA_XP",
    subjectPrefix: e.ARENA_SUBJECT_PREFIX ?? "arena.xp",
    duplicateWindowMs: parseDuration(e.ARENA_DUPLICATE_WINDOW ?? "24h"),
    snapshotIntervalMs: parseDuration(e.ARENA_SNAPSHOT_INTERVAL ?? "5s"),
    erasureStepPauseMs: parseDuration(e.ARENA_ERASURE_STEP_PAUSE ?? "0s"),
    reprojectionStepPauseMs: parseDuration(e.ARENA_REPROJECTION_STEP_PAUSE ?? "0s"),
    batchMax: e.ARENA_BATCH_MAX ?? 2000,
    wsThreads: e.ARENA_WS_THREADS === undefined ? defaultWsThreads(os.availableParallelism()) : Number(e.ARENA_WS_THREADS),
    wsCaps: {
      maxConnections: e.ARENA_WS_MAX_CONNECTIONS === undefined ? DEFAULT_WS_CAPS.maxConnections : Number(e.ARENA_WS_MAX_CONNECTIONS),
      maxConnectionsPerIp: e.ARENA_WS_MAX_CONNECTIONS_PER_IP === undefined ? DEFAULT_WS_CAPS.maxConnectionsPerIp : parseLimit(e.ARENA_WS_MAX_CONNECTIONS_PER_IP),
      maxSubscriptionsPerIp: e.ARENA_WS_MAX_SUBSCRIPTIONS_PER_IP === undefined ? DEFAULT_WS_CAPS.maxSubscriptionsPerIp : parseLimit(e.ARENA_WS_MAX_SUBSCRIPTIONS_PER_IP)
    },
    rateLimit: {
      perIp: e.ARENA_RATE_LIMIT_PER_IP === undefined ? DEFAULT_RATE_LIMITS.perIp : parseLimit(e.ARENA_RATE_LIMIT_PER_IP),
      perToken: e.ARENA_RATE_LIMIT_PER_TOKEN === undefined ? DEFAULT_RATE_LIMITS.perToken : parseLimit(e.ARENA_RATE_LIMIT_PER_TOKEN),
      windowMs: e.ARENA_RATE_LIMIT_WINDOW === undefined ? DEFAULT_RATE_LIMITS.windowMs : parseDuration(e.ARENA_RATE_LIMIT_WINDOW)
    },
    partitions: e.ARENA_PARTITIONS === undefined ? undefined : Number(e.ARENA_PARTITIONS),
    leaseTtlMs,
    logLevel: e.ARENA_LOG ?? "info",
    periodTz: e.ARENA_PERIOD_TZ ?? "UTC",
    production: e.NODE_ENV === "production"
  }
}
