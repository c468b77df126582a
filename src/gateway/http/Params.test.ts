import { describe, expect, it } from "vitest"
import { ApiError } from "./ApiError.js"
import { decodeBoardCursor, decodeSeqCursor, encodeBoardCursor, encodeSeqCursor } from "./Cursor.js"
import { Params, decodeSegment } from "./Params.js"

const issuesOf = (f: () => void): unknown => {
  try {
    f()
  } catch (e) {
    if (e instanceof ApiError) return { status: e.status, details: e.details }
    throw e
  }
  return null
}

describe("Params", () => {
  it("reports every bad query value with its field path", () => {
    const p = new Params(new URLSearchParams("limit=0&window=year&extra=1&radius=2&radius=3"), ["limit", "window", "radius"])
    p.int("limit", 1, 1000, 100)
    p.window()
    expect(issuesOf(() => p.check())).toEqual({
      status: 400,
      details: [
        { path: "query.extra", message: "unknown parameter" },
        { path: "query.radius", message: "must be given at most once" },
        { path: "query.limit", message: "must be an integer from 1 to 1000" },
        { path: "query.window", message: "must be one of all, day, week, month" }
      ]
    })
  })

  it("accepts defaults and well-formed values", () => {
    const p = new Params(new URLSearchParams("limit=1000&window=week&period=2026-W53"), ["limit", "window", "period"])
    expect(p.int("limit", 1, 1000, 100)).toBe(1000)
    const w = p.window()
    expect(w).toBe("week")
    expect(p.period(w)).toBe("2026-W53")
    p.check()
  })

  it("rejects integers written loosely (sign, exponent, leading zeros, fractions)", () => {
    for (const raw of ["-1", "1e2", "010", "1.5", " 5", "0x10", ""]) {
      const p = new Params(new URLSearchParams({ limit: raw }), ["limit"])
      p.int("limit", 0, 1000, 100)
      expect(p.ok).toBe(false)
    }
  })

  it("checks that the period matches the window, including calendar validity", () => {
    const cases: Array<[string, string, boolean]> = [
      ["day", "2026-11-26", true], ["day", "2026-02-29", false], ["day", "2026-11", false],
      ["week", "2026-W48", true], ["week", "2025-W53", false], ["month", "2026-11", true],
      ["month", "2026-13", false], ["all", "all", true], ["all", "2026", false]
    ]
    for (const [window, period, ok] of cases) {
      const p = new Params(new URLSearchParams({ window, period }), ["window", "period"])
      p.period(p.window())
      expect([window, period, p.ok]).toEqual([window, period, ok])
    }
  })

  it("validates board names and user ids", () => {
    const p = new Params(new URLSearchParams(""), [])
    p.board("global")
    p.board("agent:code-review-2")
    expect(p.ok).toBe(true)
    p.board("agent:Bad_Name")
    p.userId("bad user", "path.user_id")
    expect(issuesOf(() => p.check())).toMatchObject({ details: [{ path: "path.board" }, { path: "path.user_id" }] })
  })

  it("turns malformed percent-encoding into a 400 with the segment's path", () => {
    expect(decodeSegment("agent%3Afoo", "path.board")).toBe("agent:foo")
    expect(issuesOf(() => decodeSegment("%E0%A4%A", "path.board"))).toEqual({
      status: 400, details: [{ path: "path.board", message: "is not valid percent-encoding" }]
    })
  })
})

describe("cursors", () => {
  it("round-trip and reject anything the server did not produce", () => {
    const c = encodeBoardCursor({ xp: 1200, seq: 987654 })
    expect(decodeBoardCursor(c)).toEqual({ xp: 1200, seq: 987654 })
    expect(decodeSeqCursor(encodeSeqCursor(42))).toBe(42)
    for (const bad of ["", "!!", "MTIw", Buffer.from("1.2.3").toString("base64url"), Buffer.from("-1.2").toString("base64url"),
      Buffer.from("01.2").toString("base64url"), "a".repeat(100)]) {
      expect(decodeBoardCursor(bad)).toBeNull()
    }
    expect(decodeSeqCursor(Buffer.from("x").toString("base64url"))).toBeNull()
  })
})
