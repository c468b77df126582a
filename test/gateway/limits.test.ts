// Rate limits (429 + Retry-After, per IP and per token), WebSocket connection limits per IP,
// CORS, and start-up refusals (unsafe production settings, no native uWS).
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { gatewayConfig } from "../../src/gateway/GatewayConfig.js"
import { startGateway } from "../../src/gateway/Gateway.js"
import { api, openWs, wsUrl } from "./client.js"
import type { MemoryArena } from "./harness.js"
import { startMemoryArena } from "./harness.js"

describe.each([0, 2])("rate limits (ws threads: %i)", (threads) => {
  let arena: MemoryArena
  beforeAll(async () => {
    arena = await startMemoryArena({ threads, overrides: { rateLimit: { perIp: 8, perToken: 3, windowMs: 60_000 } } })
  })
  afterAll(async () => {
    await arena.stop()
  })

  it("answers 429 with Retry-After once a token spends its window, independently of other tokens", async () => {
    const t1 = await arena.token("heavy", "")
    const codes: Array<number> = []
    for (let i = 0; i < 4; i++) codes.push((await api(arena.baseUrl, "GET", "/v1/rules", { token: t1 })).status)
    expect(codes).toEqual([200, 200, 200, 429])
    const r = await api(arena.baseUrl, "GET", "/v1/rules", { token: t1 })
    expect(r.status).toBe(429)
    expect(r.json.error.code).toBe("rate_limited")
    expect(Number(r.headers.get("retry-after"))).toBeGreaterThanOrEqual(1)
    const t2 = await arena.token("light", "")
    expect((await api(arena.baseUrl, "GET", "/v1/rules", { token: t2 })).status).toBe(200)
  })

  it("limits each IP (anonymous requests and WebSocket upgrades too), but never health probes", async () => {
    let last = 0
    for (let i = 0; i < 10; i++) last = (await api(arena.baseUrl, "GET", "/v1/leaderboards")).status
    expect(last).toBe(429)
    const refused = await openWs(wsUrl(arena.baseUrl, "/ws/leaderboard/global")).then(() => 101, (e: { status?: number }) => e.status)
    expect(refused).toBe(429)
    expect((await api(arena.baseUrl, "GET", "/healthz")).status).toBe(200)
    expect((await api(arena.baseUrl, "GET", "/metrics")).status).toBe(200)
  })
})

// With worker threads, the limits count across threads (admission is on the main thread).
describe.each([0, 2])("WebSocket connection limits (ws threads: %i)", (threads) => {
  it("refuses connections over the per-IP bound with 429 and admits again after a close", async () => {
    const arena = await startMemoryArena({ threads, overrides: { ws: { maxConnectionsPerIp: 3, maxSubscriptionsPerIp: 2 } } })
    try {
      const url = wsUrl(arena.baseUrl, "/ws/leaderboard/global?limit=5")
      const a = await openWs(url)
      const b = await openWs(url)
      const third = await openWs(url).then(() => 101, (e: { status?: number; body?: string }) => e.status)
      expect(third).toBe(429)
      a.close()
      await a.until(() => a.closed !== null, 5000, "close")
      await new Promise((r) => setTimeout(r, 50))
      const c = await openWs(url)
      expect(arena.gateway.stats().connections).toBe(2)
      b.close()
      c.close()
    } finally {
      await arena.stop()
    }
  })
})

describe.each([0, 2])("CORS (ws threads: %i)", (threads) => {
  let arena: MemoryArena
  beforeAll(async () => {
    arena = await startMemoryArena({ threads, overrides: { corsOrigins: ["https://app.example"] } })
  })
  afterAll(async () => {
    await arena.stop()
  })

  it("answers preflights and tags responses for allowed origins only", async () => {
    const pre = await api(arena.baseUrl, "OPTIONS", "/v1/events", { headers: { origin: "https://app.example", "access-control-request-method": "POST" } })
    expect(pre.status).toBe(204)
    expect(pre.headers.get("access-control-allow-origin")).toBe("https://app.example")
    expect(pre.headers.get("access-control-allow-headers")).toContain("Authorization")
    expect(pre.headers.get("access-control-allow-methods")).toContain("POST")
    const ok = await api(arena.baseUrl, "GET", "/v1/rules", { headers: { origin: "https://app.example" } })
    expect(ok.headers.get("access-control-allow-origin")).toBe("https://app.example")
    expect(ok.headers.get("vary")).toBe("Origin")
    const evil = await api(arena.baseUrl, "GET", "/v1/rules", { headers: { origin: "https://evil.example" } })
    expect(evil.headers.get("access-control-allow-origin")).toBeNull()
    const evilPre = await api(arena.baseUrl, "OPTIONS", "/v1/events", { headers: { origin: "https://evil.example" } })
    expect(evilPre.headers.get("access-control-allow-origin")).toBeNull()
  })
})

describe("start-up refusals", () => {
  const base = { host: "127.0.0.1", port: 0, authEnabled: true, production: true }
  const start = (cfg: ReturnType<typeof gatewayConfig>) => startGateway({
    config: cfg, leaderboards: null as never, users: null as never, ingest: null as never, health: null as never,
    notifications: null as never, shares: null as never, rules: null as never
  })

  it("refuses to start in production with a missing, short or default secret, or with auth off", async () => {
    await expect(start(gatewayConfig({ ...base, jwtSecret: undefined }))).rejects.toThrow(/ARENA_JWT_SECRET is not set/)
    await expect(start(gatewayConfig({ ...base, jwtSecret: "short-secret" }))).rejects.toThrow(/at least 32 bytes/)
    await expect(start(gatewayConfig({ ...base, jwtSecret: "arena-dev-secret-not-for-production-0000" }))).rejects.toThrow(/well-known default/)
    await expect(start(gatewayConfig({ ...base, authEnabled: false, jwtSecret: "x".repeat(40) }))).rejects.toThrow(/development only/)
  })

  it("with auth off (development), lets requests without a token act as a dev admin", async () => {
    const arena = await startMemoryArena({ authEnabled: false })
    try {
      const r = await api(arena.baseUrl, "POST", "/v1/shares", { body: { title: "t", content: "c" } })
      expect(r.status).toBe(201)
      // A token that is present is still verified.
      expect((await api(arena.baseUrl, "GET", "/v1/rules", { token: "not.a.jwt" })).status).toBe(401)
    } finally {
      await arena.stop()
    }
  })
})
