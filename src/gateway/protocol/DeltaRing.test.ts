import { describe, expect, it } from "vitest"
import { DeltaRing } from "./DeltaRing.js"

describe("DeltaRing", () => {
  it("replays the contiguous deltas after `since`, and nothing when the client is current", () => {
    const r = new DeltaRing(10, 1_000_000)
    r.push(1, 2, "a")
    r.push(2, 5, "b")
    r.push(5, 9, "c")
    expect(r.since(2, 9)).toEqual(["b", "c"])
    expect(r.since(1, 9)).toEqual(["a", "b", "c"])
    expect(r.since(9, 9)).toEqual([])
  })

  it("answers null (snapshot needed) when `since` was evicted or never existed", () => {
    const r = new DeltaRing(2, 1_000_000)
    r.push(1, 2, "a")
    r.push(2, 3, "b")
    r.push(3, 4, "c")
    expect(r.size).toBe(2)
    expect(r.since(1, 4)).toBeNull()
    expect(r.since(2, 4)).toEqual(["b", "c"])
    expect(r.since(7, 4)).toBeNull()
  })

  it("stays within its byte bound and restarts on a broken chain", () => {
    const r = new DeltaRing(100, 10)
    r.push(1, 2, "xxxx")
    r.push(2, 3, "yyyy")
    r.push(3, 4, "zzzz")
    expect(r.totalBytes).toBeLessThanOrEqual(10)
    expect(r.since(2, 4)).toEqual(["yyyy", "zzzz"])
    r.push(10, 11, "w")
    expect(r.size).toBe(1)
    expect(r.since(3, 11)).toBeNull()
    expect(r.since(10, 11)).toEqual(["w"])
  })

  it("holds nothing when a single delta exceeds the byte bound, so resume falls back to a snapshot", () => {
    const r = new DeltaRing(100, 3)
    r.push(1, 2, "toolong")
    expect(r.size).toBe(0)
    expect(r.since(1, 2)).toBeNull()
  })
})

describe("DeltaRing with a delta that does not move seq", () => {
  it("answers a resume at that seq with null (a snapshot), since the client may be before or after it", () => {
    const r = new DeltaRing(10, 1 << 20)
    r.push(5, 10, "a")
    r.push(10, 10, "membership")
    r.push(10, 12, "b")
    expect(r.since(10, 12)).toBeNull()
    expect(r.since(5, 12)).toEqual(["a", "membership", "b"])
    expect(r.since(12, 12)).toEqual([])
  })
})
