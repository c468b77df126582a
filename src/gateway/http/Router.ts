// Routes on top of uWS: per request it captures what the handler needs (uWS's req dies when the
// callback returns), rate-limits by IP and token, authenticates, reads the body, runs the handler,
// and answers corked. Also the 404 catch-all, 405 with Allow per route, and CORS preflights.
import type { Authenticator, Principal } from "../auth/Auth.js"
import type { RateLimiter } from "../limits/RateLimiter.js"
import type { HttpRequest, HttpResponse, TemplatedApp } from "../uws.js"
import { remoteAddress } from "../uws.js"
import { registry } from "../../observability/Metrics.js"
import { ApiError, methodNotAllowed, notFound, rateLimited } from "./ApiError.js"
import type { Reply, ResState } from "./Http.js"
import { INTERNAL, errorReply, parseJsonBody, readBody, writeReply } from "./Http.js"

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
  readonly method: "get" | "post"
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

export class Router {
  private readonly methods = new Map<string, Set<string>>()

  constructor(private readonly app: TemplatedApp, private readonly deps: RouterDeps) {}

  /** The client address (X-Forwarded-For's first hop only when the proxy is trusted). */
  clientIp(res: HttpResponse, req: HttpRequest): string {
    if (this.deps.trustProxy) {
      const xff = req.getHeader("x-forwarded-for")
      if (xff !== "") return xff.split(",")[0]!.trim()
    }
    return remoteAddress(res)
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
    const set = this.methods.get(route.pattern) ?? new Set<string>()
    set.add(route.method.toUpperCase())
    this.methods.set(route.pattern, set)
    const label = route.name ?? route.pattern
    const handler = (res: HttpResponse, req: HttpRequest): void => this.handle(route, label, res, req)
    if (route.method === "get") {
      this.app.get(route.pattern, handler)
      this.app.head(route.pattern, handler)
    } else {
      this.app.post(route.pattern, handler)
    }
    return this
  }

  private handle(route: Route, label: string, res: HttpResponse, req: HttpRequest): void {
    const st: ResState = { aborted: false, done: false }
    res.onAborted(() => {
      st.aborted = true
    })
    const t0 = performance.now()
    const nParams = route.pattern.split("/").filter((s) => s.startsWith(":")).length
    const params: Array<string> = []
    for (let i = 0; i < nParams; i++) params.push(req.getParameter(i))
    const authorization = req.getHeader("authorization")
    const origin = req.getHeader("origin")
    const contentType = req.getHeader("content-type")
    const contentLength = req.getHeader("content-length")
    const method = req.getMethod()
    const path = req.getUrl()
    const query = new URLSearchParams(req.getQuery() ?? "")
    const ip = this.clientIp(res, req)
    const extra = [...COMMON, ...this.corsHeaders(origin)]
    const finish = (reply: Reply): void => {
      writeReply(res, st, reply, extra, method === "head")
      requests.inc({ route: label, status: String(reply.status) })
      duration.observe((performance.now() - t0) / 1000, { route: label })
    }

    const early = route.rateLimited === false ? null : this.checkRate(`ip:${ip}`, this.deps.ipLimiter, "ip")
    // Refused before reading: a request body (if any) stays unread, so close the connection.
    if (early !== null) return finish(errorReply(early, route.body === true))
    // Attach onData now (uWS requirement); the limit check may reject before any byte is read.
    const bodyP = route.body === true ? readBody(res, st, contentLength, this.deps.bodyLimitBytes) : null
    let bodyRead = bodyP === null
    bodyP?.then(() => (bodyRead = true), () => undefined) // errors are handled below, after auth

    const run = async (): Promise<Reply> => {
      const principal = await this.deps.auth.authenticate(authorization)
      if (principal !== null && route.rateLimited !== false) {
        const r = this.checkRate(`sub:${principal.sub}`, this.deps.tokenLimiter, "token")
        if (r !== null) throw r
      }
      route.authorize?.(principal)
      const body = bodyP === null ? undefined : parseJsonBody(contentType, await bodyP)
      return route.handler({ method, path, query, params, ip, principal, body })
    }
    run().then(finish, (e: unknown) => {
      if (e instanceof ApiError) {
        // An answer before the whole body arrived (413, 401, 429) leaves bytes unread: close.
        return finish(errorReply(e, !bodyRead))
      }
      this.deps.onError(e, `${method.toUpperCase()} ${label}`)
      finish(errorReply(INTERNAL))
    })
  }

  /** After all routes: 405 + Allow and OPTIONS (CORS preflight) per pattern, then the 404 catch-all. */
  finish(): void {
    for (const [pattern, set] of this.methods) {
      const allow = [...set, ...(set.has("GET") ? ["HEAD"] : []), "OPTIONS"]
      this.app.options(pattern, (res, req) => this.preflight(res, req, allow))
      this.app.any(pattern, (res, req) => this.fixed(res, req, methodNotAllowed(allow), "405"))
    }
    this.app.any("/*", (res, req) => {
      const url = req.getUrl()
      if (url.startsWith("/ws/")) {
        return this.fixed(res, req, new ApiError(426, "upgrade_required", "this is a WebSocket endpoint", [], { Upgrade: "websocket" }), "426")
      }
      this.fixed(res, req, notFound(`no route for ${req.getMethod().toUpperCase()} ${url}`), "404")
    })
  }

  private fixed(res: HttpResponse, req: HttpRequest, e: ApiError, label: string): void {
    const st: ResState = { aborted: false, done: false }
    res.onAborted(() => {
      st.aborted = true
    })
    const origin = req.getHeader("origin")
    const cl = req.getHeader("content-length")
    // A body may follow (e.g. POST to an unknown route): close rather than read it.
    const hasBody = (cl !== "" && cl !== "0") || req.getHeader("transfer-encoding") !== ""
    const limitHit = this.checkRate(`ip:${this.clientIp(res, req)}`, this.deps.ipLimiter, "ip")
    writeReply(res, st, errorReply(limitHit ?? e, hasBody), [...COMMON, ...this.corsHeaders(origin)], req.getMethod() === "head")
    requests.inc({ route: label, status: String((limitHit ?? e).status) })
  }

  private preflight(res: HttpResponse, req: HttpRequest, allow: ReadonlyArray<string>): void {
    const st: ResState = { aborted: false, done: false }
    res.onAborted(() => {
      st.aborted = true
    })
    const cors = this.corsHeaders(req.getHeader("origin"))
    const headers: Record<string, string> = { Allow: allow.join(", ") }
    if (cors.length > 0) {
      headers["Access-Control-Allow-Methods"] = allow.join(", ")
      headers["Access-Control-Allow-Headers"] = "Authorization, Content-Type"
      headers["Access-Control-Max-Age"] = "600"
    }
    writeReply(res, st, { status: 204, body: "", contentType: "text/plain", headers }, [...COMMON, ...cors])
  }
}
