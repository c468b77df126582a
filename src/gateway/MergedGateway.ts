// `arena serve --role gateway` in partitioned mode (ARCHITECTURE §9): a stateless HTTP server
// that answers board reads exactly by scatter-gather over the partitions' owners (MergedReadsPort).
// Built so far: GET /v1/leaderboards/{board} (keyset pages, same body as the single process),
// GET /v1/leaderboards/{board}/users/{user_id} (rank and around-me), GET /v1/users/{user_id}
// (the profile core from the user's partition, without merged ranks), GET /v1/partitions,
// /healthz, /readyz, POST /v1/events (ingest: the single process's route, validation and
// publisher, each event to its user's `arena.xp.events.<user token>`), and the live board feed
// /ws/leaderboard/{board} (`upgrade`: ws/MergedSockets.ts, the single process's frames over the
// board mergers' chains) with its around-me feed /ws/leaderboard/{board}/around/{user_id}, and /ws/users/{user_id} (notifications from
// the users' partition owners). Writes routed with their user (`writes`): POST /v1/corrections (admin),
// PUT /v1/users/{id}/settings (self or admin) run the single process's route code over ports that
// publish to the user's partition subject (`arena.xp.p.<k>.$corrections|$settings`);
// DELETE /v1/users/{id} (self or admin) and GET /v1/erasures/{id} the single process's erasure
// routes over the durable record the user's partition's owner runs (actors/PartitionedErasures.ts).
// Also the single process's route code for
// GET /v1/users/{id}/ledger (owner or admin; from the shared ClickHouse, without a server 501 as
// /v1/analytics), /v1/shares… (Postgres) and GET /v1/rules, GET /v1/achievements (the recorded
// history from Postgres), and /v1/groups/{id} (PUT, GET, DELETE: the single process's routes over
// the Postgres group store, read on each request) with the group boards `group:<id>` on the two
// board reads above: the members' global scores merged exactly over the partitions they live on
// (MergedReadsPort.groupPage/groupAround); their live feeds are ws/MergedSockets.ts's.
// Everything else answers 501 naming docs/scaling.md: rules applies (re-projections are not built
// in this mode) and the rest of §6. Rules dry runs are the single process's routes over jobs in Postgres.
// Reads of boards and profiles are public-viewer reads (private rows anonymous; a private profile
// only to its user and admin). Every route but /healthz and /readyz goes through the single
// process's admission (`admit`: per-IP limit, token, per-token limit; 429 with Retry-After, 401 for
// a bad token), the merged reads too (one costs up to P partition requests); the probes check a
// token but are never limited, as health.ts's routes. There is no CORS on this server yet.
import * as http from "node:http"
import type { Duplex } from "node:stream"
import type { Window } from "../domain/Model.js"
import { periodResetsAt } from "../domain/Periods.js"
import { isPartitionsUnavailable } from "../ports/MergedReads.js"
import type { MergedReadsPort } from "../ports/MergedReads.js"
import type { BoardCursor } from "../ports/ReadModel.js"
import type { IngestPort } from "../ports/Ingest.js"
import type { Authenticator, Principal } from "./auth/Auth.js"
import { ApiError, methodNotAllowed, notFound, rateLimited, tooLarge } from "./http/ApiError.js"
import { parseJsonBody } from "./http/Http.js"
import { clientIpOfRequest } from "./http/Exchange.js"
import type { Route } from "./http/Router.js"
import type { RateLimiter } from "./limits/RateLimiter.js"
import { eventRoutes } from "./routes/events.js"
import { analyticsRoutes } from "./routes/analytics.js"
import type { AnalyticsRoutesPort } from "../ports/AnalyticsQueries.js"
import { correctionRoutes } from "./routes/corrections.js"
import { erasureRoutes } from "./routes/erasures.js"
import { settingsRoute, userRoutes } from "./routes/users.js"
import { shareRoutes } from "./routes/shares.js"
import { rulesRoutes } from "./routes/rules.js"
import { groupRoutes, groupsUnavailable } from "./routes/groups.js"
import type { GroupsPort } from "../ports/Groups.js"
import { GroupStoreUnavailable } from "../ports/Groups.js"
import { groupIdOf } from "../domain/BoardKeys.js"
import type { ShareStore } from "../ports/Shares.js"
import type { DryRunPort } from "../ports/DryRuns.js"
import type { LedgerPage, RulesPort } from "../ports/ReadModel.js"
import type { CorrectionsPort } from "../ports/Corrections.js"
import type { ErasurePort } from "../ports/Erasures.js"
import type { SettingsPort } from "../ports/Settings.js"
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
  /**
   * The single process's admission (http/Router.ts `handle`) on every route but /healthz and
   * /readyz: the per-IP limit, the token (`auth`), the per-token limit, and the body limit of the
   * routes that take one.
   */
  readonly admission: {
    readonly auth: Authenticator
    readonly bodyLimitBytes: number
    readonly ipLimiter: RateLimiter
    readonly tokenLimiter: RateLimiter
    /** X-Forwarded-For's first hop is the client (behind a trusted proxy only). */
    readonly trustProxy: boolean
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
  /** WebSocket upgrades (the live board feed, ws/MergedSockets.ts); absent: upgrades are refused. */
  readonly upgrade?: (req: http.IncomingMessage, socket: Duplex, head: Buffer) => void
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

/** Counts one request against `l` for `key`: 429 with Retry-After past the limit. */
const limit = (l: RateLimiter, key: string): void => {
  const d = l.hit(key)
  if (!d.allowed) throw rateLimited(d.retryAfterSeconds)
}

export const startMergedGateway = async (o: MergedGatewayOptions): Promise<RunningMergedGateway> => {
  const { reads, admission } = o
  const onError = (e: unknown, where: string) => o.log.warn(`partitioned gateway: ${where}: ${e instanceof Error ? e.message : String(e)}`)
  // The single process's POST /v1/events: envelope checks, per-item validation, 202 with results.
  const events: Route | undefined = o.ingest === undefined ? undefined : eventRoutes(o.ingest, onError).find((r) => r.pattern === "/v1/events" && r.method === "post")
  /** POST /v1/events as the single process's router runs it: body read, token, scope, JSON, handler. */
  const postEvents = async (req: http.IncomingMessage, url: URL): Promise<Reply> => {
    if (events === undefined) throw new ApiError(501, "not_implemented", "POST /v1/events is not served by this gateway (docs/scaling.md)")
    return serveRoute(events, req, url, [])
  }
  /**
   * The single process's admission (http/Router.ts `handle`): the per-IP limit, then the token
   * (a bad one is 401) and, for a token, the per-token limit; 429 with Retry-After past either.
   * `limited: false` is a probe's (health.ts `rateLimited: false`): the token alone.
   */
  const admit = async (req: http.IncomingMessage, limited = true): Promise<{ readonly ip: string; readonly principal: Principal | null }> => {
    const ip = clientIpOfRequest(req, admission.trustProxy)
    if (limited) limit(admission.ipLimiter, `ip:${ip}`)
    const principal = await admission.auth.authenticate(req.headers.authorization ?? "")
    if (principal !== null && limited) limit(admission.tokenLimiter, `sub:${principal.sub}`)
    return { ip, principal }
  }
  /** A single-process route as its router runs it: body (when it takes one), IP limit, token, token limit, scope, handler. */
  const serveRoute = async (r: Route, req: http.IncomingMessage, url: URL, params: ReadonlyArray<string>): Promise<Reply> => {
    // Read (or dropped, past the limit) before any refusal, so a 401/429 is not lost to a reset.
    const body = r.body === true ? await readLimited(req, admission.bodyLimitBytes) : null
    const { ip, principal } = await admit(req)
    r.authorize?.(principal)
    if (body !== null && !body.ok) throw new ApiError(413, "payload_too_large", tooLarge(admission.bodyLimitBytes).message, [], { Connection: "close" })
    const parsed = body === null ? undefined : parseJsonBody(req.headers["content-type"] ?? "", body.bytes)
    const out = await r.handler({ method: r.method, path: url.pathname, query: url.searchParams, params, ip, principal, body: parsed })
    return { status: out.status, body: null, raw: out.body, headers: out.headers }
  }
  // --- writes routed to their user's partition (corrections, settings, erasures; ARCHITECTURE §9) ---
  const writes = (o.writes === undefined ? [] : [
    ...correctionRoutes(o.writes.corrections),
    settingsRoute(o.writes.settings, onError),
    ...erasureRoutes(o.writes.erasures)
  ]).concat(o.analytics === undefined ? [] : analyticsRoutes(o.analytics))
    // The ledger's route alone (the profile is this server's merged read); the state check is ClickHouse's own.
    .concat(o.ledger === undefined ? [] : userRoutes({ unavailable: () => null, profile: () => null, ledger: o.ledger }).filter((r) => r.pattern === "/v1/users/:user_id/ledger"))
    .concat(o.shares === undefined ? [] : shareRoutes(o.shares))
    // No RulesApplyPort here, so apply is not mounted (501 below).
    .concat(o.rules === undefined ? [] : rulesRoutes(o.rules, o.dryRuns))
    .concat(o.groups === undefined ? [] : groupRoutes(o.groups))
    .map((r) => ({ r, re: new RegExp(`^${r.pattern.replace(/:[a-z_]+/g, "([^/]+)")}$`) }))
  /** The write route for this method and path, with its raw path parameters; 405 when only the method is wrong. */
  const writeRoute = (method: string, path: string): { readonly route: Route; readonly params: ReadonlyArray<string> } | null => {
    const allowed: Array<string> = []
    for (const { r, re } of writes) {
      const m = re.exec(path)
      if (m === null) continue
      if (r.method.toUpperCase() === method) return { route: r, params: m.slice(1) }
      allowed.push(r.method.toUpperCase())
    }
    // GET /v1/users/{id} is a read of this server: only the other methods are refused here.
    if (allowed.length > 0 && method !== "GET") throw methodNotAllowed(/^\/v1\/users\/[^/]+$/.test(path) ? ["GET", ...allowed] : allowed)
    return null
  }
  // --- end of routed writes ---
  /**
   * The members of group board `board` (null: not a group board), read from the store on each
   * request as the single process reads its registry; a group that does not exist has none (`missing`).
   */
  const groupOf = async (board: string, path: string): Promise<{ readonly members: ReadonlyArray<string>; readonly missing: boolean } | null> => {
    const id = groupIdOf(board)
    if (id === null) return null
    if (o.groups === undefined) throw notServed(path, o.analytics !== undefined)
    const g = await Promise.resolve(o.groups.get(id)).catch((e: unknown) => { throw e instanceof GroupStoreUnavailable ? groupsUnavailable() : e })
    return g === null ? { members: [], missing: true } : { members: g.members, missing: false }
  }
  const route = async (method: string, url: URL, req: http.IncomingMessage): Promise<Reply> => {
    if (url.pathname === "/v1/events") {
      if (method !== "POST") throw methodNotAllowed(["POST"])
      return postEvents(req, url)
    }
    const w = writeRoute(method, url.pathname)
    if (w !== null) return serveRoute(w.route, req, url, w.params)
    // Rules applies (GET and POST) are not built in this mode (nor dry runs without a DryRunPort): say so rather than 405.
    if (/^\/v1\/rules\/(apply|dry-run)(\/|$)/.test(url.pathname) && (o.dryRuns === undefined || url.pathname.startsWith("/v1/rules/apply"))) throw notServed(url.pathname, o.analytics !== undefined)
    if (url.pathname === "/v1/rules/dry-run") throw methodNotAllowed(["POST"])
    if (method !== "GET") throw new ApiError(405, "method_not_allowed", `${method} is not served by the partitioned gateway`, [], { Allow: "GET" })
    const path = url.pathname
    const q = url.searchParams
    // The probes are never limited (the single process's health.ts); every other read is admitted
    // as one process admits it, and a merged read costs up to P partition requests.
    const probe = path === "/healthz" || path === "/readyz"
    const { principal } = await admit(req, !probe)
    if (path === "/healthz") return { status: 200, body: { ok: true } }
    if (path === "/v1/partitions" || path === "/readyz") {
      const states = await reads.states()
      const waiting = states.filter((s) => s.phase !== "ready").map((s) => s.partition)
      if (path === "/v1/partitions") return { status: 200, body: { partitions: states } }
      return waiting.length === 0
        ? { status: 200, body: { ready: true, partitions: reads.partitions, seq: Math.max(0, Math.min(...states.map((s) => s.applied))) } } // the low watermark: every event ≤ seq is visible
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
      const group = await groupOf(board, path)
      const page = group === null ? await reads.page(board, w, period, after, limit) : await reads.groupPage(board, group.members, w, period, after, limit)
      // A group that does not exist has no board (the single process's 404, for the period read).
      if (page === null || group?.missing === true) throw notFound(`no leaderboard ${board} for window=${w} period=${page?.key.period ?? period}`)
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
      const group = await groupOf(board, path)
      const r = group === null ? await reads.around(board, w, period, userId, radius) : await reads.groupAround(board, group.members, w, period, userId, radius)
      if (r === null || group?.missing === true) throw notFound(`no leaderboard ${board} for window=${w} period=${r?.key.period ?? period}`)
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
      // A private user's profile is theirs and admin's: to anyone else it does not exist (§11), as in the single process.
      if (profile === null || ((profile as { visibility?: unknown }).visibility === "private" && !(principal !== null && (principal.admin || principal.sub === userId)))) throw notFound(`no user ${userId}`)
      return { status: 200, body: profile }
    }
    throw notServed(path, o.analytics !== undefined)

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
  // --- live boards (merger helper): WebSocket upgrades go to the feed ---
  server.on("upgrade", (req: http.IncomingMessage, socket: Duplex, head: Buffer) => {
    if (o.upgrade !== undefined) return o.upgrade(req, socket, head)
    socket.end("HTTP/1.1 501 Not Implemented\r\nconnection: close\r\ncontent-length: 0\r\n\r\n")
  })
  // --- end live boards ---
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

const send = (res: http.ServerResponse, r: Reply): void => {
  const body = r.raw ?? JSON.stringify(r.body)
  res.writeHead(r.status, { "content-type": "application/json", "content-length": Buffer.byteLength(body), ...(r.headers ?? {}) })
  res.end(body)
}
