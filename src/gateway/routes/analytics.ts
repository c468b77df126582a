// Optional analytics routes (mounted only when an AnalyticsRoutesPort is given): dashboards list,
// one dashboard over a time range, and read-only SQL for admins.
import { requireScope, SCOPE_ADMIN } from "../auth/Auth.js"
import { ApiError, invalid } from "../http/ApiError.js"
import { isPlainObject, json } from "../http/Http.js"
import { Params, decodeSegment } from "../http/Params.js"
import type { Route } from "../http/Router.js"
import type { AnalyticsRoutesPort } from "../../ports/AnalyticsQueries.js"

const DASHBOARD = /^[a-z0-9_-]{1,64}$/
const INT = /^(0|[1-9]\d{0,15})$/
const DAY_MS = 86_400_000
const MAX_QUERY = 64 * 1024

/** from/to: epoch ms or RFC 3339; default the last 24 hours. */
const instant = (p: Params, name: string, raw: string | undefined, def: number): number => {
  if (raw === undefined) return def
  const ms = INT.test(raw) ? Number(raw) : /^\d{4}-\d{2}-\d{2}T/.test(raw) ? Date.parse(raw) : NaN
  if (!Number.isFinite(ms)) p.issue(`query.${name}`, "must be epoch milliseconds or an RFC 3339 date-time")
  return ms
}

const failed = (e: unknown): ApiError =>
  e instanceof ApiError ? e : new ApiError(400, "query_failed", e instanceof Error ? e.message.slice(0, 500) : "query failed")

export const analyticsRoutes = (a: AnalyticsRoutesPort): ReadonlyArray<Route> => [
  { method: "get", pattern: "/v1/analytics/dashboards", handler: async () => json(await a.listDashboards()) },
  {
    method: "get",
    pattern: "/v1/analytics/dashboards/:name",
    handler: async (req) => {
      const p = new Params(req.query, ["from", "to"])
      const name = decodeSegment(req.params[0]!, "path.name")
      if (!DASHBOARD.test(name)) p.issue("path.name", "must match [a-z0-9_-]{1,64}")
      const now = Date.now()
      const toMs = instant(p, "to", p.str("to"), now)
      const fromMs = instant(p, "from", p.str("from"), toMs - DAY_MS)
      if (p.ok && !(fromMs < toMs)) p.issue("query.from", "must be before `to`")
      p.check()
      return json(await a.dashboard(name, { fromMs, toMs }))
    }
  },
  {
    method: "post",
    pattern: "/v1/analytics/sql",
    body: true,
    authorize: (p) => requireScope(p, SCOPE_ADMIN),
    handler: async (req) => {
      const b = req.body
      if (!isPlainObject(b)) throw invalid([{ path: "body", message: "must be an object {\"query\": string}" }])
      const extra = Object.keys(b).filter((k) => k !== "query")
      if (extra.length > 0) throw invalid(extra.map((k) => ({ path: `body.${k}`, message: "is not a known field" })))
      const q = b["query"]
      if (typeof q !== "string" || q.trim() === "" || q.length > MAX_QUERY) {
        throw invalid([{ path: "body.query", message: `must be a non-empty string of at most ${MAX_QUERY} characters` }])
      }
      try {
        return json(await a.sql(q))
      } catch (e) {
        throw failed(e)
      }
    }
  }
]
