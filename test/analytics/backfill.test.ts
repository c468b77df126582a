// `arena backfill` against real NATS JetStream (a fresh stream) and the real embedded engine:
// the rebuilt tables hold exactly what the engine derives from the stream (awards with their full
// explanation, level-ups, achievements, every kind of rejection); an interrupted backfill resumes
// from ClickHouse's watermark; a repeated one writes nothing.
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { randomBytes } from "node:crypto"
import { connect } from "@nats-io/transport-node"
import type { NatsConnection } from "@nats-io/transport-node"
import { jetstream, jetstreamManager } from "@nats-io/jetstream"
import type { JetStreamClient, JetStreamManager } from "@nats-io/jetstream"
import { Effect } from "effect"
import { AnalyticsQueries } from "../../src/adapters/clickhouse/AnalyticsQueries.js"
import { runBackfill } from "../../src/cli/backfillCommand.js"
import type { BackfillProgress } from "../../src/jobs/Backfill.js"
import { openClickHouse } from "../../src/adapters/clickhouse/ClickHouseClient.js"
import type { ClickHouseHandle } from "../../src/adapters/clickhouse/ClickHouseClient.js"
import type { AnalyticsRecord } from "../../src/ports/Analytics.js"
import { DEFAULT_RULES } from "../../src/domain/DefaultRules.js"
import { RulesHistory } from "../../src/domain/RulesHistory.js"
import type { EngineState } from "../../src/domain/engine/EngineState.js"
import { newEngineState } from "../../src/domain/engine/EngineState.js"
import type { LedgerEntry } from "../../src/domain/Model.js"
import { applyMessage } from "../../src/domain/StreamMessage.js"
import { expectedFingerprint, fingerprint, freshDir, scalar } from "./records.js"

const NATS_URL = process.env["NATS_URL"] ?? "nats://127.0.0.1:4222"
const id = randomBytes(4).toString("hex")
const STREAM = `T_BF_${id.toUpperCase()}`
const SUBJECT = `bf${id}.xp.events`
const N = 1500
const ACTIONS = ["task_completed", "error_resolved", "complex_api_design", "speed_bonus", "security_implementation", "mission_security", "mission_analytics", "mission_architecture", "mission_performance"]

let nc: NatsConnection
let js: JetStreamClient
let jsm: JetStreamManager
let ch: ClickHouseHandle
const expected: AnalyticsRecord[] = []

/** Message i: mostly valid events, plus every kind of input the pipeline rejects. */
const message = (i: number, now: number): { data: Uint8Array; msgId: string | undefined } => {
  const eventId = `bf-${id}-${i}`
  const ev: Record<string, unknown> = {
    event_id: eventId, user_id: `user${i % 23}`, username: `User ${i % 23}`, agent_name: ["claude", "copilot", "cursor"][i % 3],
    action_type: ACTIONS[(i * 7) % ACTIONS.length], timestamp: new Date(now - (N - i) * 60_000).toISOString(),
    ...(i % 5 === 0 ? { multipliers: ["first_try"] } : {})
  }
  if (i % 91 === 0) ev["action_type"] = "teleportation"
  if (i % 97 === 0) ev["timestamp"] = new Date(now + 3_600_000).toISOString()
  const text = i % 50 === 0 ? "{not json" : JSON.stringify(ev)
  const msgId = i % 77 === 0 ? undefined : i % 61 === 0 ? `other-${i}` : eventId
  return { data: new TextEncoder().encode(text), msgId }
}

/** The spec, written out for the test: decode, Nats-Msg-Id must equal event_id, then the engine (on its user table). */
const derive = (seq: number, streamTimeMs: number, data: Uint8Array, msgId: string | undefined, state: EngineState) => {
  const streamIso = new Date(streamTimeMs).toISOString()
  let ev: Record<string, unknown>
  try {
    ev = JSON.parse(new TextDecoder().decode(data)) as Record<string, unknown>
  } catch {
    expected.push({ kind: "rejection", seq, reason: "malformed_json", message: "", event_id: null, stream_time: streamIso })
    return
  }
  if (msgId !== ev["event_id"]) {
    expected.push({ kind: "rejection", seq, reason: "msg_id_mismatch", message: "", event_id: String(ev["event_id"]), stream_time: streamIso })
    return
  }
  const o = applyMessage(state, DEFAULT_RULES, { seq, streamTimeMs, data, msgId })
  if (!o.ok) {
    expected.push({ kind: "rejection", seq, reason: o.reason, message: "", event_id: String(ev["event_id"]), stream_time: streamIso })
    return
  }
  if (o.kind !== 0) throw new Error("only events here")
  const e = o.entry
  if (e === null) return // an erasure message (none in this stream)
  expected.push({ kind: "award", entry: e })
  if (e.level_after !== e.level_before) expected.push({ kind: "level_up", seq, user_id: e.user_id, from: e.level_before, to: e.level_after, stream_time: e.stream_time })
  for (const b of e.bonuses) expected.push({ kind: "achievement", seq, user_id: e.user_id, achievement: b.achievement, bonus: b.xp, stream_time: e.stream_time })
}

beforeAll(async () => {
  nc = await connect({ servers: NATS_URL })
  js = jetstream(nc)
  jsm = await jetstreamManager(nc)
  await jsm.streams.add({ name: STREAM, subjects: [SUBJECT], duplicate_window: 60_000_000_000 })
  const now = Date.now()
  for (let i = 1; i <= N; i += 250) {
    await Promise.all(Array.from({ length: Math.min(250, N - i + 1) }, (_, k) => {
      const m = message(i + k, now)
      return js.publish(SUBJECT, m.data, m.msgId === undefined ? {} : { msgID: m.msgId })
    }))
  }
  // The expected records, from the stored messages (their JetStream timestamps are "now").
  const state = newEngineState(DEFAULT_RULES.periodGraceMs)
  for (let seq = 1; seq <= N; seq++) {
    const sm = await jsm.streams.getMessage(STREAM, { seq })
    if (sm === null) throw new Error(`seq ${seq} missing`)
    derive(seq, sm.time.getTime(), sm.data, sm.header?.get("Nats-Msg-Id") || undefined, state)
  }
  ch = openClickHouse({ kind: "embedded", path: freshDir("backfill"), database: "arena" })
})
afterAll(async () => {
  await jsm?.streams.delete(STREAM).catch(() => {})
  await nc?.close()
  await ch?.close()
})

describe("backfill from JetStream", () => {
  it("stops when asked, resumes from ClickHouse's watermark, and ends with exactly the engine's records", async () => {
    const ac = new AbortController()
    const seen: BackfillProgress[] = []
    const first = await Effect.runPromise(runBackfill({
      js, jsm, stream: STREAM, clickhouse: ch, history: RulesHistory.single(DEFAULT_RULES), batchRecords: 100, progressEveryMs: 0, signal: ac.signal,
      onProgress: (p) => { seen.push(p); if (p.percent >= 40) ac.abort() }
    }))
    expect(first).toMatchObject({ aborted: true, resumedFrom: 0, lastSeq: N })
    expect(first.seq).toBeLessThan(N)
    expect(seen.every((p, i) => i === 0 || p.seq >= seen[i - 1]!.seq)).toBe(true)
    expect(await scalar(ch, "SELECT max(through_seq) FROM sink_progress")).toBe(first.seq)
    expect(await scalar(ch, "SELECT count() FROM awards")).toBe(expected.filter((r) => r.kind === "award" && r.entry.seq <= first.seq).length)

    const second = await Effect.runPromise(runBackfill({ js, jsm, stream: STREAM, clickhouse: ch, history: RulesHistory.single(DEFAULT_RULES), batchRecords: 333 }))
    expect(second).toMatchObject({ aborted: false, resumedFrom: first.seq, seq: N, percent: 100 })
    expect(first.written + second.written).toBe(expected.length)
    expect(await fingerprint(ch)).toEqual(expectedFingerprint(expected))

    const third = await Effect.runPromise(runBackfill({ js, jsm, stream: STREAM, clickhouse: ch, history: RulesHistory.single(DEFAULT_RULES) }))
    expect(third).toMatchObject({ written: 0, resumedFrom: N })
    expect(await fingerprint(ch)).toEqual(expectedFingerprint(expected))
  })

  it("rebuilt every kind of rejection and each user's ledger exactly", async () => {
    const reasons = await ch.client.query({ query: "SELECT reason, count() AS n FROM rejections GROUP BY reason ORDER BY reason", format: "JSONEachRow" })
    const want = new Map<string, number>()
    for (const r of expected) if (r.kind === "rejection") want.set(r.reason, (want.get(r.reason) ?? 0) + 1)
    expect(Object.fromEntries((await reasons.json<{ reason: string; n: number }>()).map((r) => [r.reason, Number(r.n)]))).toEqual(Object.fromEntries(want))
    expect([...want.keys()].sort()).toEqual(["future_timestamp", "malformed_json", "msg_id_mismatch", "unknown_action"])
    const q = new AnalyticsQueries(ch.client)
    for (const user of ["user0", "user7", "user22"]) {
      const mine: LedgerEntry[] = expected.flatMap((r) => (r.kind === "award" && r.entry.user_id === user ? [r.entry] : [])).reverse()
      const page = await q.ledger(user, 1000, null)
      expect(page.entries).toEqual(mine)
    }
  })
})
