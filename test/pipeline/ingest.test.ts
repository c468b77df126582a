// Idempotent ingest and "bad input never hurts" (ARCHITECTURE §2.2, §2.4) against real NATS
// JetStream and Postgres: duplicates count once, each kind of bad event lands in the DLQ with its
// reason, and the events after it are still applied — across graceful and kill -9 restarts.
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { DeliverPolicy } from "@nats-io/jetstream"
import { ArenaProcess, cleanup, db, freshNames, natsClient, publishAll } from "../support/arena.js"
import type { Nats, Names } from "../support/arena.js"
import { snapshotUser } from "../support/snapshotDump.js"

const names: Names = freshNames("ing")
let nats: Nats
let arena: ArenaProcess

const now = () => new Date().toISOString()
const ev = (id: string, user: string, action: string, extra: Record<string, unknown> = {}) =>
  ({ event_id: id, user_id: user, username: user.toUpperCase(), agent_name: "claude-code", action_type: action, timestamp: now(), ...extra })

const userState = async (id: string) => {
  const sql = db(names)
  try {
    return await snapshotUser(sql, id)
  } finally { await sql.end() }
}

const dlq = async (expected: number) => {
  const c = await nats.js.consumers.get(names.dlqStream, { deliver_policy: DeliverPolicy.All })
  const out: Array<{ reason: string; seq: number; message: string }> = []
  const it = await c.fetch({ max_messages: expected + 5, expires: 2000 })
  for await (const m of it) {
    out.push({ reason: m.headers!.get("Arena-Reason"), seq: Number(m.headers!.get("Arena-Seq")), message: m.headers!.get("Arena-Message") })
  }
  return out
}

beforeAll(async () => {
  nats = await natsClient()
  arena = new ArenaProcess(names)
  await arena.start()
})

afterAll(async () => {
  await arena?.stop()
  await nats?.nc.close()
  await cleanup(names)
})

describe("ingest", () => {
  it("counts an event_id once, dead-letters each bad event with its reason, and keeps applying the rest", async () => {
    const future = new Date(Date.now() + 3_600_000).toISOString()
    const acks = await publishAll(nats.js, names.subject, [
      ev("e1", "alice", "task_completed"),                                         // 1: +10
      ev("e1", "alice", "task_completed"),                                         // dedup window: not stored
      { raw: "{not json", msgId: "bad-json" },                                     // 2
      { raw: JSON.stringify({ ...ev("bad-type", "alice", "task_completed"), user_id: 5 }), msgId: "bad-type" }, // 3
      ev("bad-action", "alice", "teleport"),                                       // 4
      { raw: JSON.stringify(ev("big", "alice", "task_completed", { metadata: { blob: "x".repeat(17_000) } })), msgId: "big" }, // 5
      ev("future", "alice", "task_completed", { timestamp: future }),             // 6
      { raw: JSON.stringify(ev("mismatch", "alice", "task_completed")), msgId: "other-id" }, // 7
      { raw: JSON.stringify(ev("no-id", "alice", "task_completed")) },            // 8 (no Nats-Msg-Id)
      ev("inflated", "alice", "task_completed", { base_points: 500 }),            // 9
      ev("bad-mult", "alice", "task_completed", { multipliers: ["x100"] }),       // 10
      ev("e2", "alice", "error_resolved"),                                         // 11: +20
      ev("e3", "bob", "task_completed")                                            // 12: +10
    ])
    expect(acks[1]).toEqual({ seq: 1, duplicate: true })
    const last = acks[acks.length - 1]!.seq
    expect(last).toBe(12)
    await arena.waitForSeq(last)
    await arena.stop()

    expect(await userState("alice")).toMatchObject({ totalXp: 30, events: 2 })
    expect(await userState("bob")).toMatchObject({ totalXp: 10, events: 1 })

    const letters = await dlq(9)
    expect(letters.map((l) => [l.seq, l.reason])).toEqual([
      [2, "malformed_json"], [3, "invalid_event"], [4, "unknown_action"], [5, "oversized"], [6, "future_timestamp"],
      [7, "msg_id_mismatch"], [8, "msg_id_mismatch"], [9, "invalid_base_points"], [10, "invalid_multiplier"]
    ])
    expect(letters.find((l) => l.seq === 3)!.message).toMatch(/user_id/)
  })

  it("does not count again after a graceful restart or a kill -9, and dead-letters nothing twice", async () => {
    await arena.start()
    await arena.waitForSeq(12)
    await arena.kill()
    // Republishing the same ids inside the duplicate window stores nothing new.
    const again = await publishAll(nats.js, names.subject, [ev("e2", "alice", "error_resolved"), ev("e4", "alice", "task_completed")])
    expect(again[0]!.duplicate).toBe(true)
    await arena.start()
    await arena.waitForSeq(13)
    await arena.stop()
    expect(await userState("alice")).toMatchObject({ totalXp: 40, events: 3 })
    expect(await dlq(9)).toHaveLength(9)
  })
})
