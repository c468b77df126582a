// The environment is decoded once: defaults per ARCHITECTURE §8, and every bad value named.
import { describe, expect, it } from "vitest"
import { decodeConfig, parseDuration } from "./Config.js"

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

  it("reads durations with units", () => {
    expect(parseDuration("250ms")).toBe(250)
    expect(parseDuration("2m")).toBe(120_000)
    expect(parseDuration("24h")).toBe(86_400_000)
    expect(parseDuration("5")).toBe(5000)
    expect(() => decodeConfig({ ARENA_DUPLICATE_WINDOW: "a day" })).toThrow(/ARENA_DUPLICATE_WINDOW/)
  })
})
