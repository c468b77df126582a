// The REST API of ARCHITECTURE §6 against real uWS: every route's success, each validation
// failure with its field path, 401 vs 403, 404/405/413/415 JSON errors, health and metrics.
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import type { ErrorBody } from "./client.js"
import { api } from "./client.js"
import type { MemoryArena } from "./harness.js"
import { event, startMemoryArena } from "./harness.js"

interface Page {
  board: string; window: string; period: string; seq: number; total: number
  entries: Array<{ rank: number; user_id: string; username: string; xp: number; level: number }>
  next_cursor: string | null
}

// Every test runs with the sockets on the main thread and with them in two WS worker threads
// (which forward all plain HTTP to the main thread's routes).
describe.each([0, 2])("REST API (ws threads: %i)", (threads) => {
  let arena: MemoryArena
  let writer: string, reader: string, admin: string
  const pathsOf = (b: ErrorBody): Array<string> => b.error.details.map((d) => d.path)

  beforeAll(async () => {
    arena = await startMemoryArena({ threads })
    writer = await arena.token("producer", "events:write")
    reader = await arena.token("alice", "")
    admin = await arena.token("root", "admin")
    // 30 users with distinct totals: u00 gets 1 event … u29 gets 30.
    const evs: Array<Record<string, unknown>> = []
    for (let i = 0; i < 30; i++) for (let k = 0; k <= i; k++) evs.push(event(`u${String(i).padStart(2, "0")}`, "task_completed", i % 2 ? "coder" : "reviewer"))
    const { lastSeq } = await arena.publish(evs)
    await arena.waitForSeq(lastSeq)
  })
  afterAll(async () => {
    await arena.stop()
  })

  describe("POST /v1/events", () => {
    it("accepts one event and a batch, answering per item accepted / duplicate / rejected", async () => {
      const one = event("zed")
      const r1 = await api<{ accepted: number; results: Array<{ status: string; event_id: string; seq: number }> }>(arena.baseUrl, "POST", "/v1/events", { token: writer, body: one })
      expect(r1.status).toBe(202)
      expect(r1.json.accepted).toBe(1)
      expect(r1.json.results[0]).toMatchObject({ status: "accepted", event_id: one["event_id"] })
      const bad = { ...event("zed"), base_points: 999 }
      delete (bad as Record<string, unknown>)["user_id"]
      const r2 = await api<{ accepted: number; duplicate: number; rejected: number; results: Array<{ status: string; error?: ErrorBody["error"] }> }>(
        arena.baseUrl, "POST", "/v1/events", { token: writer, body: [event("zed"), one, bad] })
      expect(r2.status).toBe(202)
      expect([r2.json.accepted, r2.json.duplicate, r2.json.rejected]).toEqual([1, 1, 1])
      expect(r2.json.results.map((r) => r.status)).toEqual(["accepted", "duplicate", "rejected"])
      expect(r2.json.results[2]!.error!.details.map((d) => d.path)).toContain("user_id")
    })

    it("answers 400 when the body is not an event object or a 1..1000 array", async () => {
      for (const [body, msg] of [["just a string", "event object"], [42, "event object"], [null, "event object"], [[], "at least 1"],
        [Array.from({ length: 1001 }, () => ({})), "at most 1000"]] as const) {
        const r = await api(arena.baseUrl, "POST", "/v1/events", { token: writer, body })
        expect(r.status).toBe(400)
        expect(r.json.error.details[0]).toMatchObject({ path: "body" })
        expect(r.json.error.details[0]!.message).toContain(msg)
      }
    })

    it("rejects malformed JSON, invalid UTF-8 and a non-JSON media type", async () => {
      const r1 = await api(arena.baseUrl, "POST", "/v1/events", { token: writer, raw: "{\"event_id\": ", headers: { "content-type": "application/json" } })
      expect([r1.status, pathsOf(r1.json)]).toEqual([400, ["body"]])
      const r2 = await api(arena.baseUrl, "POST", "/v1/events", { token: writer, raw: new Uint8Array([0x7b, 0xff, 0x7d]), headers: { "content-type": "application/json" } })
      expect([r2.status, r2.json.error.details[0]!.message]).toEqual([400, "is not valid UTF-8"])
      const r3 = await api(arena.baseUrl, "POST", "/v1/events", { token: writer, raw: "{}", headers: { "content-type": "text/plain" } })
      expect([r3.status, r3.json.error.code]).toEqual([415, "unsupported_media_type"])
    })

    it("answers 413 for a body over 1 MiB, as JSON, without keeping it", async () => {
      const big = JSON.stringify([{ ...event("x"), metadata: { pad: "x".repeat(1024 * 1024) } }])
      const r = await api(arena.baseUrl, "POST", "/v1/events", { token: writer, raw: big, headers: { "content-type": "application/json" } })
      expect(r.status).toBe(413)
      expect(r.json.error.code).toBe("payload_too_large")
    })

    it("needs a token with events:write: 401 without or with a bad one, 403 with a valid one lacking the scope", async () => {
      const none = await api(arena.baseUrl, "POST", "/v1/events", { body: event("x") })
      expect(none.status).toBe(401)
      expect(none.headers.get("www-authenticate")).toMatch(/^Bearer/)
      const bad = await api(arena.baseUrl, "POST", "/v1/events", { token: writer.slice(0, -3) + "AAA", body: event("x") })
      expect(bad.status).toBe(401)
      expect(bad.headers.get("www-authenticate")).toContain("invalid_token")
      const malformed = await api(arena.baseUrl, "POST", "/v1/events", { headers: { authorization: "Token abc" }, body: event("x") })
      expect(malformed.status).toBe(401)
      const scope = await api(arena.baseUrl, "POST", "/v1/events", { token: reader, body: event("x") })
      expect([scope.status, scope.json.error.code]).toEqual([403, "forbidden"])
    })
  })

  describe("GET /v1/leaderboards", () => {
    it("lists boards with their windows and sizes", async () => {
      const r = await api<{ boards: Array<{ board: string; windows: Array<{ window: string; size: number }> }> }>(arena.baseUrl, "GET", "/v1/leaderboards")
      expect(r.status).toBe(200)
      const global = r.json.boards.find((b) => b.board === "global")!
      expect(global.windows.map((w) => w.window).sort()).toEqual(["all", "day", "month", "week"])
      expect(global.windows.find((w) => w.window === "all")!.size).toBeGreaterThanOrEqual(30)
      expect(r.json.boards.map((b) => b.board)).toContain("agent:coder")
    })

    it("pages a board with an opaque keyset cursor: every entry exactly once, in rank order, then null", async () => {
      const first = await api<Page>(arena.baseUrl, "GET", "/v1/leaderboards/global?limit=7")
      expect(first.status).toBe(200)
      expect(first.json).toMatchObject({ board: "global", window: "all", period: "all" })
      const seen: Page["entries"] = [...first.json.entries]
      let cursor = first.json.next_cursor
      while (cursor !== null) {
        const r = await api<Page>(arena.baseUrl, "GET", `/v1/leaderboards/global?limit=7&cursor=${cursor}`)
        expect(r.status).toBe(200)
        seen.push(...r.json.entries)
        cursor = r.json.next_cursor
      }
      expect(seen.length).toBe(first.json.total)
      expect(seen.map((e) => e.rank)).toEqual(seen.map((_, i) => i + 1))
      expect(new Set(seen.map((e) => e.user_id)).size).toBe(seen.length)
      const full = await api<Page>(arena.baseUrl, "GET", `/v1/leaderboards/global?limit=1000`)
      expect(full.json.entries).toEqual(seen)
      expect(full.json.next_cursor).toBeNull()
    })

    it("accepts percent-encoded agent boards, windows and explicit current periods", async () => {
      const day = arena.boards.currentPeriod("day")
      const r = await api<Page>(arena.baseUrl, "GET", `/v1/leaderboards/agent%3Acoder?window=day&period=${day}&limit=3`)
      expect([r.status, r.json.board, r.json.period, r.json.entries.length]).toEqual([200, "agent:coder", day, 3])
      const defaulted = await api<Page>(arena.baseUrl, "GET", "/v1/leaderboards/agent:coder?window=week")
      expect(defaulted.json.period).toBe(arena.boards.currentPeriod("week"))
    })

    it("reports each bad parameter with its field path", async () => {
      const cases: Array<[string, Array<string>]> = [
        ["/v1/leaderboards/global?limit=0", ["query.limit"]],
        ["/v1/leaderboards/global?limit=1001", ["query.limit"]],
        ["/v1/leaderboards/global?limit=ten&window=year", ["query.limit", "query.window"]],
        ["/v1/leaderboards/global?window=day&period=2026-W48", ["query.period"]],
        ["/v1/leaderboards/global?window=month&period=2026-13", ["query.period"]],
        ["/v1/leaderboards/global?cursor=bm90LWEtY3Vyc29y", ["query.cursor"]],
        ["/v1/leaderboards/global?sort=xp", ["query.sort"]],
        ["/v1/leaderboards/Global", ["path.board"]],
        ["/v1/leaderboards/agent:Bad_Name", ["path.board"]],
        ["/v1/leaderboards/%E0%A4%A", ["path.board"]]
      ]
      for (const [path, paths] of cases) {
        const r = await api(arena.baseUrl, "GET", path)
        expect([path, r.status, pathsOf(r.json).sort()]).toEqual([path, 400, paths])
        expect(r.json.error.code).toBe("invalid_request")
      }
      const limit = await api(arena.baseUrl, "GET", "/v1/leaderboards/global?limit=0")
      expect(limit.json.error.details[0]!.message).toBe("must be an integer from 1 to 1000")
    })

    it("answers 404 for a board that does not exist", async () => {
      const r = await api(arena.baseUrl, "GET", "/v1/leaderboards/global?window=day&period=2020-01-01")
      expect([r.status, r.json.error.code]).toEqual([404, "not_found"])
    })

    it("shows a user's rank with the entries around it (radius 0..50)", async () => {
      const r = await api<{ user: Page["entries"][0]; entries: Page["entries"]; total: number }>(arena.baseUrl, "GET", "/v1/leaderboards/global/users/u20?radius=2")
      expect(r.status).toBe(200)
      expect(r.json.user.user_id).toBe("u20")
      expect(r.json.entries.map((e) => e.rank)).toEqual([r.json.user.rank - 2, r.json.user.rank - 1, r.json.user.rank, r.json.user.rank + 1, r.json.user.rank + 2])
      const bad = await api(arena.baseUrl, "GET", "/v1/leaderboards/global/users/u20?radius=51")
      expect([bad.status, pathsOf(bad.json)]).toEqual([400, ["query.radius"]])
      const badUser = await api(arena.baseUrl, "GET", "/v1/leaderboards/global/users/bad%20user")
      expect([badUser.status, pathsOf(badUser.json)]).toEqual([400, ["path.user_id"]])
      const missing = await api(arena.baseUrl, "GET", "/v1/leaderboards/global/users/nobody")
      expect(missing.status).toBe(404)
    })
  })

  describe("users, ledger, rules", () => {
    it("serves public profiles and 404s unknown users", async () => {
      const r = await api<{ user_id: string; total_xp: number; level: { number: number } }>(arena.baseUrl, "GET", "/v1/users/u29")
      expect(r.status).toBe(200)
      expect(r.json).toMatchObject({ user_id: "u29", total_xp: 300, level: { number: 3 } })
      expect((await api(arena.baseUrl, "GET", "/v1/users/ghost")).status).toBe(404)
      const bad = await api(arena.baseUrl, "GET", "/v1/users/" + "x".repeat(129))
      expect([bad.status, pathsOf(bad.json)]).toEqual([400, ["path.user_id"]])
    })

    it("serves a ledger only to its owner or an admin (401 anonymous, 403 others)", async () => {
      const owner = await arena.token("u05", "")
      expect((await api(arena.baseUrl, "GET", "/v1/users/u05/ledger")).status).toBe(401)
      expect((await api(arena.baseUrl, "GET", "/v1/users/u05/ledger", { token: reader })).status).toBe(403)
      expect((await api(arena.baseUrl, "GET", "/v1/users/u05/ledger", { token: writer })).status).toBe(403)
      const mine = await api<{ entries: Array<{ user_id: string; xp: number }>; next_cursor: string | null }>(arena.baseUrl, "GET", "/v1/users/u05/ledger?limit=4", { token: owner })
      expect(mine.status).toBe(200)
      expect(mine.json.entries).toHaveLength(4)
      expect(mine.json.entries.every((e) => e.user_id === "u05")).toBe(true)
      expect(mine.json.next_cursor).not.toBeNull()
      const asAdmin = await api(arena.baseUrl, "GET", "/v1/users/u05/ledger", { token: admin })
      expect(asAdmin.status).toBe(200)
      const bad = await api(arena.baseUrl, "GET", "/v1/users/u05/ledger?limit=0", { token: owner })
      expect([bad.status, pathsOf(bad.json)]).toEqual([400, ["query.limit"]])
      // A cursor this API never issued is the client's error (it was a 500 when the store decoded it).
      for (const c of ["day", "AAAA", "czox"]) {
        const forged = await api(arena.baseUrl, "GET", `/v1/users/u05/ledger?cursor=${c}`, { token: owner })
        expect([c, forged.status, pathsOf(forged.json)]).toEqual([c, 400, ["query.cursor"]])
      }
      // The next page follows the cursor it was given: older entries, none repeated.
      const next = await api<{ entries: Array<{ seq: number }> }>(arena.baseUrl, "GET", `/v1/users/u05/ledger?limit=4&cursor=${mine.json.next_cursor}`, { token: owner })
      expect(next.status).toBe(200)
    })

    it("serves the rules (with version) and the achievement catalog", async () => {
      const r = await api<{ version: string; actions: Record<string, unknown> }>(arena.baseUrl, "GET", "/v1/rules")
      expect(r.status).toBe(200)
      expect(r.json.version).toBeTruthy()
      expect(Object.keys(r.json.actions)).toContain("task_completed")
      const a = await api<{ achievements: Array<{ id: string }> }>(arena.baseUrl, "GET", "/v1/achievements")
      expect(a.json.achievements.map((x) => x.id)).toContain("first_steps")
    })
  })

  describe("health, metrics, OpenAPI, errors", () => {
    it("reports liveness and readiness (503 with reasons until ready)", async () => {
      expect((await api(arena.baseUrl, "GET", "/healthz")).status).toBe(200)
      expect((await api(arena.baseUrl, "GET", "/readyz")).status).toBe(200)
      arena.pipeline.ready = false
      const r = await api<{ ready: boolean; reasons: Array<string> }>(arena.baseUrl, "GET", "/readyz")
      arena.pipeline.ready = true
      expect([r.status, r.json.ready, r.json.reasons]).toEqual([503, false, ["catching up"]])
    })

    it("exposes Prometheus text: the core's metrics and the gateway's, each family once", async () => {
      const r = await fetch(arena.baseUrl + "/metrics")
      const text = await r.text()
      expect(r.headers.get("content-type")).toContain("text/plain; version=0.0.4")
      expect(text).toContain("arena_events_processed_total ")
      expect(text).toMatch(/arena_http_requests_total\{route="\/v1\/leaderboards\/:board",status="200"\} \d+/)
      const types = [...text.matchAll(/^# TYPE (\S+)/gm)].map((m) => m[1])
      expect(new Set(types).size).toBe(types.length)
    })

    it("publishes OpenAPI 3.1 generated from the request schemas", async () => {
      const r = await api<{ openapi: string; paths: Record<string, unknown>; components: { schemas: Record<string, { additionalProperties?: unknown; properties?: Record<string, unknown> }> } }>(arena.baseUrl, "GET", "/openapi.json")
      expect(r.status).toBe(200)
      expect(r.json.openapi).toBe("3.1.0")
      expect(Object.keys(r.json.paths)).toEqual(expect.arrayContaining(["/v1/events", "/v1/leaderboards/{board}", "/v1/shares/{id}", "/ws/leaderboard/{board}"]))
      const ev = Object.entries(r.json.components.schemas).find(([, s]) => s.properties?.["event_id"] !== undefined)
      expect(ev).toBeDefined()
      expect(r.json.components.schemas["ShareInput"]!.additionalProperties).toBe(false)
      expect(JSON.stringify(r.json)).not.toContain("#/$defs/")
    })

    it("answers unknown routes with 404 JSON, wrong methods with 405 + Allow, plain GETs of WS routes with 426", async () => {
      const nf = await api(arena.baseUrl, "GET", "/v2/nothing")
      expect([nf.status, nf.json.error.code]).toEqual([404, "not_found"])
      const na = await api(arena.baseUrl, "DELETE", "/v1/leaderboards/global")
      expect([na.status, na.json.error.code]).toEqual([405, "method_not_allowed"])
      expect(na.headers.get("allow")).toBe("GET, HEAD, OPTIONS")
      const na2 = await api(arena.baseUrl, "PUT", "/v1/shares", { body: {} })
      expect(na2.status).toBe(405)
      expect(na2.headers.get("allow")).toContain("POST")
      const ws = await api(arena.baseUrl, "GET", "/ws/leaderboard/global")
      expect(ws.status).toBe(426)
      // HEAD mirrors GET's status and headers without a body (a body would corrupt the connection).
      for (const path of ["/", "/v1/rules", "/nowhere"]) {
        const h = await fetch(arena.baseUrl + path, { method: "HEAD" })
        expect([path, h.status, await h.text()]).toEqual([path, path === "/nowhere" ? 404 : 200, ""])
      }
      expect((await api(arena.baseUrl, "GET", "/healthz")).status).toBe(200)
    })

    it("never puts stack traces or internals in error bodies", async () => {
      const r = await api(arena.baseUrl, "GET", "/v1/leaderboards/global?limit=-1")
      expect(r.text).not.toMatch(/at .*\.(ts|js):\d+/)
      expect(Object.keys(r.json)).toEqual(["error"])
      expect(Object.keys(r.json.error).sort()).toEqual(["code", "details", "message"])
    })
  })
})
