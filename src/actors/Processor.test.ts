// The processor scores each message by the rules version in force at its seq, also when a batch
// spans a switch and when it starts past one (a restart from a checkpoint after the switch).
import { describe, expect, it } from "vitest"
import { DEFAULT_RULES_DOCUMENT } from "../domain/DefaultRules.js"
import { loadRulesOrThrow } from "../domain/Rules.js"
import { RulesHistory } from "../domain/RulesHistory.js"
import { newEngineState } from "../domain/engine/TestState.js"
import { dumpUser } from "../domain/engine/UserViews.js"
import { MSG_SETTINGS } from "../domain/MessageKind.js"
import type { RawEvent } from "../ports/EventSource.js"
import { Processor, newSliceOutput } from "./Processor.js"

const rules = (version: string, points: number) =>
  loadRulesOrThrow({ ...DEFAULT_RULES_DOCUMENT, version, actions: { ...DEFAULT_RULES_DOCUMENT.actions, task_completed: { points } } })
const history = RulesHistory.of([
  { rules: rules("a", 10), effectiveFromSeq: 1, contentHash: "a", recordedAt: "" },
  { rules: rules("b", 50), effectiveFromSeq: 4, contentHash: "b", recordedAt: "" },
  { rules: rules("c", 7), effectiveFromSeq: 6, contentHash: "c", recordedAt: "" }
])
const T = Date.UTC(2026, 10, 26, 12)
const enc = new TextEncoder()
const raw = (seq: number): RawEvent => {
  const ev = { event_id: `e${seq}`, user_id: `u${seq % 2}`, agent_name: "coder", action_type: "task_completed", timestamp: new Date(T).toISOString() }
  return { seq, streamTimeMs: T, data: enc.encode(JSON.stringify(ev)), msgId: ev.event_id }
}
const awards = (p: Processor, events: Array<RawEvent>) => {
  const out = newSliceOutput()
  p.apply(events, 0, events.length, out)
  return out.records.flatMap((r) => (r.kind === "award" ? [[r.entry.seq, r.entry.rules_version, r.entry.xp] as const] : []))
}

describe("Processor under a rules history", () => {
  it("scores every message by the version in force at its seq across switches within one batch", () => {
    const p = new Processor(newEngineState(), history, { applied: 0, streamTimeMs: 0, gaps: 0 }, new Set())
    // first_steps (bonus 0) unlocks on each user's first event; no streak tier on one day.
    expect(awards(p, [1, 2, 3, 4, 5, 6, 7].map(raw))).toEqual([
      [1, "a", 10], [2, "a", 10], [3, "a", 10], [4, "b", 50], [5, "b", 50], [6, "c", 7], [7, "c", 7]
    ])
  })

  it("starts from the version in force after its checkpoint, and looks back when a replay starts earlier", () => {
    const p = new Processor(newEngineState(), history, { applied: 4, streamTimeMs: 0, gaps: 0 }, new Set())
    expect(awards(p, [5, 6].map(raw))).toEqual([[5, "b", 50], [6, "c", 7]])
    const q = new Processor(newEngineState(), history, { applied: 6, streamTimeMs: 0, gaps: 0 }, new Set())
    q.position.applied = 0 // as if its state were loaded from an earlier cut
    expect(awards(q, [1, 4].map(raw))).toEqual([[1, "a", 10], [4, "b", 50]])
  })
})

describe("Processor: settings messages (ARCHITECTURE §11)", () => {
  const settings = (seq: number, body: Record<string, unknown>, msgId: string | undefined = String(body["settings_id"])): RawEvent =>
    ({ seq, streamTimeMs: T, data: enc.encode(JSON.stringify(body)), msgId, kind: MSG_SETTINGS })

  it("applies a settings change at its seq (zone, visibility) and dead-letters a bad or mis-keyed one", () => {
    const s = newEngineState()
    const p = new Processor(s, history, { applied: 0, streamTimeMs: 0, gaps: 0 }, new Set())
    const out = newSliceOutput()
    p.apply([
      raw(1),
      settings(2, { settings_id: "s2", user_id: "u1", time_zone: "Asia/Tokyo", visibility: "private" }),
      settings(3, { settings_id: "s3", user_id: "u1", time_zone: "Mars/Olympus" }),
      settings(4, { settings_id: "s4", user_id: "u1", visibility: "public" }, "other-id"),
      settings(5, { user_id: "u1", visibility: "public" }, undefined),
      // An event-shaped body on the settings subject is a settings message, and not a valid one.
      { ...raw(6), kind: MSG_SETTINGS }
    ], 0, 6, out)
    expect(out.rejects.map((r) => [r.seq, r.reason])).toEqual([[3, "invalid_settings"], [4, "msg_id_mismatch"], [5, "invalid_settings"], [6, "invalid_settings"]])
    expect(out.rejects[0]!.message).toContain("time_zone")
    expect(out.applied).toBe(2)
    expect(out.records.filter((r) => r.kind === "award")).toHaveLength(1) // settings leave no award
    const d = dumpUser(s, s.users.uidOf("u1"))
    expect([d.timeZone, d.private]).toEqual(["Asia/Tokyo", true])
    expect(p.position.applied).toBe(6)
  })
})
