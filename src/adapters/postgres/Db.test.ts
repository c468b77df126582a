import { describe, expect, it, vi } from "vitest"
import { StatementDeadline, reconnectDelaySeconds, requestStatement, storeStatement, withDeadline } from "./Db.js"

describe("the pool's reconnect delay", () => {
  it("grows with failures but never past 1 s, so a request with Postgres down fails fast and the pool comes back fast", () => {
    for (let n = 0; n <= 60; n++) {
      for (let k = 0; k < 20; k++) {
        const d = reconnectDelaySeconds(n)
        expect(d).toBeGreaterThanOrEqual(0)
        expect(d).toBeLessThanOrEqual(1)
      }
    }
    expect(reconnectDelaySeconds(0)).toBeLessThanOrEqual(0.01)
  })
})

describe("a request statement's deadline", () => {
  it("rejects with StatementDeadline and cancels the query when Postgres does not answer in time", async () => {
    vi.useFakeTimers()
    try {
      let cancelled = 0
      const never = Object.assign(new Promise<number>(() => {}), { cancel: () => { cancelled++ } })
      const r = withDeadline("shares: get", () => never, 5_000).then(() => "answered", (e: unknown) => e)
      await vi.advanceTimersByTimeAsync(5_000)
      const e = await r
      expect(e).toBeInstanceOf(StatementDeadline)
      expect((e as Error).message).toBe("shares: get: no answer from Postgres within 5000 ms")
      expect(cancelled).toBe(1)
    } finally {
      vi.useRealTimers()
    }
  })

  it("passes an answer or a failure through untouched", async () => {
    expect(await withDeadline("x", () => Promise.resolve(7))).toBe(7)
    const boom = new Error("boom")
    await expect(withDeadline("x", () => Promise.reject(boom))).rejects.toBe(boom)
  })
})

class Unavailable extends Error {
  constructor(args: { readonly message: string }) {
    super(args.message)
  }
}

describe("a store's statement", () => {
  it("rejects with the store's Unavailable when Postgres cannot be reached, and passes any other failure through", async () => {
    const refused = Object.assign(new Error("connect ECONNREFUSED"), { code: "ECONNREFUSED" })
    const e = await storeStatement("groups: load", Unavailable, () => Promise.reject(refused)).catch((x: unknown) => x)
    expect(e).toBeInstanceOf(Unavailable)
    expect((e as Error).message).toBe("groups: load: connect ECONNREFUSED")
    const syntax = Object.assign(new Error("syntax error"), { code: "42601" })
    await expect(storeStatement("groups: load", Unavailable, () => Promise.reject(syntax))).rejects.toBe(syntax)
    expect(await requestStatement("shares: get", Unavailable, () => Promise.resolve(7))).toBe(7)
  })

  it("on a request path, rejects with the store's Unavailable once the deadline passes", async () => {
    vi.useFakeTimers()
    try {
      const never = Object.assign(new Promise<number>(() => {}), { cancel: () => undefined })
      const r = requestStatement("shares: get", Unavailable, () => never).then(() => "answered", (x: unknown) => x)
      await vi.advanceTimersByTimeAsync(5_000)
      const e = await r
      expect(e).toBeInstanceOf(Unavailable)
      expect((e as Error).message).toBe("shares: get: no answer from Postgres within 5000 ms")
    } finally {
      vi.useRealTimers()
    }
  })
})
