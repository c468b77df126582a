import { describe, expect, it } from "vitest"
import { parseAck } from "./JetStreamPublisher.js"

const te = new TextEncoder()
const reply = (body: string, headers?: { code: number; description: string }) =>
  ({ data: te.encode(body), headers }) as unknown as Parameters<typeof parseAck>[0]

describe("parseAck", () => {
  it("reads a PubAck, with and without duplicate", () => {
    expect(parseAck(reply(`{"stream":"S","seq":42}`), "x")).toEqual({ ok: true, stream: "S", seq: 42, duplicate: false })
    expect(parseAck(reply(`{"stream":"S","seq":7,"duplicate":true}`), "x")).toEqual({ ok: true, stream: "S", seq: 7, duplicate: true })
  })
  it("turns a JetStream error into a clear, classified failure", () => {
    const big = parseAck(reply(`{"error":{"code":400,"err_code":10054,"description":"message size exceeds maximum allowed"}}`), "x")
    expect(big).toEqual({ ok: false, failure: "stream_error", retryable: false, errCode: 10054, message: "JetStream refused the message: message size exceeds maximum allowed (err_code 10054)" })
    const busy = parseAck(reply(`{"error":{"code":503,"description":"JetStream system temporarily unavailable"}}`), "x")
    expect(busy).toMatchObject({ ok: false, failure: "stream_error", retryable: true })
  })
  it("recognizes no responders (empty reply, status 503) and names the subject", () => {
    const o = parseAck(reply("", { code: 503, description: "No Responders" }), "arena.xp.events")
    expect(o).toMatchObject({ ok: false, failure: "no_responders", retryable: true })
    expect(o.ok ? "" : o.message).toContain("arena.xp.events")
  })
  it("never reports an ack for a reply that is not one", () => {
    for (const body of ["", "nope", "{}", `{"stream":"","seq":1}`, `{"stream":"S"}`, `{"stream":"S","seq":"1"}`, "null", "[]"]) {
      expect(parseAck(reply(body), "x").ok).toBe(false)
    }
  })
})
