// The processor scores each message by the rules version in force at its seq, also when a batch
// spans a switch and when it starts past one (a restart from a checkpoint after the switch).
import { describe, expect, it } from "vitest"
import { DEFAULT_RULES_DOCUMENT } from "../domain/DefaultRules.js"
import { loadRulesOrThrow } from "../domain/Rules.js"
import { RulesHistory } from "../domain/RulesHistory.js"
import { newEngineState } from "../domain/engine/TestState.js"
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
