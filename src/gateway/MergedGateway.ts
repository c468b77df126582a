// `arena serve --role gateway` in partitioned mode (ARCHITECTURE §9): a stateless HTTP server
// that answers board reads exactly by scatter-gather over the partitions' owners (MergedReadsPort).
// Built so far: GET /v1/leaderboards/{board} (keyset pages, same body as the single process),
// GET /v1/leaderboards/{board}/users/{user_id} (rank and around-me), GET /v1/users/{user_id}
// (the profile core from the user's partition, without merged ranks), GET /v1/partitions,
// /healthz, /readyz, and POST /v1/events (ingest: the single process's route, validation and
// publisher, each event to its user's `arena.xp.events.<user token>`). Everything else answers 501
// naming docs/scaling.md: WebSockets, ledgers and the rest of §6 are not served by this role yet.
// Reads are public-viewer reads (private rows anonymous); only ingest checks a token (events:write).
// Ingest has the single process's per-IP and per-token rate limits (429); reads have none, and
// there is no CORS on this server yet.
import * as http from "node:http"
import type { Window } from "../domain/Model.js"
import { periodResetsAt } from "../domain/Periods.js"
import { isPartitionsUnavailable } from "../ports/MergedReads.js"
import type { MergedReadsPort } from "../ports/MergedReads.js"
import type { BoardCursor } from "../ports/ReadModel.js"
import type { IngestPort } from "../ports/Ingest.js"
import type { Authenticator } from "./auth/Auth.js"
import { ApiError, methodNotAllowed, notFound, rateLimited, tooLarge } from "./http/ApiError.js"
import { parseJsonBody } from "./http/Http.js"
import type { Route } from "./http/Router.js"
import type { RateLimiter } from "./limits/RateLimiter.js"
import { eventRoutes } from "./routes/events.js"
import { decodeBoardCursor, encodeBoardCursor } from "./http/Cursor.js"
import { Params, decodeSegment } from "./http/Params.js"
import { publicRow } from "./protocol/Visibility.js"

export interface MergedGatewayOptions {
  readonly reads: MergedReadsPort
  readonly host: string
  readonly port: number
  /** Seconds a client should wait when a partition has no owner (about the lease TTL). */
  readonly retryAfterS: number
  readonly log: { readonly warn: (m: string) => void }
  /** POST /v1/events; absent: it answers 501 like the other unserved routes. */
  readonly ingest?: {
    readonly port: IngestPort
    readonly auth: Authenticator
    readonly bodyLimitBytes: number
    readonly ipLimiter: RateLimiter
    readonly tokenLimiter: RateLimiter
    /** X-Forwarded-For's first hop is the client (behind a trusted proxy only). */
    readonly trustProxy: boolean
  }
}

export interface RunningMergedGateway {
  readonly port: number
  readonly close: () => Promise<void>
}

type Reply = {
  readonly status: number
  readonly body: unknown
  readonly headers?: Readonly<Record<string, string>>
  /** A body already serialized (the single process's route replies); `body` is then ignored. */
  readonly raw?: string | Uint8Array
}

type Body = { readonly ok: true; readonly bytes: Buffer } | { readonly ok: false }

/**
 * The whole request body, or `ok: false` when it is (or announces) more than `limit` bytes: then
 * nothing is kept but the rest is still read and dropped, so the 413 is not lost to a reset.
 */
const readLimited = (req: http.IncomingMessage, limit: number): Promise<Body> =>
  new Promise((resolve, reject) => {
    const announced = req.headers["content-length"]
    let over = announced !== undefined && !(Number(announced) <= limit)
    let size = 0
    const chunks: Array<Buffer> = []
    req.on("data", (c: Buffer) => {
      size += c.length
      if (size > limit) { over = true; chunks.length = 0 }
      if (!over) chunks.push(c)
    })
    let ended = false
    req.once("end", () => {
      ended = true
      resolve(over ? { ok: false } : { ok: true, bytes: chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, size) })
    })
    // A client gone before the end: nothing is published (the answer goes nowhere).
    req.once("close", () => { if (!ended) resolve({ ok: false }) })
    req.once("error", reject)
  })

const window = (p: Params): Window => p.window() as Window

export const startMergedGateway = async (o: MergedGatewayOptions): Promise<RunningMergedGateway> => {
  const { reads } = o
  const ingest = o.ingest
  const onError = (e: unknown, where: string) => o.log.warn(`partitioned gateway: ${where}: ${e instanceof Error ? e.message : String(e)}`)
  // The single process's POST /v1/events: envelope checks, per-item validation, 202 with results.
  const events: Route | undefined = ingest === undefined ? undefined : eventRoutes(ingest.port, onError).find((r) => r.pattern === "/v1/events" && r.method === "post")
  /** POST /v1/events as the single process's router runs it: body read, token, scope, JSON, handler. */
  const postEvents = async (req: http.IncomingMessage, url: URL): Promise<Reply> => {
    if (ingest === undefined || events === undefined) {
      throw new ApiError(501, "not_implemented", "POST /v1/events is not served by this gateway (docs/scaling.md)")
    }
    const body = await readLimited(req, ingest.bodyLimitBytes)
    // The single process's order (http/Router.ts): IP limit, token, token limit, scope, body.
    const xff = ingest.trustProxy ? req.headers["x-forwarded-for"] : undefined
    const ip = typeof xff === "string" && xff !== "" ? xff.split(",")[0]!.trim() : req.socket.remoteAddress ?? ""
    const limit = (l: RateLimiter, key: string) => {
      const d = l.hit(key)
      if (!d.allowed) throw rateLimited(d.retryAfterSeconds)
    }
    limit(ingest.ipLimiter, `ip:${ip}`)
    const principal = await ingest.auth.authenticate(req.headers.authorization ?? "")
    if (principal !== null) limit(ingest.tokenLimiter, `sub:${principal.sub}`)
    events.authorize?.(principal)
    if (!body.ok) throw new ApiError(413, "payload_too_large", tooLarge(ingest.bodyLimitBytes).message, [], { Connection: "close" })
    const parsed = parseJsonBody(req.headers["content-type"] ?? "", body.bytes)
    const r = await events.handler({ method: "post", path: url.pathname, query: url.searchParams, params: [], ip, principal, body: parsed })
    return { status: r.status, body: null, raw: r.body, headers: r.headers }
  }
  const route = async (method: string, url: URL, req: http.IncomingMessage): Promise<Reply> => {
    if (url.pathname === "/v1/events") {
      if (method !== "POST") throw methodNotAllowed(["POST"])
      return postEvents(req, url)
    }
    if (method !== "GET") throw new ApiError(405, "method_not_allowed", `${method} is not served by the partitioned gateway`, [], { Allow: "GET" })
    const path = url.pathname
    const q = url.searchParams
    if (path === "/healthz") return { status: 200, body: { ok: true } }
    if (path === "/v1/partitions" || path === "/readyz") {
      const states = await reads.states()
      const waiting = states.filter((s) => s.phase !== "ready").map((s) => s.partition)
      if (path === "/v1/partitions") return { status: 200, body: { partitions: states } }
      return waiting.length === 0
        ? { status: 200, body: { ready: true, partitions: reads.partitions, seq: Math.max(0, ...states.map((s) => s.applied)) } }
        : { status: 503, body: { ready: false, reasons: [`partitions ${waiting.join(", ")} are replaying`] }, headers: { "Retry-After": "1" } }
    }
    let m = /^\/v1\/leaderboards\/([^/]+)$/.exec(path)
    if (m !== null) {
      const p = new Params(q, ["window", "period", "limit", "cursor"])
      const board = p.board(decodeSegment(m[1]!, "path.board"))
      const w = window(p)
      const period = p.period(w) ?? null
      const limit = p.int("limit", 1, 1000, 100)
      const raw = p.str("cursor")
      let after: BoardCursor | null = null
      if (raw !== undefined) {
        after = decodeBoardCursor(raw)
        if (after === null) p.issue("query.cursor", "is not a cursor returned by this API")
      }
      p.check()
      const page = await reads.page(board, w, period, after, limit)
      const last = page.entries[page.entries.length - 1]
      const more = last !== undefined && page.entries.length === limit && last.rank < page.total
      return {
        status: 200,
        body: {
          board, window: w, period: page.key.period, resets_at: periodResetsAt(w, page.key.period), seq: page.seq, total: page.total,
          entries: page.entries.map(publicRow), next_cursor: more ? encodeBoardCursor({ xp: last.xp, seq: last.reached_seq }) : null
        }
      }
    }
    m = /^\/v1\/leaderboards\/([^/]+)\/users\/([^/]+)$/.exec(path)
    if (m !== null) {
      const p = new Params(q, ["window", "period", "radius"])
      const board = p.board(decodeSegment(m[1]!, "path.board"))
      const userId = p.userId(decodeSegment(m[2]!, "path.user_id"))
      const w = window(p)
      const period = p.period(w) ?? null
      const radius = p.int("radius", 0, 50, 5)
      p.check()
      const r = await reads.around(board, w, period, userId, radius)
      if (r.user === null || r.user.private === true) throw notFound(`user ${userId} has no rank on ${board} (window=${w}, period=${r.key.period})`)
      return {
        status: 200,
        body: { board, window: w, period: r.key.period, resets_at: periodResetsAt(w, r.key.period), seq: r.seq, total: r.total, user: publicRow(r.user), entries: r.entries.map(publicRow) }
      }
    }
    m = /^\/v1\/users\/([^/]+)$/.exec(path)
    if (m !== null) {
      const p = new Params(q, [])
      const userId = p.userId(decodeSegment(m[1]!, "path.user_id"))
      p.check()
      const profile = await reads.profile(userId)
      if (profile === null) throw notFound(`no user ${userId}`)
      return { status: 200, body: profile }
    }
    throw new ApiError(501, "not_implemented", `${path} is not served by --role gateway yet: partitioned mode serves board pages, ranks, profiles and readiness (docs/scaling.md)`)
  }

  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? "/", "http://gateway")
    void route(req.method ?? "GET", url, req).then(
      (r) => send(res, r),
      (e: unknown) => {
        if (e instanceof ApiError) return send(res, { status: e.status, body: e.toJSON(), headers: e.headers })
        if (isPartitionsUnavailable(e)) {
          return send(res, { status: 503, body: { error: { code: "partition_unavailable", message: e.message, details: [] } }, headers: { "Retry-After": String(o.retryAfterS) } })
        }
        onError(e, url.pathname)
        send(res, { status: 500, body: { error: { code: "internal", message: "internal error", details: [] } } })
      }
    )
  })
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject)
    server.listen(o.port, o.host, () => { server.off("error", reject); resolve() })
  })
  const addr = server.address()
  return {
    port: typeof addr === "object" && addr !== null ? addr.port : o.port,
    close: () => new Promise<void>((resolve) => { server.closeAllConnections(); server.close(() => resolve()) })
  }
}

const send = (res: http.ServerResponse, r: Reply): void => {
  const body = r.raw ?? JSON.stringify(r.body)
  res.writeHead(r.status, { "content-type": "application/json", "content-length": Buffer.byteLength(body), ...(r.headers ?? {}) })
  res.end(body)
}
