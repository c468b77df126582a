// Hostile events and the dead-letter queue (ARCHITECTURE §2.2, §2.4): text that ends up in the
// DLQ's Arena-Message header (attacker-chosen action types, multipliers, ids, CR/LF) can neither
// add or forge headers nor switch off JetStream's dedupe of `dlq:<seq>` — so a replay after
// kill -9 still dead-letters every bad event exactly once, with its reason.
import { afterAll, beforeAll, expect, it } from "vitest"
import { DeliverPolicy } from "@nats-io/jetstream"
import { ArenaProcess, cleanup, freshNames, natsClient, publishAll } from "../support/arena.js"
import type { Nats } from "../support/arena.js"

const names = freshNames("dlqh")
// No interval snapshot: after the kill the service replays everything from seq 1.
const arena = new ArenaProcess(names, { ARENA_SNAPSHOT_INTERVAL: "1h" })
let nats: Nats

beforeAll(async () => {
  nats = await natsClient()
  await arena.start()
  await arena.waitForSeq(0)
})
afterAll(async () => {
  await arena.kill()
  await nats?.nc.close()
  await cleanup(names)
})

const ev = (id: string, extra: Record<string, unknown> = {}) =>
  ({ event_id: id, user_id: "mallory", agent_name: "fuzzer", action_type: "task_completed", timestamp: new Date().toISOString(), ...extra })

interface Letter { seq: number; reason: string; headers: Array<[string, string]> }

const letters = async (): Promise<Array<Letter>> => {
  const stored = (await nats.jsm.streams.info(names.dlqStream)).state.messages
  const out: Array<Letter> = []
  if (stored === 0) return out
  const c = await nats.js.consumers.get(names.dlqStream, { deliver_policy: DeliverPolicy.All })
  const it = await c.fetch({ max_messages: stored, expires: 5000 })
  for await (const m of it) {
    const h = m.headers!
    out.push({ seq: Number(h.get("Arena-Seq")), reason: h.get("Arena-Reason"), headers: [...h.keys()].map((k) => [k, h.get(k)]) })
  }
  return out
}

it("dead-letters hostile events once each, across kill -9 and replay, with only its own headers", async () => {
  const acks = await publishAll(nats.js, names.subject, [
    ev("ok-1"),
    { raw: JSON.stringify(ev("no-header")) },                                                      // msg_id_mismatch (names the header)
    { raw: JSON.stringify(ev("mismatch")), msgId: "someone-else" },                                // msg_id_mismatch
    ev("act", { action_type: "Nats-Msg-Id" }),                                                     // unknown_action, echoed
    ev("mult", { multipliers: ["\r\nNats-Msg-Id: dlq:1\r\nArena-Reason: forged"] }),              // invalid_multiplier, echoed
    { raw: JSON.stringify(ev("id\r\nArena-Reason: forged\r\nNats-Msg-Id: dlq:1")), msgId: "inj" }, // invalid_event
    { raw: JSON.stringify(ev("ts", { timestamp: "2026-11-26T10:00:00Z\r\nNats-Rollup: all" })), msgId: "ts" }, // invalid_event
    ev("ok-2")
  ])
  const head = acks[acks.length - 1]!.seq
  expect(head).toBe(8)
  await arena.waitForSeq(head)
  for (let i = 0; i < 100 && (await nats.jsm.streams.info(names.dlqStream)).state.messages < 6; i++) await new Promise((r) => setTimeout(r, 100))
  expect((await nats.jsm.streams.info(names.dlqStream)).state.messages).toBe(6)
  await arena.kill()
  await arena.start() // replays seq 1..8: every bad event is dead-lettered again → deduplicated
  await arena.waitForSeq(head)
  expect(await arena.stop()).toBe(0) // the final snapshot waits until dead letters are acked

  const got = await letters()
  expect(got.map((l) => [l.seq, l.reason]).sort((a, b) => Number(a[0]) - Number(b[0]))).toEqual([
    [2, "msg_id_mismatch"], [3, "msg_id_mismatch"], [4, "unknown_action"], [5, "invalid_multiplier"], [6, "invalid_event"], [7, "invalid_event"]
  ])
  for (const l of got) {
    expect(l.headers.map(([k]) => k).sort()).toEqual(["Arena-Message", "Arena-Reason", "Arena-Seq", "Nats-Msg-Id"])
    expect(Object.fromEntries(l.headers)["Nats-Msg-Id"]).toBe(`dlq:${l.seq}`)
    for (const [, v] of l.headers) expect(v).not.toMatch(/[\r\n]/)
  }
})
