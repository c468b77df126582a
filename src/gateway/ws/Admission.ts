// WebSocket admission on the main thread, whichever thread holds the socket: rate limit, query
// validation (before any socket exists), token check for /ws/users, and connection limits. An
// admitted socket holds its slot from here until `release` (closed, or never opened).
import type { Window } from "../../domain/Model.js"
import type { Authenticator } from "../auth/Auth.js"
import { requireOwner } from "../auth/Auth.js"
import { ApiError, missingToken } from "../http/ApiError.js"
import type { Reply } from "../http/Http.js"
import { errorReply } from "../http/Http.js"
import { Params, decodeSegment } from "../http/Params.js"
import type { WsConfig } from "../GatewayConfig.js"
import type { LeaderboardPort } from "../../ports/ReadModel.js"
import type { ConnLimits, WsRoute } from "./ConnLimits.js"
import { refusalError } from "./ConnLimits.js"
import type { ConnSpec } from "./HostLink.js"

const EPOCH = /^[A-Za-z0-9_.-]{1,64}$/
const SEQ = /^(0|[1-9]\d{0,15})$/
/** Around-me radius bound, as GET /v1/leaderboards/{board}/users/{user_id} (routes/leaderboards.ts). */
export const MAX_RADIUS = 50

/** An upgrade request as captured on the socket's thread (uWS's req dies with its callback). */
export interface UpgradeRequest {
  readonly ip: string
  readonly origin: string
  /** The raw path parameter: board, or user id. */
  readonly param: string
  /** /ws/leaderboard/{board}/around/{user_id}: the raw user id (absent on the other routes). */
  readonly aroundUser?: string | undefined
  readonly query: string
  readonly authorization: string
  readonly protocols: string
}

export interface Refusal {
  readonly reply: Reply
  readonly extra: ReadonlyArray<readonly [string, string]>
}

export type Admit<T> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly refusal: Refusal }

export interface AdmissionGuards {
  /** null when allowed. */
  rateLimit(ip: string): ApiError | null
  corsHeaders(origin: string): Array<readonly [string, string]>
}

/** `bearer, <jwt>` → the jwt; the protocol answered back is `bearer`. */
export const protocolToken = (header: string): string => {
  const parts = header.split(",").map((s) => s.trim())
  const i = parts.indexOf("bearer")
  return i >= 0 && i + 1 < parts.length ? parts[i + 1]! : ""
}

export class Admission {
  constructor(
    private readonly lb: LeaderboardPort,
    private readonly auth: Authenticator,
    private readonly limits: ConnLimits,
    private readonly guards: AdmissionGuards,
    private readonly cfg: WsConfig
  ) {}

  leaderboard(req: UpgradeRequest): Admit<ConnSpec> {
    const limited = this.guards.rateLimit(req.ip)
    if (limited !== null) return this.refuse(limited, req)
    let spec: ConnSpec
    try {
      const aroundMe = req.aroundUser !== undefined
      const p = new Params(new URLSearchParams(req.query), ["window", "period", aroundMe ? "radius" : "limit", "since", "epoch"])
      const board = p.board(decodeSegment(req.param, "path.board"))
      const user = aroundMe ? p.userId(decodeSegment(req.aroundUser, "path.user_id")) : ""
      const window: Window = p.window()
      const explicit = p.period(window)
      // Around-me: `radius` ranks each side (the REST around-me bounds); its window is 2·radius+1 long.
      const radius = aroundMe ? p.int("radius", 0, MAX_RADIUS, 5) : 0
      const limit = aroundMe ? 2 * radius + 1 : p.int("limit", 1, this.cfg.maxLimit, 100)
      const since = p.str("since"), epoch = p.str("epoch")
      if (since !== undefined && !SEQ.test(since)) p.issue("query.since", "must be a non-negative integer (a seq you received)")
      if (epoch !== undefined && !EPOCH.test(epoch)) p.issue("query.epoch", "must be an epoch you received")
      if ((since === undefined) !== (epoch === undefined)) p.issue(since === undefined ? "query.since" : "query.epoch", "since and epoch go together")
      p.check()
      spec = {
        board, window, limit, follow: explicit === undefined, period: explicit ?? this.lb.currentPeriod(window),
        resume: since !== undefined && epoch !== undefined ? { since: Number(since), epoch } : null,
        ...(aroundMe ? { around: { user_id: user, radius } } : {})
      }
    } catch (e) {
      if (e instanceof ApiError) return this.refuse(e, req)
      throw e
    }
    return this.reserve(req, "leaderboard", spec)
  }

  async users(req: UpgradeRequest): Promise<Admit<{ readonly userId: string; readonly protocol: string }>> {
    const limited = this.guards.rateLimit(req.ip)
    if (limited !== null) return this.refuse(limited, req)
    try {
      const p = new Params(new URLSearchParams(req.query), ["token"])
      const userId = p.userId(decodeSegment(req.param, "path.user_id"))
      p.check()
      const token = p.str("token") ?? protocolToken(req.protocols)
      const principal = await this.auth.authenticate(req.authorization, token)
      if (principal === null) throw missingToken()
      requireOwner(principal, userId)
      return this.reserve(req, "users", { userId, protocol: protocolToken(req.protocols) !== "" ? "bearer" : "" })
    } catch (e) {
      return this.refuse(e instanceof ApiError ? e : new ApiError(500, "internal", "internal error"), req)
    }
  }

  /** The socket admitted for `ip` closed, or was never opened. */
  release(ip: string, route: WsRoute): void {
    this.limits.closed(ip, route)
  }

  private reserve<T>(req: UpgradeRequest, route: WsRoute, value: T): Admit<T> {
    const refused = this.limits.refuse(req.ip, route)
    if (refused !== null) return this.refuse(refusalError(refused), req)
    this.limits.opened(req.ip, route)
    return { ok: true, value }
  }

  private refuse(e: ApiError, req: UpgradeRequest): Admit<never> {
    return { ok: false, refusal: { reply: errorReply(e), extra: [["X-Content-Type-Options", "nosniff"], ...this.guards.corsHeaders(req.origin)] } }
  }
}
