// Poison pills (ARCHITECTURE §2.4 "bad input never hurts"): text that JSON and JavaScript accept
// but Postgres cannot store — U+0000 and lone UTF-16 surrogates — in an event's username (kept in
// user state, snapshotted as JSON) or a share's title/content. Each must be refused up front with
// its field path; none may leave snapshots failing (the service unready, checkpoints stuck) or 500.
import { afterAll, beforeAll, expect, it } from "vitest"
import { mintToken } from "../../src/gateway/auth/Auth.js"
import { ArenaProcess, JWT_SECRET, cleanup, freshNames, natsClient, publishAll, sleep } from "../support/arena.js"
import type { Nats } from "../support/arena.js"
import { request } from "../reliability/lib/http.js"
import type { ErrorJson } from "../reliability/lib/http.js"

const names = freshNames("poison")
const arena = new ArenaProcess(names, { ARENA_SNAPSHOT_INTERVAL: "200ms" })
let nats: Nats
let writer = ""

beforeAll(async () => {
  nats = await natsClient()
  await arena.start()
  await arena.waitForSeq(0)
  writer = await mintToken({ sub: "producer", scope: "events:write", ttlSeconds: 600 }, JWT_SECRET)
})
afterAll(async () => {
  await arena.kill()
  await nats?.nc.close()
  await cleanup(names)
})

const BAD_TEXT = ["nul\u0000here", "lone\ud800high", "lone\udc00low"]
const ev = (id: string, username: string) =>
  ({ event_id: id, user_id: `poison-${id}`, username, agent_name: "fuzzer", action_type: "task_completed", timestamp: new Date().toISOString() })
type Results = { results: Array<{ status: string; error?: ErrorJson["error"] }> }

it("refuses NUL and lone surrogates in usernames (HTTP 202 item rejected with its path; NATS → DLQ) and keeps snapshotting", async () => {
  const r = await request<Results>(arena.baseUrl, "POST", "/v1/events", { token: writer, json: [...BAD_TEXT.map((t, i) => ev(`h${i}`, t)), ev("ok", "Fine 😀 name")] })
  expect(r.status).toBe(202)
  expect(r.json.results.map((x) => [x.status, x.error?.details.map((d) => d.path)])).toEqual([
    ["rejected", ["username"]], ["rejected", ["username"]], ["rejected", ["username"]], ["accepted", undefined]
  ])
  // Straight into the stream, bypassing the HTTP check: the pipeline dead-letters them instead.
  const acks = await publishAll(nats.js, names.subject, BAD_TEXT.map((t, i) => ev(`n${i}`, t)))
  const head = acks[acks.length - 1]!.seq
  await arena.waitForSeq(head)
  let ready: { ready: boolean; reasons: Array<string>; details: { snapshot_seq?: number } } | undefined
  for (let i = 0; i < 100; i++) {
    ready = (await request<NonNullable<typeof ready>>(arena.baseUrl, "GET", "/readyz")).json
    if (ready.ready && ready.details.snapshot_seq === head) break
    await sleep(100)
  }
  expect(ready).toMatchObject({ ready: true, reasons: [], details: { snapshot_seq: head } })
  expect((await nats.jsm.streams.info(names.dlqStream)).state.messages).toBe(BAD_TEXT.length)
  expect((await request(arena.baseUrl, "GET", "/v1/users/poison-ok")).status).toBe(200)
})

it("refuses NUL in a share's title or content with a 400 naming the field, not a 500", async () => {
  for (const [field, body] of [["body.title", { title: "a\u0000b", content: "c" }], ["body.content", { title: "t", content: "a\u0000b" }]] as const) {
    const r = await request(arena.baseUrl, "POST", "/v1/shares", { token: writer, json: body })
    expect([r.status, r.json.error.details.map((d) => d.path)]).toEqual([400, [field]])
  }
})
