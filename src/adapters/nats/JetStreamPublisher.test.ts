import { describe, expect, it } from "vitest"
import { fastAck, parseAck } from "./JetStreamPublisher.js"

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

describe("fastAck", () => {
  const viaJson = (body: string) => {
    try {
      const v = JSON.parse(body) as { stream?: unknown; seq?: unknown; duplicate?: unknown; error?: unknown }
      if (v === null || typeof v !== "object" || v.error !== undefined || typeof v.stream !== "string" || v.stream === "" || typeof v.seq !== "number") return null
      return { ok: true, stream: v.stream, seq: v.seq, duplicate: v.duplicate === true }
    } catch { return null }
  }
  it("reads the server's PubAck and agrees with JSON.parse whenever it answers", () => {
    const cases = [
      `{"stream":"ARENA_XP","seq":1}`, `{"stream":"ARENA_XP","seq":123456789012}`, `{"stream":"S","seq":7,"duplicate":true}`,
      `{"stream":"OTHER","seq":5}`, `{"stream":"ARENA_XP","seq":2}`,
      // exactly what nats-server 2.9.10 sends (captured)
      `{"stream":"ACKFMT", "seq":1}`, `{"stream":"ACKFMT", "seq":1,"duplicate": true}`, `{"stream":"ACKFMT", "seq":2}`,
      // everything below must go to the JSON path (null) or match it
      `{"stream":"A\\"B","seq":1}`, `{"stream":"é","seq":1}`, `{"stream":"S","seq":01}`, `{"stream":"S","seq":}`, `{"stream":"S","seq":1,"duplicate":false}`, `{"stream":"S", "seq":1,"duplicate": tru}`, `{"stream":"S","seq":1,}`, `{"stream":"S"	,"seq":1}`,
      `{"stream":"S","domain":"d","seq":1}`, `{"stream":"S","seq":1 }`, `{"stream":"S","seq":1}x`, `{"stream":"","seq":1}`, `{"stream":"S","seq":-1}`,
      `{"stream":"S","seq":1.5}`, `{"stream":"S","seq":1,"duplicate":true}}`, `{"error":{"code":400}}`, `{"stream":"S"}`, `{"stream":"S","seq":1234567890123456}`
    ]
    let answered = 0
    for (const c of cases) {
      const f = fastAck(te.encode(c))
      if (f !== null) {
        answered++
        expect(f).toEqual(viaJson(c))
      }
      // The full parser agrees with JSON.parse on every case that is a PubAck.
      const full = parseAck(reply(c), "x")
      const j = viaJson(c)
      if (j !== null) expect(full).toEqual(j)
      else expect(full.ok).toBe(false)
    }
    expect(answered).toBe(8)
  })
})
