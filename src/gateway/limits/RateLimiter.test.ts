import { describe, expect, it } from "vitest"
import { RateLimiter } from "./RateLimiter.js"

describe("RateLimiter", () => {
  it("allows `limit` requests per window and then answers with a Retry-After that is honest", () => {
    let now = 1_000_000
    const rl = new RateLimiter(3, 10_000, 100, () => now)
    expect([rl.hit("a"), rl.hit("a"), rl.hit("a")].every((d) => d.allowed)).toBe(true)
    const denied = rl.hit("a")
    expect(denied.allowed).toBe(false)
    expect(denied.retryAfterSeconds).toBeGreaterThanOrEqual(1)
    // Other keys are independent.
    expect(rl.hit("b").allowed).toBe(true)
    // Waiting just short of Retry-After is still denied; waiting it out is allowed.
    now += denied.retryAfterSeconds * 1000 - 1500
    expect(rl.hit("a").allowed).toBe(false)
    now += 1500
    expect(rl.hit("a").allowed).toBe(true)
  })

  it("slides: a burst at the end of one window still counts at the start of the next", () => {
    let now = 0
    const rl = new RateLimiter(10, 1000, 100, () => now)
    now = 900
    for (let i = 0; i < 10; i++) expect(rl.hit("k").allowed).toBe(true)
    now = 1100 // 90% of the previous window still overlaps: estimate 9 → one more allowed
    expect(rl.hit("k").allowed).toBe(true)
    expect(rl.hit("k").allowed).toBe(false)
    now = 1950
    expect(rl.hit("k").allowed).toBe(true)
  })

  it("keeps memory bounded: idle keys are swept and the key count is capped", () => {
    let now = 0
    const rl = new RateLimiter(5, 1000, 50, () => now)
    for (let i = 0; i < 500; i++) rl.hit(`ip${i}`)
    expect(rl.size).toBeLessThanOrEqual(50)
    now += 5000
    rl.hit("fresh")
    expect(rl.size).toBe(1)
  })

  it("with a limit of 0 (ARENA_RATE_LIMIT_*=off) allows everything and tracks no key", () => {
    const rl = new RateLimiter(0, 1000, 10, () => 0)
    for (let i = 0; i < 1000; i++) expect(rl.hit(`k${i % 3}`).allowed).toBe(true)
    expect(rl.size).toBe(0)
    expect(() => new RateLimiter(-1, 1000)).toThrow()
    expect(() => new RateLimiter(1.5, 1000)).toThrow()
  })
})
