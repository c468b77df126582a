// The processor scores each message by the rules version in force at its seq, also when a batch
// spans a switch and when it starts past one (a restart from a checkpoint after the switch). A
// tick (partitioned mode) moves stream time and nothing else; the boards then roll and close
// yesterday as an event at that time would, and a replay in other slices closes the same.
import { describe, expect, it } from "vitest"
import { DEFAULT_RULES_DOCUMENT } from "../domain/DefaultRules.js"
import { loadRulesOrThrow } from "../domain/Rules.js"
import { RulesHistory } from "../domain/RulesHistory.js"
import { newEngineState } from "../domain/engine/TestState.js"
import { dumpUser } from "../domain/engine/UserViews.js"
import { MSG_SETTINGS, MSG_TICK } from "../domain/MessageKind.js"
import { tickMsgId, tickSubject } from "../domain/Partition.js"
import type { LiveFeedSink } from "../ports/LiveFeed.js"
import type { PeriodArchive } from "../ports/Snapshots.js"
import { Boards } from "./Boards.js"
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

describe("Processor: ticks (partitioned mode, ARCHITECTURE §9)", () => {
  const at = (iso: string) => Date.parse(iso)
  const event = (seq: number, user: string, time: number): RawEvent => {
    const ev = { event_id: `e${seq}`, user_id: user, agent_name: "coder", action_type: "task_completed", timestamp: new Date(time).toISOString() }
    return { seq, streamTimeMs: time, data: enc.encode(JSON.stringify(ev)), msgId: ev.event_id, subject: `arena.xp.p.3.${user}` }
  }
  const tick = (seq: number, time: number): RawEvent =>
    ({ seq, streamTimeMs: time, data: new Uint8Array(0), msgId: tickMsgId(3, Math.floor(time / 1000)), kind: MSG_TICK, subject: tickSubject(3) })
  // Yesterday's day board (UTC periods, 10 min grace) closes at 00:10 today.
  const lateEvening = at("2026-11-26T23:50:00Z")
  const afterMidnight = at("2026-11-27T00:05:00Z")
  const afterClose = at("2026-11-27T00:10:01Z")

  /** The pipeline's loop over `slices`: apply, then roll and close by stream time, as Pipeline.applyBatch does. */
  const run = (slices: Array<Array<RawEvent>>) => {
    const s = newEngineState()
    const p = new Processor(s, history, { applied: 0, streamTimeMs: 0, gaps: 0 }, new Set())
    const rollovers: Array<string> = []
    const feed: LiveFeedSink = { emitView: () => undefined, emitRollover: (w, period) => { rollovers.push(`${w} ${period}`) }, notify: () => undefined, watchedUsers: new Set() }
    const boards = new Boards(s, p.position, { readArchive: async () => null, committedSeq: () => 0, now: () => 0, feed })
    const closed: Array<PeriodArchive> = []
    const outs = slices.map((slice) => {
      const out = newSliceOutput()
      p.apply(slice, 0, slice.length, out)
      boards.publish(s.boards.takeChanged())
      boards.rollPeriods()
      closed.push(...boards.closeExpired())
      return { out, day: boards.currentPeriod("day"), closed: closed.map((a) => `${a.board}/${a.window}/${a.period}`) }
    })
    return { p, outs, rollovers, closed }
  }

  it("advances the partition's stream time and seq, and counts, records and dead-letters nothing", () => {
    const { p, outs } = run([[event(1, "ann", lateEvening)], [tick(2, afterMidnight)], [tick(3, afterClose)]])
    for (const { out } of outs.slice(1)) {
      expect([out.applied, out.rejects, out.records, out.notes]).toEqual([0, [], [], []])
    }
    expect(p.position).toEqual({ applied: 3, streamTimeMs: afterClose, gaps: 0 })
  })

  it("rolls the day over past midnight and closes yesterday past its grace, with the same archive an event at that time leaves", () => {
    const ticked = run([[event(1, "ann", lateEvening)], [tick(2, afterMidnight)], [tick(3, afterClose)]])
    expect(ticked.outs.map((o) => o.day)).toEqual(["2026-11-26", "2026-11-27", "2026-11-27"])
    expect(ticked.rollovers).toContain("day 2026-11-27")
    expect(ticked.outs[1]!.closed).toEqual([]) // past midnight, still in its grace
    const yesterday = (c: ReadonlyArray<PeriodArchive>) => c.filter((a) => a.period === "2026-11-26").map((a) => ({ ...a, closedAtSeq: 0 }))
    expect(yesterday(ticked.closed).map((a) => `${a.board}/${a.window}`)).toContain("global/day")
    expect(yesterday(ticked.closed).find((a) => a.board === "global")!.entries.map((e) => [e.userId, e.xp])).toEqual([["ann", 10]])
    // The same time brought by another user's event instead of ticks.
    const evented = run([[event(1, "ann", lateEvening)], [event(2, "bob", afterMidnight)], [event(3, "bob", afterClose)]])
    expect(yesterday(ticked.closed)).toEqual(yesterday(evented.closed))
    expect(ticked.outs.map((o) => o.day)).toEqual(evented.outs.map((o) => o.day))
  })

  it("replays to the same position and closes in other slices (a restart replays ticks like events)", () => {
    const messages = [event(1, "ann", lateEvening), tick(2, afterMidnight), event(4, "cy", afterMidnight), tick(5, afterClose)]
    const live = run(messages.map((m) => [m]))
    const replay = run([messages])
    expect(replay.p.position).toEqual(live.p.position)
    expect(replay.closed).toEqual(live.closed)
    expect(dumpUser(replay.p.state, replay.p.state.users.uidOf("cy"))).toEqual(dumpUser(live.p.state, live.p.state.users.uidOf("cy")))
  })
})
