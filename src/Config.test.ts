// The environment is decoded once: defaults per ARCHITECTURE §8, and every bad value named.
import * as os from "node:os"
import { describe, expect, it } from "vitest"
import { DEFAULT_RATE_LIMITS, DEFAULT_WS_CAPS, decodeConfig, defaultWsThreads, parseDuration } from "./Config.js"

describe("decodeConfig", () => {
  it("applies the documented defaults (embedded ClickHouse under the data dir)", () => {
    const c = decodeConfig({})
    expect(c.natsUrl).toBe("nats://127.0.0.1:4222")
    expect(c.databaseUrl).toBe("postgres://postgres@127.0.0.1:5432/arena")
    expect(c.clickhouseDatabase).toBe("arena")
    expect(c.clickhouseUrl).toMatch(/^chdb:\/\/\/.*\/data\/clickhouse$/)
    expect(c.port).toBe(8080)
    expect(c.authEnabled).toBe(true)
    expect(c.stream).toBe("ARENA_XP")
    expect(c.duplicateWindowMs).toBe(86_400_000)
  })

  it("names every bad variable at once", () => {
    let message = ""
    try { decodeConfig({ PORT: "eighty", ARENA_AUTH: "maybe", CLICKHOUSE_URL: "ftp://x" }) } catch (e) { message = (e as Error).message }
    for (const v of ["PORT", "ARENA_AUTH", "CLICKHOUSE_URL"]) expect(message).toContain(v)
  })

  it("reads ARENA_PERIOD_TZ (default UTC) and refuses a zone Intl does not know, naming the variable", () => {
    expect(decodeConfig({}).periodTz).toBe("UTC")
    expect(decodeConfig({ ARENA_PERIOD_TZ: "Europe/Berlin" }).periodTz).toBe("Europe/Berlin")
    for (const bad of ["Mars/Olympus", "+02:00", "Europe/Berlin;rm"]) expect(() => decodeConfig({ ARENA_PERIOD_TZ: bad })).toThrow(/ARENA_PERIOD_TZ/)
  })

  it("ARENA_PARTITIONS: unset is single-process mode; 1..1024 partitioned; anything else named", () => {
    expect(decodeConfig({}).partitions).toBeUndefined()
    expect(decodeConfig({ ARENA_PARTITIONS: "64" }).partitions).toBe(64)
    expect(decodeConfig({ ARENA_PARTITIONS: "1024" }).partitions).toBe(1024)
    expect(decodeConfig({ ARENA_PARTITIONS: "1" }).partitions).toBe(1)
    for (const bad of ["0", "1025", "-1", "8.5", "eight"]) expect(() => decodeConfig({ ARENA_PARTITIONS: bad })).toThrow(/from 1 to 1024[\s\S]*ARENA_PARTITIONS/)
  })

  it("ARENA_LEASE_TTL: 20s by default, at least 1s", () => {
    expect(decodeConfig({}).leaseTtlMs).toBe(20_000)
    expect(decodeConfig({ ARENA_LEASE_TTL: "3000ms" }).leaseTtlMs).toBe(3_000)
    expect(() => decodeConfig({ ARENA_LEASE_TTL: "500ms" })).toThrow(/ARENA_LEASE_TTL: must be at least 1s/)
    expect(() => decodeConfig({ ARENA_LEASE_TTL: "0" })).toThrow(/ARENA_LEASE_TTL/)
  })

  it("reads durations with units", () => {
    expect(parseDuration("250ms")).toBe(250)
    expect(parseDuration("2m")).toBe(120_000)
    expect(parseDuration("24h")).toBe(86_400_000)
    expect(parseDuration("5")).toBe(5000)
    expect(() => decodeConfig({ ARENA_DUPLICATE_WINDOW: "a day" })).toThrow(/ARENA_DUPLICATE_WINDOW/)
  })

  it("reads the rate limits: counts per window, 0 or off for none, a positive window", () => {
    expect(decodeConfig({}).rateLimit).toEqual({ perIp: 1200, perToken: 3000, windowMs: 60_000 })
    expect(DEFAULT_RATE_LIMITS).toEqual({ perIp: 1200, perToken: 3000, windowMs: 60_000 })
    expect(decodeConfig({ ARENA_RATE_LIMIT_PER_IP: "50", ARENA_RATE_LIMIT_PER_TOKEN: "7", ARENA_RATE_LIMIT_WINDOW: "10s" }).rateLimit)
      .toEqual({ perIp: 50, perToken: 7, windowMs: 10_000 })
    expect(decodeConfig({ ARENA_RATE_LIMIT_PER_IP: "off", ARENA_RATE_LIMIT_PER_TOKEN: "0", ARENA_RATE_LIMIT_WINDOW: "1m" }).rateLimit)
      .toEqual({ perIp: 0, perToken: 0, windowMs: 60_000 })
    expect(decodeConfig({ ARENA_RATE_LIMIT_WINDOW: "250ms" }).rateLimit.windowMs).toBe(250)
    expect(decodeConfig({ ARENA_RATE_LIMIT_WINDOW: "30" }).rateLimit.windowMs).toBe(30_000)
  })

  it("refuses bad rate limits, naming each variable and what it expects", () => {
    for (const [name, value] of [
      ["ARENA_RATE_LIMIT_PER_IP", "lots"], ["ARENA_RATE_LIMIT_PER_IP", "-1"], ["ARENA_RATE_LIMIT_PER_IP", "1.5"],
      ["ARENA_RATE_LIMIT_PER_TOKEN", "OFF"], ["ARENA_RATE_LIMIT_PER_TOKEN", "1e6"],
      ["ARENA_RATE_LIMIT_WINDOW", "0s"], ["ARENA_RATE_LIMIT_WINDOW", "0"], ["ARENA_RATE_LIMIT_WINDOW", "a minute"], ["ARENA_RATE_LIMIT_WINDOW", "off"]
    ] as const) {
      let message = ""
      try { decodeConfig({ [name]: value }) } catch (e) { message = (e as Error).message }
      expect(message, `${name}=${value}`).toContain(name)
      expect(message).toMatch(name === "ARENA_RATE_LIMIT_WINDOW" ? /positive duration/ : /whole number of requests per window.*0 \/ off/)
    }
    let all = ""
    try { decodeConfig({ ARENA_RATE_LIMIT_PER_IP: "x", ARENA_RATE_LIMIT_PER_TOKEN: "y", ARENA_RATE_LIMIT_WINDOW: "z" }) } catch (e) { all = (e as Error).message }
    for (const v of ["ARENA_RATE_LIMIT_PER_IP", "ARENA_RATE_LIMIT_PER_TOKEN", "ARENA_RATE_LIMIT_WINDOW"]) expect(all).toContain(v)
  })

  it("reads the WebSocket threads and caps: defaults, whole numbers, 0 or off for no per-IP cap", () => {
    const d = decodeConfig({})
    expect([d.wsThreads, d.wsCaps]).toEqual([defaultWsThreads(os.availableParallelism()), { maxConnections: 20_000, maxConnectionsPerIp: 64, maxSubscriptionsPerIp: 64 }])
    expect(DEFAULT_WS_CAPS).toEqual(d.wsCaps)
    const c = decodeConfig({ ARENA_WS_THREADS: "4", ARENA_WS_MAX_CONNECTIONS: "50000", ARENA_WS_MAX_CONNECTIONS_PER_IP: "1000", ARENA_WS_MAX_SUBSCRIPTIONS_PER_IP: "off" })
    expect([c.wsThreads, c.wsCaps]).toEqual([4, { maxConnections: 50_000, maxConnectionsPerIp: 1000, maxSubscriptionsPerIp: 0 }])
    expect(decodeConfig({ ARENA_WS_MAX_CONNECTIONS_PER_IP: "0" }).wsCaps.maxConnectionsPerIp).toBe(0)
    expect(decodeConfig({ ARENA_WS_THREADS: "16" }).wsThreads).toBe(16)
    expect(decodeConfig({ ARENA_WS_THREADS: "0" }).wsThreads).toBe(0)
  })

  it("chooses the WebSocket threads from the core count when ARENA_WS_THREADS is unset: none on one core, one per core up to 4", () => {
    expect([1, 2, 3, 4, 8, 64].map(defaultWsThreads)).toEqual([0, 2, 3, 4, 4, 4])
  })

  it("refuses bad WebSocket settings, naming each variable and what it expects", () => {
    for (const [name, value, expected] of [
      ["ARENA_WS_THREADS", "17", /WebSocket worker threads from 0 to 16/], ["ARENA_WS_THREADS", "two", /from 0 to 16/], ["ARENA_WS_THREADS", "-1", /from 0 to 16/],
      ["ARENA_WS_MAX_CONNECTIONS", "0", /positive whole number of sockets.*cannot be turned off/], ["ARENA_WS_MAX_CONNECTIONS", "off", /cannot be turned off/],
      ["ARENA_WS_MAX_CONNECTIONS", "1e5", /positive whole number/],
      ["ARENA_WS_MAX_CONNECTIONS_PER_IP", "many", /sockets per client IP.*0 \/ off/], ["ARENA_WS_MAX_CONNECTIONS_PER_IP", "-5", /per client IP/],
      ["ARENA_WS_MAX_SUBSCRIPTIONS_PER_IP", "2.5", /per client IP/], ["ARENA_WS_MAX_SUBSCRIPTIONS_PER_IP", "12345678", /at most 7 digits/]
    ] as const) {
      let message = ""
      try { decodeConfig({ [name]: value }) } catch (e) { message = (e as Error).message }
      expect(message, `${name}=${value}`).toContain(name)
      expect(message, `${name}=${value}`).toMatch(expected)
    }
  })
})
