// `arena serve --role gateway` in partitioned mode (ARCHITECTURE §9): a stateless gateway on one
// uWS app with the single process's Router (http/Router.ts: per-IP and per-token limits, token
// check, body limit, HEAD, OPTIONS/CORS preflight, 405 with Allow, metrics `arena_http_*`) and its
// WebSocket feeds on the same app (ws/MergedSockets.ts), as Gateway.ts is built.
// Its own routes (routes/mergedReads.ts): the board reads answered exactly by scatter-gather over
// the partitions' owners (MergedReadsPort), group boards `group:<id>` included, /v1/partitions,
// /healthz, /readyz, /metrics. The single process's routes, mounted as they are, over ports of this
// mode: POST /v1/events (each event to its user's `arena.xp.events.<user token>`), the writes routed
// with their user (`writes`: corrections, settings, erasures), analytics and ledgers (the shared
// ClickHouse), shares, GET /v1/rules and /v1/achievements (Postgres), the rules dry runs (the
// single process's routes and child process over jobs in Postgres), /v1/groups/{id} (Postgres).
// Everything else answers 501 naming docs/scaling.md (`notServed`): rules applies (re-projections
// are not built in this mode), ledgers and analytics without a ClickHouse server,
// and the rest of §6; a partition without an owner is 503 partition_unavailable with Retry-After.
import { isPartitionsUnavailable } from "../ports/MergedReads.js"
import type { MergedReadsPort } from "../ports/MergedReads.js"
import type { IngestPort } from "../ports/Ingest.js"
import type { AnalyticsRoutesPort } from "../ports/AnalyticsQueries.js"
import type { GroupsPort } from "../ports/Groups.js"
import type { ShareStore } from "../ports/Shares.js"
import type { DryRunPort } from "../ports/DryRuns.js"
import type { LedgerPage, RulesPort } from "../ports/ReadModel.js"
import type { CorrectionsPort } from "../ports/Corrections.js"
import type { ErasurePort } from "../ports/Erasures.js"
import type { SettingsPort } from "../ports/Settings.js"
import type { Authenticator } from "./auth/Auth.js"
import { ApiError } from "./http/ApiError.js"
import type { Handler, Route } from "./http/Router.js"
import { Router } from "./http/Router.js"
import type { RateLimiter } from "./limits/RateLimiter.js"
import { analyticsRoutes } from "./routes/analytics.js"
import { correctionRoutes } from "./routes/corrections.js"
import { erasureRoutes } from "./routes/erasures.js"
import { eventRoutes } from "./routes/events.js"
import { groupRoutes } from "./routes/groups.js"
import { mergedHealthRoutes, mergedReadRoutes } from "./routes/mergedReads.js"
import { openApiRoutes } from "./routes/openapi.js"
import { rulesRoutes } from "./routes/rules.js"
import { shareRoutes } from "./routes/shares.js"
import { settingsRoute, userRoutes } from "./routes/users.js"
import type { us_listen_socket } from "./Uws.js"
import { assertNativeUws, uWS } from "./Uws.js"
import { holdAnchor } from "./ws/Anchor.js"
import type { MergedSockets, MergedSocketsOptions } from "./ws/MergedSockets.js"
import { mountMergedSockets } from "./ws/MergedSockets.js"

export interface MergedGatewayOptions {
  readonly reads: MergedReadsPort
  readonly host: string
  readonly port: number
  /** Seconds a client should wait when a partition has no owner (about the lease TTL). */
  readonly retryAfterS: number
  readonly log: { readonly warn: (m: string) => void }
  /**
   * The single process's Router deps (http/Router.ts): the per-IP limit, the token (`auth`), the
   * per-token limit (every route but the probes), the body limit of the routes that take one, and
   * CORS (none when absent); the per-IP limit also on WebSocket upgrades.
   */
  readonly admission: {
    readonly auth: Authenticator
    readonly bodyLimitBytes: number
    readonly ipLimiter: RateLimiter
    readonly tokenLimiter: RateLimiter
    /** X-Forwarded-For's first hop is the client (behind a trusted proxy only). */
    readonly trustProxy: boolean
    /** Allowed CORS origins (`*` for any); absent: none. */
    readonly corsOrigins?: ReadonlyArray<string>
  }
  /**
   * POST /v1/corrections (admin), PUT /v1/users/{id}/settings, DELETE /v1/users/{id} (self or
   * admin) and GET /v1/erasures/{id}: the single process's routes over ports that publish to the
   * user's partition (an erasure: its durable record). Absent: 501.
   */
  readonly writes?: {
    readonly corrections: CorrectionsPort
    readonly settings: SettingsPort
    readonly erasures: ErasurePort
  }
  /** POST /v1/events; absent: it answers 501 like the other unserved routes. */
  readonly ingest?: IngestPort
  /**
   * The analytics routes (GET /v1/analytics/dashboards[/{name}], POST /v1/analytics/sql, admin)
   * over the shared ClickHouse the processors write (CLICKHOUSE_URL=http(s)://…); the single
   * process's routes, token check and limits. Absent: 501.
   */
  readonly analytics?: AnalyticsRoutesPort
  /**
   * GET /v1/users/{id}/ledger (owner or admin) from the same shared ClickHouse; the single process's
   * route, token check and limits. Absent (no ClickHouse server): 501 naming why.
   */
  readonly ledger?: (userId: string, limit: number, beforeSeq: number | null) => Promise<LedgerPage>
  /** /v1/shares… (Postgres only): the single process's routes. Absent: 501. */
  readonly shares?: ShareStore
  /** GET /v1/rules and GET /v1/achievements (the recorded rules history, from Postgres). Absent: 501. */
  readonly rules?: RulesPort
  /** With `rules`: POST /v1/rules/dry-run and GET /v1/rules/dry-run/{id} (jobs recorded in Postgres). Absent: 501. */
  readonly dryRuns?: DryRunPort
  /**
   * /v1/groups/{id} (the single process's routes, token check and limits) and the group boards
   * `group:<id>` on the board reads, over the group store (Postgres). Absent: 501.
   */
  readonly groups?: GroupsPort
  /**
   * The WebSocket feeds on this gateway's app (ws/MergedSockets.ts): /ws/leaderboard/{board}, its
   * around-me feed and /ws/users/{user_id}; absent (or a part of it): those upgrades answer 501.
   */
  readonly sockets?: MergedSocketsOptions
}

export interface RunningMergedGateway {
  readonly port: number
  /** Live WebSocket state (none without `sockets`), for tests and diagnostics. */
  readonly stats: () => { connections: number; topics: number; lingering: number; ringBytes: number } | null
  readonly close: () => Promise<void>
}

/** A uWS pattern as a path test (a parameter is one non-empty segment). */
const patternRe = (pattern: string): RegExp => new RegExp(`^${pattern.replace(/:[a-z_]+/g, "[^/]+")}$`)

export const startMergedGateway = async (o: MergedGatewayOptions): Promise<RunningMergedGateway> => {
  assertNativeUws()
  const { reads, admission } = o
  const onError = (e: unknown, where: string) => o.log.warn(`partitioned gateway: ${where}: ${e instanceof Error ? e.message : String(e)}`)
  const clickhouse = o.analytics !== undefined
  const app = uWS.App()
  const router = new Router(app, {
    auth: admission.auth, ipLimiter: admission.ipLimiter, tokenLimiter: admission.tokenLimiter,
    corsOrigins: admission.corsOrigins ?? [], bodyLimitBytes: admission.bodyLimitBytes, trustProxy: admission.trustProxy, onError
  })
  // The feeds first, as Gateway.ts: the Router's catch-all goes last.
  const sockets: MergedSockets | null = o.sockets === undefined ? null : mountMergedSockets(app, router, admission, o.sockets)

  /** A partition without an owner: 503 with Retry-After (about the lease TTL), on every route. */
  const guarded = (h: Handler): Handler => async (req) => {
    try {
      return await h(req)
    } catch (e) {
      if (isPartitionsUnavailable(e)) throw new ApiError(503, "partition_unavailable", e.message, [], { "Retry-After": String(o.retryAfterS) })
      throw e
    }
  }
  const notServedHere = (path: string): ApiError => notServed(path, clickhouse)
  const routes: ReadonlyArray<Route> = [
    ...mergedReadRoutes({ reads, groups: o.groups, notServed: notServedHere }),
    ...mergedHealthRoutes(reads),
    ...openApiRoutes(),
    ...(o.ingest === undefined ? [] : eventRoutes(o.ingest, onError)),
    // Writes routed to their user's partition (corrections, settings, erasures; ARCHITECTURE §9).
    ...(o.writes === undefined ? [] : [...correctionRoutes(o.writes.corrections), settingsRoute(o.writes.settings, onError), ...erasureRoutes(o.writes.erasures)]),
    ...(o.analytics === undefined ? [] : analyticsRoutes(o.analytics)),
    // The ledger's route alone (the profile is this server's merged read); the state check is ClickHouse's own.
    ...(o.ledger === undefined ? [] : userRoutes({ unavailable: () => null, profile: () => null, ledger: o.ledger }).filter((r) => r.pattern === "/v1/users/:user_id/ledger")),
    ...(o.shares === undefined ? [] : shareRoutes(o.shares)),
    // No RulesApplyPort here, so apply is not mounted (501 below).
    ...(o.rules === undefined ? [] : rulesRoutes(o.rules, o.dryRuns)),
    ...(o.groups === undefined ? [] : groupRoutes(o.groups))
  ]
  for (const r of routes) router.add({ ...r, handler: guarded(r.handler) })
  // No route: a feed's path this app serves is the single process's 426 (not an upgrade); any
  // other path says what this mode serves (501).
  const feeds = (sockets?.patterns ?? []).map(patternRe)
  router.finish((_method, path) => {
    if (feeds.some((re) => re.test(path))) return null
    if (path.startsWith("/ws/")) {
      return new ApiError(501, "not_implemented", `${path} is not served by --role gateway yet: partitioned mode serves /ws/leaderboard/{board}, its around-me feed and /ws/users/{user_id} (docs/scaling.md)`)
    }
    return notServedHere(path)
  })

  let stopAnchor = (): void => undefined
  let listenSocket: us_listen_socket | false = false
  try {
    // The cork anchor opens before clients can connect (ws/Anchor.ts).
    if (sockets !== null) stopAnchor = await holdAnchor(app, sockets.anchors, (m) => o.log.warn(m))
    listenSocket = await new Promise<us_listen_socket | false>((resolve) => app.listen(o.host, o.port, resolve))
    if (listenSocket === false) throw new Error(`partitioned gateway could not listen on ${o.host}:${o.port} (address in use?)`)
  } catch (e) {
    stopAnchor()
    ;(app as unknown as { close(): void }).close()
    sockets?.stop()
    throw e
  }
  const ls = listenSocket
  let closed: Promise<void> | null = null
  return {
    port: uWS.us_socket_local_port(ls),
    stats: () => sockets?.stats() ?? null,
    close: () => {
      closed ??= (async () => {
        stopAnchor()
        uWS.us_listen_socket_close(ls)
        // App.close() force-closes every remaining socket (HTTP keep-alive and WebSocket); their
        // close handlers still run, so the hub and limits are released before the hub stops.
        ;(app as unknown as { close(): void }).close()
        await new Promise((r) => setImmediate(r))
        sockets?.stop()
      })()
      return closed
    }
  }
}

/** The 501 of a route this role does not serve, saying why and naming docs/scaling.md. */
const notServed = (path: string, clickhouse: boolean): ApiError => {
  const why = /^\/v1\/rules\/apply(\/|$)/.test(path)
    ? "rules applies are not built in partitioned mode (they need re-projections, which partitioned mode does not build); GET /v1/rules and the rules dry runs are served"
    : /^\/v1\/rules\/dry-run(\/|$)/.test(path)
    ? "this gateway was started without rules dry runs"
    : !clickhouse && (/^\/v1\/users\/[^/]+\/ledger$/.test(path) || path.startsWith("/v1/analytics/"))
    ? "partitioned mode reads ledgers and analytics from a shared ClickHouse server, and this gateway has none (set CLICKHOUSE_URL=http(s)://…, the server the processors write)"
    : "partitioned mode serves board pages (group boards included), ranks, profiles, ledgers, shares, rules, groups, readiness and the routed writes"
  return new ApiError(501, "not_implemented", `${path} is not served by --role gateway: ${why} (docs/scaling.md)`)
}
