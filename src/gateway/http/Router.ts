// Routes on top of uWS: per request it captures what the handler needs (uWS's req dies when the
// callback returns), rate-limits by IP and token, authenticates, reads the body, runs the handler,
// and answers corked. Also the 404 catch-all, 405 with Allow per route, and CORS preflights. The
// same logic serves requests a WS worker thread forwards (`dispatch`, with its own route matching).
import type { Authenticator, Principal } from "../auth/Auth.js"
import type { RateLimiter } from "../limits/RateLimiter.js"
import type { HttpRequest, HttpResponse, TemplatedApp } from "../Uws.js"
import { registry } from "../../observability/Metrics.js"
import { ApiError, methodNotAllowed, notFound, rateLimited } from "./ApiError.js"
import type { Exchange } from "./Exchange.js"
import { captureHead, clientIpOf, uwsExchange } from "./Exchange.js"
import type { Reply } from "./Http.js"
import { INTERNAL, bodyRefusalClose, errorReply, hasBody, parseJsonBody } from "./Http.js"
import { RouteTable } from "./RouteTable.js"

export interface Req {
  readonly method: string
  readonly path: string
  readonly query: URLSearchParams
  /** Raw (percent-encoded) path parameters in pattern order. */
  readonly params: ReadonlyArray<string>
  readonly ip: string
  readonly principal: Principal | null
  /** The parsed JSON body (routes declared with `body: true`), else undefined. */
  readonly body: unknown
}

export type Handler = (req: Req) => Reply | Promise<Reply>

export interface Route {
  readonly method: "get" | "post" | "put" | "patch" | "delete"
  readonly pattern: string
  /** Metric label; defaults to the pattern. */
  readonly name?: string
  readonly body?: boolean
  /** Health and metrics endpoints are exempt so probes never get 429. */
  readonly rateLimited?: boolean
  /** Checked before the body is read: throw 401/403 here so unauthorized bodies are never parsed. */
  readonly authorize?: (principal: Principal | null) => void
  readonly handler: Handler
}

export interface RouterDeps {
  readonly auth: Authenticator
  readonly ipLimiter: RateLimiter
  readonly tokenLimiter: RateLimiter
  readonly corsOrigins: ReadonlyArray<string>
  readonly bodyLimitBytes: number
  readonly trustProxy: boolean
  readonly onError: (e: unknown, where: string) => void
}

const requests = registry.counter("arena_http_requests_total", "HTTP requests answered, by route and status")
const duration = registry.histogram("arena_http_request_duration_seconds", "HTTP request handling time, by route",
  [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5])
const limited = registry.counter("arena_http_rate_limited_total", "Requests answered 429, by limiter")

const COMMON: ReadonlyArray<readonly [string, string]> = [["X-Content-Type-Options", "nosniff"]]

/** The headers every reply carries, plus CORS ones (no copy when there are none: the usual case). */
const withCommon = (cors: ReadonlyArray<readonly [string, string]>): ReadonlyArray<readonly [string, string]> =>
  cors.length === 0 ? COMMON : [...COMMON, ...cors]

export class Router {
  private readonly table = new RouteTable<Route>()
  /** The answer to a request no route matches (finish's `fallback`); null: the 426/404 below. */
  private fallback: (method: string, path: string) => ApiError | null = () => null
  /** The client address (X-Forwarded-For's first hop only when the proxy is trusted). */
  readonly clientIp: (res: HttpResponse, req: HttpRequest) => string

  /** `app` is null when no connection lands on this thread (all requests are forwarded). */
  constructor(private readonly app: TemplatedApp | null, private readonly deps: RouterDeps) {
    this.clientIp = clientIpOf(deps.trustProxy)
  }

  /** CORS response headers for an allowed Origin (none otherwise). */
  corsHeaders(origin: string): Array<readonly [string, string]> {
    const o = this.deps.corsOrigins
    if (origin === "" || o.length === 0) return []
    if (o.includes("*")) return [["Access-Control-Allow-Origin", "*"], ["Access-Control-Expose-Headers", "Retry-After, WWW-Authenticate"]]
    if (!o.includes(origin)) return []
    return [["Access-Control-Allow-Origin", origin], ["Vary", "Origin"], ["Access-Control-Expose-Headers", "Retry-After, WWW-Authenticate"]]
  }

  /** IP limit always; token limit once the token is known. null when allowed. */
  checkRate(key: string, limiter: RateLimiter, scope: string): ApiError | null {
    const d = limiter.hit(key)
    if (d.allowed) return null
    limited.inc({ limiter: scope })
    return rateLimited(d.retryAfterSeconds)
  }

  add(route: Route): this {
    this.table.add(route.pattern, route.method, route)
    const app = this.app
    if (app === null) return this
    const label = route.name ?? route.pattern
    const nParams = route.pattern.split("/").filter((s) => s.startsWith(":")).length
    const handler = (res: HttpResponse, req: HttpRequest): void => {
      const params: Array<string> = []
      for (let i = 0; i < nParams; i++) params.push(req.getParameter(i))
      this.handle(route, label, uwsExchange(res, captureHead(res, req, this.clientIp)), params)
    }
    switch (route.method) {
      case "get":
        app.get(route.pattern, handler)
        app.head(route.pattern, handler)
        break
      case "post": app.post(route.pattern, handler); break
      case "put": app.put(route.pattern, handler); break
      case "patch": app.patch(route.pattern, handler); break
      case "delete": app.del(route.pattern, handler); break
    }
    return this
  }

  /** A request whose connection is on another thread: route it as uWS would. */
  dispatch(ex: Exchange): void {
    const m = this.table.match(ex.path)
    if (m === null) return this.unrouted(ex)
    const route = m.methods.get(ex.method === "head" ? "get" : ex.method)
    if (route !== undefined) return this.handle(route, route.name ?? route.pattern, ex, m.params)
    const allow = this.allow(m.methods.keys())
    if (ex.method === "options") return this.preflight(ex, allow)
    this.fixed(ex, methodNotAllowed(allow), "405")
  }

  private handle(route: Route, label: string, ex: Exchange, params: ReadonlyArray<string>): void {
    const t0 = performance.now()
    const { method, path, ip, headers } = ex
    const query = new URLSearchParams(ex.query)
    const extra = withCommon(this.corsHeaders(headers.origin))
    const finish = (reply: Reply): void => {
      ex.reply(reply, extra, method === "head")
      requests.inc({ route: label, status: String(reply.status) })
      duration.observe((performance.now() - t0) / 1000, { route: label })
    }

    const early = route.rateLimited === false ? null : this.checkRate(`ip:${ip}`, this.deps.ipLimiter, "ip")
    // Refused before reading: a body (if any) is dropped first, so the close is no reset (Http.ts, LINGER_*).
    if (early !== null) {
      if (!hasBody(headers.contentLength, headers.transferEncoding)) return finish(errorReply(early))
      return void ex.dropBody().then((ended) => finish(errorReply(early, !ended)))
    }
    // Start reading now (uWS requirement); the limit check may reject before any byte is read.
    const bodyP = route.body === true ? ex.readBody(this.deps.bodyLimitBytes) : null
    let bodyRead = bodyP === null
    bodyP?.then(() => (bodyRead = true), () => undefined) // errors are handled below, after auth

    const run = async (): Promise<Reply> => {
      const principal = await this.deps.auth.authenticate(headers.authorization)
      if (principal !== null && route.rateLimited !== false) {
        const r = this.checkRate(`sub:${principal.sub}`, this.deps.tokenLimiter, "token")
        if (r !== null) throw r
      }
      route.authorize?.(principal)
      const body = bodyP === null ? undefined : parseJsonBody(headers.contentType, await bodyP)
      return route.handler({ method, path, query, params, ip, principal, body })
    }
    run().then(finish, (e: unknown) => {
      if (e instanceof ApiError) {
        // Refused before the whole body arrived (401, 403, 429, 413): answer once it has been read
        // or dropped, so the close is no reset that destroys the answer (Http.ts, LINGER_*).
        if (bodyP === null || bodyRead) return finish(errorReply(e))
        return void bodyP.then(() => finish(errorReply(e)), () => finish(errorReply(e, bodyRefusalClose(headers.contentLength))))
      }
      this.deps.onError(e, `${method.toUpperCase()} ${label}`)
      finish(errorReply(INTERNAL))
    })
  }

  private allow(methods: Iterable<string>): Array<string> {
    const set = [...methods].map((m) => m.toUpperCase())
    return [...set, ...(set.includes("GET") ? ["HEAD"] : []), "OPTIONS"]
  }

  /**
   * After all routes: 405 + Allow and OPTIONS (CORS preflight) per pattern, then the 404 catch-all
   * (426 under /ws/). `fallback` answers first where it returns an error (the partitioned
   * gateway's 501 for what it does not serve).
   */
  finish(fallback?: (method: string, path: string) => ApiError | null): void {
    if (fallback !== undefined) this.fallback = fallback
    const app = this.app
    if (app === null) return
    for (const [pattern, methods] of this.table.patterns()) {
      const allow = this.allow(methods)
      app.options(pattern, (res, req) => this.preflight(uwsExchange(res, captureHead(res, req, this.clientIp)), allow))
      app.any(pattern, (res, req) => this.fixed(uwsExchange(res, captureHead(res, req, this.clientIp)), methodNotAllowed(allow), "405"))
    }
    app.any("/*", (res, req) => this.unrouted(uwsExchange(res, captureHead(res, req, this.clientIp))))
  }

  private unrouted(ex: Exchange): void {
    const own = this.fallback(ex.method, ex.path)
    if (own !== null) return this.fixed(ex, own, String(own.status))
    if (ex.path.startsWith("/ws/")) {
      return this.fixed(ex, new ApiError(426, "upgrade_required", "this is a WebSocket endpoint", [], { Upgrade: "websocket" }), "426")
    }
    this.fixed(ex, notFound(`no route for ${ex.method.toUpperCase()} ${ex.path}`), "404")
  }

  private fixed(ex: Exchange, e: ApiError, label: string): void {
    const limitHit = this.checkRate(`ip:${ex.ip}`, this.deps.ipLimiter, "ip")
    const answer = (ended: boolean): void => {
      ex.reply(errorReply(limitHit ?? e, !ended), withCommon(this.corsHeaders(ex.headers.origin)), ex.method === "head")
      requests.inc({ route: label, status: String((limitHit ?? e).status) })
    }
    // A body may follow (e.g. POST to an unknown route): drop it first (Http.ts, LINGER_*).
    if (!hasBody(ex.headers.contentLength, ex.headers.transferEncoding)) return answer(true)
    void ex.dropBody().then(answer)
  }

  private preflight(ex: Exchange, allow: ReadonlyArray<string>): void {
    const cors = this.corsHeaders(ex.headers.origin)
    const headers: Record<string, string> = { Allow: allow.join(", ") }
    if (cors.length > 0) {
      headers["Access-Control-Allow-Methods"] = allow.join(", ")
      headers["Access-Control-Allow-Headers"] = "Authorization, Content-Type"
      headers["Access-Control-Max-Age"] = "600"
    }
    ex.reply({ status: 204, body: "", contentType: "text/plain", headers }, withCommon(cors), false)
  }
}
