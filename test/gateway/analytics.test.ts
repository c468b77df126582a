// The optional analytics routes (mounted only with an AnalyticsRoutesPort): dashboards with a
// validated time range, admin-only read-only SQL, the dashboard page and uPlot assets; and
// that none of them exist without the port. Also: close() stops listening and closes sockets.
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import type { AnalyticsRoutesPort } from "../../src/ports/AnalyticsQueries.js"
import { api, openWs, wsUrl } from "./client.js"
import type { MemoryArena } from "./harness.js"
import { startMemoryArena } from "./harness.js"

/** A recording analytics port: the real one (ClickHouse) is the analytics engineer's and is tested there. */
const calls: Array<unknown> = []
const port: AnalyticsRoutesPort = {
  listDashboards: async () => ({ dashboards: [{ name: "xp_per_hour" }] }),
  dashboard: async (name, range) => (calls.push({ name, range }), { name, series: [] }),
  sql: async (query) => {
    if (query.includes("boom")) throw new Error("Code: 62. Syntax error")
    return { rows: [{ one: 1 }] }
  }
}

describe("analytics routes", () => {
  let arena: MemoryArena
  let admin: string, user: string
  beforeAll(async () => {
    arena = await startMemoryArena({ analytics: port })
    admin = await arena.token("root", "admin")
    user = await arena.token("alice", "events:write")
  })
  afterAll(async () => {
    await arena.stop()
  })

  it("lists dashboards and serves one over a validated range (default: the last 24 h)", async () => {
    expect((await api(arena.baseUrl, "GET", "/v1/analytics/dashboards")).status).toBe(200)
    const r = await api(arena.baseUrl, "GET", "/v1/analytics/dashboards/xp_per_hour?from=2026-11-25T00:00:00Z&to=1795651200000")
    expect(r.status).toBe(200)
    expect(calls.at(-1)).toEqual({ name: "xp_per_hour", range: { fromMs: Date.parse("2026-11-25T00:00:00Z"), toMs: 1795651200000 } })
    await api(arena.baseUrl, "GET", "/v1/analytics/dashboards/xp_per_hour")
    const last = calls.at(-1) as { range: { fromMs: number; toMs: number } }
    expect(last.range.toMs - last.range.fromMs).toBe(86_400_000)
    const bad = await api(arena.baseUrl, "GET", "/v1/analytics/dashboards/Bad Name?from=yesterday&to=2026-11-24T00:00:00Z")
    expect(bad.status).toBe(400)
    expect(bad.json.error.details.map((d) => d.path).sort()).toEqual(["path.name", "query.from"])
    const inverted = await api(arena.baseUrl, "GET", "/v1/analytics/dashboards/x?from=2000&to=1000")
    expect(inverted.json.error.details).toEqual([{ path: "query.from", message: "must be before `to`" }])
  })

  it("runs SQL for admins only, with a validated body", async () => {
    expect((await api(arena.baseUrl, "POST", "/v1/analytics/sql", { body: { query: "SELECT 1" } })).status).toBe(401)
    expect((await api(arena.baseUrl, "POST", "/v1/analytics/sql", { token: user, body: { query: "SELECT 1" } })).status).toBe(403)
    const ok = await api<{ rows: Array<unknown> }>(arena.baseUrl, "POST", "/v1/analytics/sql", { token: admin, body: { query: "SELECT 1" } })
    expect([ok.status, ok.json.rows]).toEqual([200, [{ one: 1 }]])
    const bad = await api(arena.baseUrl, "POST", "/v1/analytics/sql", { token: admin, body: { query: "", limit: 5 } })
    expect(bad.json.error.details.map((d) => d.path)).toEqual(["body.limit"])
    const empty = await api(arena.baseUrl, "POST", "/v1/analytics/sql", { token: admin, body: { query: " " } })
    expect(empty.json.error.details.map((d) => d.path)).toEqual(["body.query"])
    const failed = await api(arena.baseUrl, "POST", "/v1/analytics/sql", { token: admin, body: { query: "boom" } })
    expect([failed.status, failed.json.error.code]).toEqual([400, "query_failed"])
  })

  it("serves uPlot from node_modules with the right content types", async () => {
    const js = await fetch(arena.baseUrl + "/assets/uPlot.iife.min.js")
    expect([js.status, js.headers.get("content-type")]).toEqual([200, "text/javascript; charset=utf-8"])
    const css = await fetch(arena.baseUrl + "/assets/uPlot.min.css")
    expect([css.status, css.headers.get("content-type")]).toEqual([200, "text/css; charset=utf-8"])
    expect((await fetch(arena.baseUrl + "/assets/../package.json")).status).toBe(404)
  })
})

describe("without an analytics port", () => {
  it("mounts none of the analytics routes, and close() stops listening and closes open sockets", async () => {
    const arena = await startMemoryArena()
    expect((await api(arena.baseUrl, "GET", "/v1/analytics/dashboards")).status).toBe(404)
    expect((await fetch(arena.baseUrl + "/dashboard")).status).toBe(404)
    expect((await fetch(arena.baseUrl + "/assets/uPlot.iife.min.js")).status).toBe(404)
    const reader = await openWs(wsUrl(arena.baseUrl, "/ws/leaderboard/global"))
    await reader.nth(0)
    await arena.stop()
    await reader.until(() => reader.closed !== null, 5000, "server-side close")
    await expect(fetch(arena.baseUrl + "/healthz")).rejects.toThrow()
  })
})
