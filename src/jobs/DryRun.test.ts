// The dry run's voids (§10): the rules in force take back what the live projection did (re-scored
// up to the seq its re-projection was built through, as carried after it), the proposed rules what
// a re-projection built now would (every void re-scored) — over an in-memory stream.
import { Effect } from "effect"
import { describe, expect, it } from "vitest"
import { DEFAULT_RULES_DOCUMENT } from "../domain/DefaultRules.js"
import { MSG_CORRECTION, MSG_EVENT } from "../domain/MessageKind.js"
import { loadRulesOrThrow } from "../domain/Rules.js"
import { RulesHistory } from "../domain/RulesHistory.js"
import { voidedEventSeq } from "../domain/Correction.js"
import type { EventSource, RawEvent, VoidScan } from "../ports/EventSource.js"
import { dryRun } from "./DryRun.js"

const enc = new TextEncoder()
const T = Date.UTC(2026, 10, 26, 12)
const rules = (version: string, points: number) => loadRulesOrThrow({ ...DEFAULT_RULES_DOCUMENT, version, actions: { ...DEFAULT_RULES_DOCUMENT.actions, task_completed: { points } } })

const event = (seq: number, user: string): RawEvent => {
  const ev = { event_id: `e${seq}`, user_id: user, agent_name: "coder", action_type: "task_completed", timestamp: new Date(T).toISOString() }
  return { seq, streamTimeMs: T, data: enc.encode(JSON.stringify(ev)), msgId: ev.event_id, kind: MSG_EVENT }
}
const voidOf = (seq: number, eventSeq: number, user: string, xp: number, projection?: number): RawEvent => {
  const body = { correction_id: `v${seq}`, kind: "void", event_id: `e${eventSeq}`, reason: "r", event: { seq: eventSeq, user_id: user, agent_name: "coder", xp, event_time: new Date(T).toISOString(), ...(projection === undefined ? {} : { projection }) } }
  return { seq, streamTimeMs: T, data: enc.encode(JSON.stringify(body)), msgId: body.correction_id, kind: MSG_CORRECTION }
}

const source = (msgs: ReadonlyArray<RawEvent>): EventSource => ({
  head: Effect.succeed({ name: "S", created: "c", firstSeq: 1, lastSeq: msgs.length, messages: msgs.length }),
  consumeFrom: (start, _max, onBatch) => Effect.promise(async () => {
    await onBatch({ events: msgs.filter((m) => m.seq >= start), pending: 0 })
    await new Promise(() => {}) // until interrupted, as a consumer does
  })
})
const scan = (msgs: ReadonlyArray<RawEvent>): VoidScan => (bound) =>
  Effect.succeed(msgs.flatMap((m) => { const e = m.kind === MSG_CORRECTION && m.seq <= bound ? voidedEventSeq(m.data) : null; return e === null ? [] : [[m.seq, e] as const] }))

describe("dry run: voids", () => {
  // Projection 1 was built through seq 3 under v1 (task_completed 20): its void at seq 3 was re-scored
  // there. The void at seq 5 was asked after its switch (it names projection 1, carrying 20).
  const msgs = [event(1, "a"), event(2, "b"), voidOf(3, 1, "a", 7), event(4, "a"), voidOf(5, 4, "a", 20, 1), event(6, "b"), voidOf(7, 6, "b", 20, 0)]
  const run = () => Effect.runPromise(dryRun({
    events: source(msgs), history: RulesHistory.single(rules("v1", 20)), proposed: rules("v2", 30), voids: { scan: scan(msgs), projection: 1, builtSeq: 3 }
  }))

  it("takes back what the projection in force did before, and the re-scored worth after", async () => {
    const r = await run()
    const b = r.changed_users.find((u) => u.user_id === "b")!
    // Before (projection 1): a = 20 - 20 (seq 3, re-scored, not the 7 carried) + 20 - 20 (seq 5) = 0;
    // b = 20 + 20, its void at seq 7 names projection 0 after the build's end: refused.
    // After (v2 re-scores every void): a = 30 - 30 + 30 - 30 = 0; b = 30 + 30 - 30 = 30.
    expect(r.changed_users.map((u) => u.user_id)).toEqual(["b"]) // a: 0 and 0
    expect([b.xp_before, b.xp_after]).toEqual([40, 30])
    expect(r.stream).toMatchObject({ rejected_before: 1, rejected_after: 0 })
  })

})
