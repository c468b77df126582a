// POST /v1/events in the real service, through the lean JetStream publisher: each accepted event is
// in the stream at the reported seq with Nats-Msg-Id = event_id, re-sent ids are duplicates with the
// original seq, the pipeline counts each once, and an event the stream refuses gets its own clear
// error while the rest of the request is stored.
import { afterAll, beforeAll, expect, it } from "vitest"
import { mintToken } from "../../src/gateway/auth/Auth.js"
import { ArenaProcess, JWT_SECRET, cleanup, freshNames, natsClient } from "../support/arena.js"
import type { Nats } from "../support/arena.js"
import { api } from "./client.js"
import { event } from "./harness.js"

const names = freshNames("ingp")
const arena = new ArenaProcess(names)
let nats: Nats

type Result = { status: string; event_id: string | null; seq?: number; error?: { code: string; message: string } }
type Body = { accepted: number; duplicate: number; rejected: number; results: Result[] }

beforeAll(async () => {
  nats = await natsClient()
  await arena.start()
  await arena.waitForSeq(0)
})
afterAll(async () => {
  await arena.stop()
  await nats.nc.close()
  await cleanup(names)
})

const post = async (body: unknown) => {
  const token = await mintToken({ sub: "producer", scope: "events:write", ttlSeconds: 600 }, JWT_SECRET)
  const r = await api<Body>(arena.baseUrl, "POST", "/v1/events", { token, body })
  expect(r.status).toBe(202)
  return r.json
}

it("stores each accepted event at its reported seq with its id, reports duplicates, and the pipeline counts each once", async () => {
  const evs = Array.from({ length: 300 }, (_, i) => event(`ip${i % 7}`))
  const first = await post([...evs, { ...evs[5] }, { event_id: "bad id!" }])
  expect(first.accepted).toBe(300)
  expect(first.duplicate).toBe(1)
  expect(first.rejected).toBe(1)
  expect(first.results[300]).toMatchObject({ status: "duplicate", event_id: evs[5]!.event_id, seq: first.results[5]!.seq })
  expect(first.results[301]).toMatchObject({ status: "rejected", error: { code: "invalid_event" } })
  for (const k of [0, 5, 299]) {
    const m = await nats.jsm.streams.getMessage(names.stream, { seq: first.results[k]!.seq! })
    expect(m?.header.get("Nats-Msg-Id")).toBe(evs[k]!.event_id)
    expect(m?.json<{ event_id: string }>().event_id).toBe(evs[k]!.event_id)
  }
  const again = await post(evs.slice(0, 10))
  expect(again.duplicate).toBe(10)
  expect(again.results.map((r) => r.seq)).toEqual(first.results.slice(0, 10).map((r) => r.seq))
  const last = Math.max(...first.results.filter((r) => r.seq !== undefined).map((r) => r.seq!))
  expect((await nats.jsm.streams.info(names.stream)).state.last_seq).toBe(last)
  await arena.waitForSeq(last)
  // 300 task_completed events (10 XP each) over 7 users, each counted once.
  let total = 0
  for (let u = 0; u < 7; u++) total += (await api<{ total_xp: number }>(arena.baseUrl, "GET", `/v1/users/ip${u}`)).json.total_xp
  expect(total).toBe(300 * 10)
})

it("answers a clear per-event error for an event the stream refuses and stores the others", async () => {
  const info = await nats.jsm.streams.info(names.stream)
  await nats.jsm.streams.update(names.stream, { ...info.config, max_msg_size: 1024 })
  try {
    const small = event("ir1"), big = event("ir2", "task_completed", "coder", { metadata: { note: "z".repeat(2000) } }), after = event("ir3")
    const r = await post([small, big, after])
    expect(r.results.map((x) => x.status)).toEqual(["accepted", "rejected", "accepted"])
    expect(r.results[1]).toMatchObject({ event_id: big.event_id, error: { code: "publish_failed" } })
    expect(r.results[1]!.error!.message).toMatch(/not stored: JetStream refused the message: message size exceeds maximum/)
  } finally {
    await nats.jsm.streams.update(names.stream, { ...info.config })
  }
})

it("refuses at the door an event over 16 KiB serialized (naming it) or with metadata over 4 KiB (naming `metadata`); what it accepts the pipeline applies", async () => {
  type Detailed = Result & { error?: { code: string; message: string; details: Array<{ path: string; message: string }> } }
  const frac = (n: number) => `${new Date().toISOString().slice(0, 19)}.${"0".repeat(n)}Z`
  // Every field valid; the timestamp's 20,000 fraction digits make the event ~20 KiB.
  const longTs = event("sz1", "task_completed", "coder", { timestamp: frac(20_000) })
  const bigMeta = event("sz2", "task_completed", "coder", { metadata: { note: "m".repeat(4100) } })
  // Exactly 16 KiB as published (JSON.stringify of the item), grown through the fraction digits.
  const edge = event("sz3", "task_completed", "coder", { timestamp: frac(1) })
  edge["timestamp"] = frac(1 + 16 * 1024 - Buffer.byteLength(JSON.stringify(edge)))
  expect(Buffer.byteLength(JSON.stringify(edge))).toBe(16 * 1024)
  const r = (await post([longTs, bigMeta, edge])) as Body & { results: Detailed[] }
  expect(r.results.map((x) => x.status)).toEqual(["rejected", "rejected", "accepted"])
  expect(r.results[0]).toMatchObject({ event_id: longTs.event_id, error: { code: "oversized", details: [{ path: "" }] } })
  expect(r.results[0]!.error!.message).toMatch(/^event is \d+ bytes serialized; the limit is 16384$/)
  expect(r.results[1]).toMatchObject({ event_id: bigMeta.event_id, error: { code: "invalid_event" } })
  expect(r.results[1]!.error!.details.map((d) => d.path)).toEqual(["metadata"])
  // The accepted one is in the stream as published, byte for byte, and the pipeline applies it.
  const seq = r.results[2]!.seq!
  const stored = await nats.jsm.streams.getMessage(names.stream, { seq })
  expect(stored!.data.length).toBe(16 * 1024)
  await arena.waitForSeq(seq)
  expect((await api<{ total_xp: number }>(arena.baseUrl, "GET", "/v1/users/sz3")).json.total_xp).toBe(10)
  const dlq = await nats.jsm.streams.info(names.dlqStream).then((i) => i.state.messages, () => 0)
  expect(dlq).toBe(0)
  expect((await api(arena.baseUrl, "GET", "/v1/users/sz1")).status).toBe(404)
})
