// `arena serve --role gateway` in partitioned mode (ARCHITECTURE §9): a stateless HTTP server
// that answers board reads exactly by scatter-gather over the partitions' owners (MergedReadsPort).
// Built so far: GET /v1/leaderboards/{board} (keyset pages, same body as the single process),
// GET /v1/leaderboards/{board}/users/{user_id} (rank and around-me), GET /v1/users/{user_id}
// (the profile core from the user's partition, without merged ranks), GET /v1/partitions,
// /healthz, /readyz. Everything else answers 501 naming docs/scaling.md: WebSockets, ingest,
// ledgers and the rest of §6 are not served by this role yet. Reads are public-viewer reads
// (private rows anonymous); no token is checked because none of these routes needs one.
import * as http from "node:http"
import type { Window } from "../domain/Model.js"
import { periodResetsAt } from "../domain/Periods.js"
import { isPartitionsUnavailable } from "../ports/MergedReads.js"
import type { MergedReadsPort } from "../ports/MergedReads.js"
import type { BoardCursor } from "../ports/ReadModel.js"
import { ApiError, notFound } from "./http/ApiError.js"
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
}

export interface RunningMergedGateway {
  readonly port: number
  readonly close: () => Promise<void>
}

type Reply = { readonly status: number; readonly body: unknown; readonly headers?: Readonly<Record<string, string>> }

const window = (p: Params): Window => p.window() as Window

export const startMergedGateway = async (o: MergedGatewayOptions): Promise<RunningMergedGateway> => {
  const { reads } = o
  const route = async (method: string, url: URL): Promise<Reply> => {
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
    void route(req.method ?? "GET", url).then(
      (r) => send(res, r),
      (e: unknown) => {
        if (e instanceof ApiError) return send(res, { status: e.status, body: e.toJSON(), headers: e.headers })
        if (isPartitionsUnavailable(e)) {
          return send(res, { status: 503, body: { error: { code: "partition_unavailable", message: e.message, details: [] } }, headers: { "Retry-After": String(o.retryAfterS) } })
        }
        o.log.warn(`partitioned gateway: ${url.pathname}: ${e instanceof Error ? e.message : String(e)}`)
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
  const body = JSON.stringify(r.body)
  res.writeHead(r.status, { "content-type": "application/json", "content-length": Buffer.byteLength(body), ...(r.headers ?? {}) })
  res.end(body)
}
