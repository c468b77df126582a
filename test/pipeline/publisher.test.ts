// The lean JetStream publisher (src/adapters/nats/JetStreamPublisher.ts) and the HTTP ingest port built
// on it, against the real NATS JetStream: every message acked or a clear error, Nats-Msg-Id dedupe and
// duplicates reported as such, stream refusals, no stream (no responders), timeouts, the in-flight
// window, a closed connection. No wall-clock assertions: timeouts are triggered by a responder that
// never answers, never by measuring time.
import * as net from "node:net"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { StorageType } from "@nats-io/jetstream"
import { connect, headers } from "@nats-io/transport-node"
import type { Msg } from "@nats-io/transport-node"
import { fastAck, JetStreamPublisher } from "../../src/adapters/nats/JetStreamPublisher.js"
import type { PubOutcome } from "../../src/adapters/nats/JetStreamPublisher.js"
import { makeIngest } from "../../src/adapters/nats/Publisher.js"
import type { Validate } from "../../src/ports/Ingest.js"
import { freshNames, NATS_URL, natsClient } from "../support/arena.js"
import type { Nats } from "../support/arena.js"

let nats: Nats
const names = freshNames("pub")
const STREAM = names.stream, SUBJECT = names.subject
const SMALL = `${names.stream}_SMALL`, SMALL_SUBJECT = `${names.id}.small`

beforeAll(async () => {
  nats = await natsClient()
  await nats.jsm.streams.add({ name: STREAM, subjects: [SUBJECT], storage: StorageType.File, duplicate_window: 60_000_000_000 })
  await nats.jsm.streams.add({ name: SMALL, subjects: [SMALL_SUBJECT], storage: StorageType.Memory, max_msg_size: 64 })
})
afterAll(async () => {
  for (const s of [STREAM, SMALL]) await nats.jsm.streams.delete(s).catch(() => false)
  await nats.nc.close()
})

const ok = (o: PubOutcome | undefined) => {
  if (o === undefined || !o.ok) throw new Error(`expected an ack, got ${JSON.stringify(o)}`)
  return o
}
const failed = (o: PubOutcome | undefined) => {
  if (o === undefined || o.ok) throw new Error(`expected a failure, got ${JSON.stringify(o)}`)
  return o
}
const until = async (cond: () => boolean) => {
  for (let i = 0; i < 500 && !cond(); i++) await new Promise((r) => setTimeout(r, 10))
  if (!cond()) throw new Error("condition never became true")
}

// Both ways of writing: a pump's frames in one buffer (the default) and nc.publish per message.
describe.each([["frames", {}], ["nc.publish", { perMessagePublish: true }]] as const)("JetStreamPublisher (%s)", (name, mode) => {
  const id = (s: string) => `${name}:${s}`
  it("acks every message with its stream sequence, stores the bytes and the Nats-Msg-Id header", async () => {
    const pub = new JetStreamPublisher(nats.nc, { ...mode, maxInFlight: 16 })
    const items = Array.from({ length: 300 }, (_, i) => ({ msgId: id(`a-${i}`), data: JSON.stringify({ i }) }))
    const before = (await nats.jsm.streams.info(STREAM)).state.messages
    const out = await pub.publishBatch(SUBJECT, items)
    expect(out).toHaveLength(300)
    const seqs = out.map((o) => ok(o).seq)
    expect(out.every((o) => ok(o).stream === STREAM && !ok(o).duplicate)).toBe(true)
    expect(new Set(seqs).size).toBe(300)
    expect((await nats.jsm.streams.info(STREAM)).state.messages - before).toBe(300)
    // Each reported seq holds that very message, with its id in the header.
    for (const k of [0, 137, 299]) {
      const m = await nats.jsm.streams.getMessage(STREAM, { seq: seqs[k] as number })
      expect(m?.json()).toEqual({ i: k })
      expect(m?.header.get("Nats-Msg-Id")).toBe(id(`a-${k}`))
    }
    expect(pub.inFlightCount).toBe(0)
  })

  it("publishes byte payloads and non-ASCII text exactly, between string payloads", async () => {
    const pub = new JetStreamPublisher(nats.nc, mode)
    const bytes = new TextEncoder().encode(JSON.stringify({ b: "bytes é" }))
    const out = await pub.publishBatch(SUBJECT, [
      { msgId: id("b-1"), data: JSON.stringify({ s: "ünïcødé 🎉" }) },
      { msgId: id("b-2"), data: bytes },
      { msgId: id("b-3"), data: "{\"s\":3}" }
    ])
    const got = await Promise.all(out.map(async (o) => (await nats.jsm.streams.getMessage(STREAM, { seq: ok(o).seq }))?.json()))
    expect(got).toEqual([{ s: "ünïcødé 🎉" }, { b: "bytes é" }, { s: 3 }])
  })

  it("reports re-sent ids as duplicates with the original sequence, within a batch and across batches", async () => {
    const pub = new JetStreamPublisher(nats.nc, mode)
    const first = await pub.publishBatch(SUBJECT, [{ msgId: id("d-1"), data: "{}" }, { msgId: id("d-2"), data: "{}" }])
    const again = await pub.publishBatch(SUBJECT, [{ msgId: id("d-2"), data: "{}" }, { msgId: id("d-3"), data: "{}" }, { msgId: id("d-3"), data: "{}" }])
    expect(first.map((o) => ok(o).duplicate)).toEqual([false, false])
    expect(again.map((o) => ok(o).duplicate)).toEqual([true, false, true])
    expect(ok(again[0]).seq).toBe(ok(first[1]).seq)
    expect(ok(again[2]).seq).toBe(ok(again[1]).seq)
    const info = await nats.jsm.streams.info(STREAM)
    expect(info.state.last_seq).toBe(ok(again[1]).seq)
  })

  it("reports the stream's refusal for the message it refused and acks the others", async () => {
    const pub = new JetStreamPublisher(nats.nc, mode)
    const before = (await nats.jsm.streams.info(SMALL)).state.messages
    const out = await pub.publishBatch(SMALL_SUBJECT, [
      { msgId: id("s-1"), data: "{}" },
      { msgId: id("s-2"), data: JSON.stringify({ pad: "x".repeat(500) }) },
      { msgId: id("s-3"), data: "{}" }
    ])
    ok(out[0]); ok(out[2])
    const f = failed(out[1])
    expect(f.failure).toBe("stream_error")
    expect(f.retryable).toBe(false)
    expect(f.message).toMatch(/JetStream refused the message: .*message size exceeds maximum/)
    expect((await nats.jsm.streams.info(SMALL)).state.messages - before).toBe(2)
  })

  it("says no stream answered when no stream captures the subject", async () => {
    const pub = new JetStreamPublisher(nats.nc, mode)
    const subject = `${names.id}.nowhere`
    const out = await pub.publishBatch(subject, [{ msgId: "n-1", data: "{}" }, { msgId: "n-2", data: "{}" }])
    for (const o of out) {
      const f = failed(o)
      expect(f.failure).toBe("no_responders")
      expect(f.retryable).toBe(true)
      expect(f.message).toContain(subject)
      expect(f.message).toMatch(/no responders/)
    }
  })

  it("times a batch out when nothing acks, reports every message as not acknowledged, and ignores late acks", async () => {
    // A plain subscriber is a responder that never answers (as a stalled server would be).
    const subject = `${names.id}.silent`
    const held: Msg[] = []
    const sub = nats.nc.subscribe(subject, { callback: (_e, m) => { held.push(m) } })
    await nats.nc.flush()
    const pub = new JetStreamPublisher(nats.nc, { ...mode, maxInFlight: 2 })
    try {
      const out = await pub.publishBatch(subject, [{ msgId: "t-1", data: "{}" }, { msgId: "t-2", data: "{}" }, { msgId: "t-3", data: "{}" }], 200)
      const f = out.map(failed)
      expect(f.map((x) => x.failure)).toEqual(["timeout", "timeout", "timeout"])
      expect(f.every((x) => x.retryable)).toBe(true)
      // Two were sent (window 2) and may have been stored; the third never left the client.
      expect(f[0]?.message).toMatch(/did not acknowledge .* may or may not be stored/)
      expect(f[2]?.message).toMatch(/not published: no room/)
      await until(() => held.length === 2)
      await nats.nc.flush()
      expect(held.length).toBe(2)
      expect(pub.inFlightCount).toBe(0)
      // An ack that arrives after the timeout changes nothing.
      held[0]?.respond(JSON.stringify({ stream: "X", seq: 1 }))
      await until(() => pub.lateAcks === 1)
      // The window is free again.
      const next = pub.publishBatch(SUBJECT, [{ msgId: id("t-after"), data: "{}" }])
      expect(ok((await next)[0]).stream).toBe(STREAM)
    } finally {
      sub.unsubscribe()
    }
  })

  it("keeps at most maxInFlight unacked publishes and sends the rest as acks arrive, in order", async () => {
    const subject = `${names.id}.window`
    const held: Msg[] = []
    const sub = nats.nc.subscribe(subject, { callback: (_e, m) => { held.push(m) } })
    await nats.nc.flush()
    const pub = new JetStreamPublisher(nats.nc, { ...mode, maxInFlight: 3 })
    try {
      const a = pub.publishBatch(subject, Array.from({ length: 5 }, (_, i) => ({ msgId: id(`w-a${i}`), data: `a${i}` })))
      const b = pub.publishBatch(subject, [{ msgId: id("w-b0"), data: "b0" }])
      await until(() => held.length === 3)
      await nats.nc.flush()
      expect(held.length).toBe(3)
      expect(pub.inFlightCount).toBe(3)
      let seq = 0
      // Answer whatever is held, as JetStream would (one duplicate among them), until all six were seen.
      const seen: string[] = []
      while (seen.length < 6) {
        await until(() => held.length > 0)
        const m = held.shift() as Msg
        seen.push(m.string())
        expect(m.headers?.get("Nats-Msg-Id")).toBe(id(`w-${m.string()}`))
        m.respond(JSON.stringify(m.string() === "a3" ? { stream: "W", seq: 1, duplicate: true } : { stream: "W", seq: ++seq }))
      }
      expect(seen).toEqual(["a0", "a1", "a2", "a3", "a4", "b0"])
      const outA = await a, outB = await b
      expect(outA.map((o) => ok(o).duplicate)).toEqual([false, false, false, true, false])
      expect(ok(outB[0]).seq).toBe(5)
    } finally {
      sub.unsubscribe()
    }
  })

  it("fails open and later publishes clearly when the connection closes", async () => {
    const nc = await connect({ servers: NATS_URL })
    const subject = `${names.id}.closing`
    const sub = nats.nc.subscribe(subject, { callback: () => undefined }) // never answers
    await nats.nc.flush()
    const pub = new JetStreamPublisher(nc, mode)
    try {
      const open = pub.publishBatch(subject, [{ msgId: "c-1", data: "{}" }], 60_000)
      await nc.flush()
      await nc.close()
      const f = failed((await open)[0])
      expect(f.failure).toBe("closed")
      expect(f.message).toMatch(/connection is closed/)
      const later = failed((await pub.publishBatch(SUBJECT, [{ msgId: "c-2", data: "{}" }]))[0])
      expect(later.failure).toBe("closed")
    } finally {
      sub.unsubscribe()
    }
  })

  it("times out, saying so per message, while NATS is unreachable (the client keeps reconnecting)", async () => {
    // A TCP relay to the real NATS that we can cut: the client then retries forever and buffers.
    const target = new URL(NATS_URL.replace(/^nats:/, "http:"))
    const sockets = new Set<net.Socket>()
    const relay = net.createServer((c) => {
      const up = net.connect(Number(target.port || 4222), target.hostname)
      for (const s of [c, up]) { sockets.add(s); s.on("error", () => undefined); s.on("close", () => sockets.delete(s)) }
      c.pipe(up).pipe(c)
    })
    await new Promise<void>((r) => relay.listen(0, "127.0.0.1", r))
    const port = (relay.address() as net.AddressInfo).port
    const nc = await connect({ servers: `nats://127.0.0.1:${port}`, maxReconnectAttempts: -1, reconnectTimeWait: 50 })
    const pub = new JetStreamPublisher(nc, mode)
    try {
      ok((await pub.publishBatch(SUBJECT, [{ msgId: id("u-1"), data: "{}" }]))[0]) // through the relay
      await new Promise<void>((r) => { relay.close(() => r()); for (const s of sockets) s.destroy() })
      const out = await pub.publishBatch(SUBJECT, [{ msgId: id("u-2"), data: "{}" }, { msgId: id("u-3"), data: "{}" }], 300)
      for (const o of out) {
        const f = failed(o)
        expect(f.failure).toBe("timeout")
        expect(f.retryable).toBe(true)
        expect(f.message).toMatch(/did not acknowledge the publish within 0.3 s/)
      }
      expect(pub.inFlightCount).toBe(0)
    } finally {
      await nc.close()
    }
    // Nothing from the cut-off batch reached the stream.
    const seen = await nats.jsm.streams.getMessage(STREAM, { last_by_subj: SUBJECT })
    expect(seen?.header.get("Nats-Msg-Id")).not.toMatch(/u-[23]$/)
  })

  it("refuses a message id with a line break (header injection) without sending it", async () => {
    const pub = new JetStreamPublisher(nats.nc, mode)
    const out = await pub.publishBatch(SUBJECT, [{ msgId: "x\r\nNats-Expected-Stream: Y", data: "{}" }, { msgId: id("ok-after-bad"), data: "{}" }])
    expect(failed(out[0]).failure).toBe("invalid")
    ok(out[1])
  })
})

it("reads this server's PubAcks (new and duplicate) on the fast path, without JSON.parse", async () => {
  const replies: Msg[] = []
  for (const msgId of ["fa-1", "fa-1"]) {
    const h = headers()
    h.set("Nats-Msg-Id", msgId)
    replies.push(await nats.nc.request(SUBJECT, "{}", { headers: h, timeout: 10_000 }))
  }
  const [a, b] = replies.map((m) => fastAck(m.data))
  expect(a).toMatchObject({ ok: true, stream: STREAM, duplicate: false })
  expect(b).toMatchObject({ ok: true, stream: STREAM, duplicate: true })
  expect(b?.ok && a?.ok && b.seq === a.seq).toBe(true)
})

it("the ingest port answers per item: accepted, duplicate, rejected by validation, and stream errors", async () => {
  const validate: Validate = (item) => {
    const e = item as { event_id?: unknown; pad?: unknown }
    if (typeof e.event_id !== "string") return { ok: false, eventId: null, reason: "invalid_event", message: "invalid event: event_id missing", issues: [{ path: "event_id", message: "is missing" }] }
    return { ok: true, eventId: e.event_id, userId: "u", json: JSON.stringify(e) }
  }
  const ingest = makeIngest(nats.js, SMALL_SUBJECT, validate)
  const r = await ingest.publish([{ event_id: "i-1" }, { nope: 1 }, { event_id: "i-1" }, { event_id: "i-big", pad: "y".repeat(200) }, { event_id: "i-2" }])
  expect(r.map((x) => x.status)).toEqual(["accepted", "rejected", "duplicate", "rejected", "accepted"])
  expect(r[1]).toMatchObject({ event_id: null, error: { code: "invalid_event", details: [{ path: "event_id" }] } })
  expect(r[3]).toMatchObject({ event_id: "i-big", error: { code: "publish_failed" } })
  expect(r[3]?.status === "rejected" ? r[3].error.message : "").toMatch(/not stored: JetStream refused the message: .*size/)
  const none = makeIngest(nats.js, `${names.id}.nostream`, validate)
  const n = await none.publish([{ event_id: "i-3" }])
  expect(n[0]).toMatchObject({ status: "rejected", event_id: "i-3", error: { code: "unavailable" } })
})

it("an ingest port with a subject per user: each event on its user's subject in one batch, deduped by id across subjects, a subject no stream captures rejected", async () => {
  const PER = `${STREAM}_PER`
  await nats.jsm.streams.add({ name: PER, subjects: [`${names.id}.per.*`], storage: StorageType.Memory, duplicate_window: 60_000_000_000 })
  try {
    const validate: Validate = (item) => {
      const e = item as { event_id: string; user_id: string }
      return { ok: true, eventId: e.event_id, userId: e.user_id, json: JSON.stringify(e) }
    }
    const ingest = makeIngest(nats.js, (user) => (user === "lost" ? `${names.id}.elsewhere.${user}` : `${names.id}.per.${user}`), validate)
    const r = await ingest.publish([
      { event_id: "s-1", user_id: "ann" }, { event_id: "s-2", user_id: "bob" }, { event_id: "s-3", user_id: "ann" },
      { event_id: "s-1", user_id: "bob" }, { event_id: "s-4", user_id: "lost" }
    ])
    expect(r.map((x) => x.status)).toEqual(["accepted", "accepted", "accepted", "duplicate", "rejected"])
    expect(r[4]).toMatchObject({ event_id: "s-4", error: { code: "unavailable" } })
    expect(r[4]?.status === "rejected" ? r[4].error.message : "").toContain(`${names.id}.elsewhere.lost`)
    const subjects = await Promise.all([0, 1, 2].map(async (k) => {
      const x = r[k]
      return (await nats.jsm.streams.getMessage(PER, { seq: x?.status === "accepted" ? x.seq : -1 }))?.subject
    }))
    expect(subjects).toEqual([`${names.id}.per.ann`, `${names.id}.per.bob`, `${names.id}.per.ann`])
  } finally {
    await nats.jsm.streams.delete(PER).catch(() => false)
  }
})
