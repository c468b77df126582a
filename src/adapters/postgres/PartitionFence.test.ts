// The fence rule (PartitionFence.ts fenceRule): lease tokens are sequences of one lease stream, so
// a claim is ordered by its lease stream's creation time first and by its token only within one
// stream. A token of an older stream is refused whatever its value; the first claim from a newer
// stream resets the epoch whatever its token; a fence from before 0011 (stream unrecorded) compares
// tokens. Creation times are NATS's RFC 3339 strings with up to nine fraction digits, which do not
// order as strings.
import { describe, expect, it } from "vitest"
import { createdNanos, fenceRule } from "./PartitionFence.js"

const OLD = "2026-12-07T06:00:00.123456789Z"
const NEW = "2026-12-07T06:40:12.5Z"

describe("fenceRule", () => {
  it("a partition never claimed is taken by any token", () => {
    expect(fenceRule(null, { token: 1, streamCreated: NEW })).toEqual({ _tag: "Take" })
  })

  it("same lease stream: only a higher token takes the fence", () => {
    const current = { epoch: 7562, streamCreated: OLD }
    expect(fenceRule(current, { token: 7563, streamCreated: OLD })).toEqual({ _tag: "Take" })
    expect(fenceRule(current, { token: 7562, streamCreated: OLD })._tag).toBe("Refuse")
    expect(fenceRule(current, { token: 140, streamCreated: OLD })._tag).toBe("Refuse")
  })

  it("a newer lease stream resets the epoch, even with a far lower token", () => {
    const current = { epoch: 7562, streamCreated: OLD }
    expect(fenceRule(current, { token: 140, streamCreated: NEW })).toEqual({ _tag: "Reset", from: current })
    expect(fenceRule(current, { token: 9_000_000, streamCreated: NEW })).toEqual({ _tag: "Reset", from: current })
  })

  it("an older lease stream is refused, even with a far higher token", () => {
    const current = { epoch: 140, streamCreated: NEW }
    const r = fenceRule(current, { token: 7562, streamCreated: OLD })
    expect(r._tag).toBe("Refuse")
    expect(r._tag === "Refuse" && r.reason).toMatch(/older than the fence's/)
  })

  it("a fence from before its stream was recorded compares tokens", () => {
    const legacy = { epoch: 50, streamCreated: null }
    expect(fenceRule(legacy, { token: 51, streamCreated: NEW })).toEqual({ _tag: "Take" })
    expect(fenceRule(legacy, { token: 50, streamCreated: NEW })._tag).toBe("Refuse")
  })

  it("creation times order by their instant, not as strings", () => {
    // As strings "…00.1Z" > "…00.12Z"; as times it is the older one.
    const a = "2026-12-07T06:00:00.1Z"
    const b = "2026-12-07T06:00:00.12Z"
    expect(fenceRule({ epoch: 10, streamCreated: b }, { token: 99, streamCreated: a })._tag).toBe("Refuse")
    expect(fenceRule({ epoch: 10, streamCreated: a }, { token: 1, streamCreated: b })._tag).toBe("Reset")
    // An offset names the same instant as its UTC form: the same stream, so tokens compare.
    expect(fenceRule({ epoch: 10, streamCreated: "2026-12-07T07:00:00+01:00" }, { token: 5, streamCreated: "2026-12-07T06:00:00Z" })._tag).toBe("Refuse")
  })

  it("an unreadable creation time is an error, not a guess", () => {
    expect(() => fenceRule({ epoch: 10, streamCreated: OLD }, { token: 11, streamCreated: "yesterday" })).toThrow(/not an RFC 3339 time/)
  })
})

describe("createdNanos", () => {
  it("keeps all nine fraction digits", () => {
    expect(createdNanos("1970-01-01T00:00:01.000000002Z")).toBe(1_000_000_002n)
    expect(createdNanos("1970-01-01T00:00:01Z")).toBe(1_000_000_000n)
    expect(createdNanos("1970-01-01T00:00:00.5Z")).toBe(500_000_000n)
    expect(createdNanos("not a time")).toBeNull()
  })
})
