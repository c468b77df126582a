import { MsgImpl } from "@nats-io/nats-core/internal"
import type { Publisher } from "@nats-io/nats-core/internal"
import type { JsMsg } from "@nats-io/jetstream"
import fc from "fast-check"
import { describe, expect, it } from "vitest"
import { MSG_CORRECTION, MSG_EVENT, MSG_TICK, kindSubjects } from "../../domain/MessageKind.js"
import { tickMsgId, tickSubject } from "../../domain/Partition.js"
import { kindTable, toRawForTest } from "./EventSource.js"

const te = new TextEncoder()

// The library's delivery-info parser (jetstream/lib/jsmsg.js parseInfo, not exported), as the slow path sees it.
const parseInfo = (s: string) => {
  const t = s.split(".")
  if (t.length === 9) t.splice(2, 0, "_", "")
  if (t.length < 11 || t[0] !== "$JS" || t[1] !== "ACK") throw new Error("not a jetstream message")
  return { streamSequence: parseInt(t[7]!, 10), timestampNanos: parseInt(t[9]!, 10), pending: parseInt(t[10]!, 10) }
}

// The library's exact timestamp (jsmsg.js parseTimestampNanos): the ns token as a bigint.
const timestampNanos = (s: string): bigint => {
  const t = s.split(".")
  if (t.length === 9) t.splice(2, 0, "_", "")
  if (t.length < 11 || t[0] !== "$JS" || t[1] !== "ACK") throw new Error("not a jetstream message")
  return BigInt(t[9]!)
}

/** A JetStream message as the consumer hands it on: a JsMsg over the core MsgImpl of the wire bytes. */
const jsMsg = (reply: string, header: string | null, payload: string, subject = "x.events"): JsMsg => {
  const h = header === null ? new Uint8Array(0) : te.encode(header)
  const p = te.encode(payload)
  const rdata = new Uint8Array(h.length + p.length)
  rdata.set(h)
  rdata.set(p, h.length)
  const core = new MsgImpl({ subject: te.encode(subject), reply: te.encode(reply), sid: 1, hdr: header === null ? -1 : h.length, size: rdata.length }, rdata, {} as Publisher)
  return { msg: core, get subject() { return core.subject }, get info() { return parseInfo(core.reply) }, get timestampNanos() { return timestampNanos(core.reply) }, get data() { return core.data }, get headers() { return core.headers } } as unknown as JsMsg
}

/** Both ways on one message: the fast one answers the same or leaves it to the slow one. */
const both = (m: JsMsg, kinds?: ReturnType<typeof kindTable>) => {
  const fast = toRawForTest.fast(m, kinds)
  const fastPending = toRawForTest.pending()
  const slow = toRawForTest.slow(m, kinds)
  const slowPending = toRawForTest.pending()
  if (fast !== null) {
    expect({ ...fast, data: [...fast.data] }).toEqual({ ...slow, data: [...slow.data] })
    expect(fastPending).toBe(slowPending)
  }
  return { fast, slow }
}

const reply = (seq: number, ns: bigint, pending: number, form: "old" | "new" | "token" = "new") =>
  form === "old" ? `$JS.ACK.S.C.1.${seq}.${seq}.${ns}.${pending}` : `$JS.ACK._.ACCHASH.S.C.1.${seq}.${seq}.${ns}.${pending}${form === "token" ? ".abc" : ""}`

describe("EventSource message conversion", () => {
  it("reads seq, stream time, pending, Nats-Msg-Id and payload from the bytes, as the library's accessors do", () => {
    const m = jsMsg(reply(42, 1_765_000_000_123_456_789n, 7), "NATS/1.0\r\nNats-Msg-Id: ev-1\r\n\r\n", `{"a":1}`)
    const { fast } = both(m)
    expect(fast).toEqual({ seq: 42, streamTimeMs: 1_765_000_000_123, data: te.encode(`{"a":1}`), msgId: "ev-1", kind: MSG_EVENT })
    expect(toRawForTest.pending()).toBe(7)
    for (const form of ["old", "token"] as const) expect(both(jsMsg(reply(5, 1_765_000_000_000_500_001n, 0, form), "NATS/1.0\r\nNats-Msg-Id: x\r\n\r\n", "{}")).fast).not.toBeNull()
  })

  it("tells message kinds apart by their exact subject, the same both ways", () => {
    const kinds = kindTable(kindSubjects("x"))
    const h = "NATS/1.0\r\nNats-Msg-Id: c-1\r\n\r\n"
    const kindOn = (subject: string) => {
      const { fast, slow } = both(jsMsg(reply(3, 1_765_000_000_000_500_001n, 0), h, "{}", subject), kinds)
      expect(fast).not.toBeNull()
      return slow.kind
    }
    expect(kindOn("x.corrections")).toBe(MSG_CORRECTION)
    // Same length, other prefix; an event subject whose user token is "corrections"; a longer one.
    expect(kindOn("y.corrections")).toBe(MSG_EVENT)
    expect(kindOn("x.events.corrections")).toBe(MSG_EVENT)
    expect(kindOn("x.corrections.a")).toBe(MSG_EVENT)
    expect(kindOn("x.events")).toBe(MSG_EVENT)
    // Without a kind table every message is an event.
    expect(toRawForTest.slow(jsMsg(reply(3, 1_765_000_000_000_500_001n, 0), h, "{}", "x.corrections")).kind).toBe(MSG_EVENT)
  })

  it("reads a partition's tick (its own subject, a header, no body) as a tick, the same both ways", () => {
    const kinds = kindTable([{ kind: MSG_TICK, subject: tickSubject(3) }])
    const on = (subject: string, body = "") => {
      const { fast, slow } = both(jsMsg(reply(9, 1_765_000_000_000_500_001n, 0), `NATS/1.0\r\nNats-Msg-Id: ${tickMsgId(3, 1_765_000_000)}\r\n\r\n`, body, subject), kinds)
      expect(fast).not.toBeNull()
      expect(slow.kind).toBe(fast!.kind)
      return fast!
    }
    expect(on(tickSubject(3))).toEqual({ seq: 9, streamTimeMs: 1_765_000_000_000, data: new Uint8Array(0), msgId: "tick/3/1765000000", kind: MSG_TICK })
    // A user's subject of the same length, and a user whose token is "tick", are events.
    expect(on("arena.xp.p.3.abcde", "{}").kind).toBe(MSG_EVENT)
    expect(on("arena.xp.p.3.tick", "{}").kind).toBe(MSG_EVENT)
  })

  it("agrees with the library on every reply and header shape it accepts, and declines the rest", () => {
    const headerLine = fc.oneof(
      fc.constantFrom("Nats-Msg-Id: ev-9", "Nats-Msg-Id:ev-9", "Nats-Msg-Id:   ev-9  ", "Nats-Msg-Id: ", "nats-msg-id: lower", "X-Other: 1", "Nats-Msg-Id: é", "Bad Key: v", "NoColon", ""),
      fc.string({ maxLength: 20 })
    )
    const header = fc.oneof(
      fc.constant(null),
      fc.array(headerLine, { maxLength: 4 }).map((ls) => `NATS/1.0\r\n${ls.map((l) => `${l}\r\n`).join("")}\r\n`),
      fc.constantFrom("NATS/1.0 100 Idle Heartbeat\r\n\r\n", "NATS/1.0\r\nNats-Msg-Id: a\nb\r\n\r\n", "NATS/1.0\r\nNats-Msg-Id: a\r", "")
    )
    const ns = fc.bigInt({ min: 1_700_000_000_000_000_000n, max: 1_800_000_000_000_000_000n })
    // Timestamps a few ns around a millisecond boundary, where floating-point rounding bites.
    const edgeNs = fc.tuple(fc.bigInt({ min: 1_700_000_000_000n, max: 1_800_000_000_000n }), fc.integer({ min: -2000, max: 2000 })).map(([ms, d]) => ms * 1_000_000n + BigInt(d))
    const replyText = fc.oneof(
      fc.tuple(fc.integer({ min: 1, max: 2 ** 40 }), fc.oneof(ns, edgeNs), fc.nat(), fc.constantFrom("old" as const, "new" as const, "token" as const)).map(([s, t, p, f]) => reply(s, t, p, f)),
      fc.constantFrom("$JS.ACK.S.C.1.x.1.5.0", "$JS.ACK.S.C.1.1.1", "$JX.ACK._.H.S.C.1.1.1.1765000000000000000.0", "_INBOX.abc")
    )
    fc.assert(fc.property(replyText, header, fc.string({ maxLength: 30 }), (r, h, p) => {
      let slowThrows = false
      try { toRawForTest.slow(jsMsg(r, h, p)) } catch { slowThrows = true }
      if (slowThrows) {
        expect(toRawForTest.fast(jsMsg(r, h, p))).toBeNull() // what the library refuses is left to it
        return
      }
      both(jsMsg(r, h, p))
    }), { numRuns: 3000 })
  })

  it("floors the exact timestamp on and around a millisecond boundary, where a double's division errs (found by CI runs)", () => {
    const cases: Array<[bigint, number]> = [
      [1716512460538000000n, 1716512460538], [1716512460538000255n, 1716512460538], [1716512460537999744n, 1716512460537],
      [1716512460537999999n, 1716512460537], [1765000039741000000n, 1765000039741], [1765000039740999999n, 1765000039740]
    ]
    for (const f of ["old", "new", "token"] as const) {
      for (const [t, ms] of cases) {
        const { fast, slow } = both(jsMsg(reply(1, t, 0, f), "NATS/1.0\r\n\r\n", ""))
        expect(fast?.streamTimeMs).toBe(ms)
        expect(slow.streamTimeMs).toBe(ms)
      }
    }
  })

  it("takes the fast way for ordinary messages (the library's internals still have the expected shape)", () => {
    let fast = 0
    for (let i = 0; i < 1000; i++) {
      const m = jsMsg(reply(i + 1, 1_765_000_000_000_000_000n + BigInt(i) * 1_234_567_891n, 1000 - i), `NATS/1.0\r\nNats-Msg-Id: ev-${i}\r\n\r\n`, `{"i":${i}}`)
      if (both(m).fast !== null) fast++
    }
    expect(fast).toBe(1000)
  })
})
