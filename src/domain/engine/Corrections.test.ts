// Corrections through the processor (the message-kind dispatch included): a void takes the award
// back from the all-time boards and the open period boards only, once; an adjust moves a user
// ±n (never below 0), on an agent's boards when named; levels follow XP, achievements stay; the
// voided marks survive a snapshot, so a second void is refused after a restart too.
import { describe, expect, it } from "vitest"
import { Processor, newSliceOutput } from "../../actors/Processor.js"
import type { SliceOutput } from "../../actors/Processor.js"
import type { RawEvent } from "../../ports/EventSource.js"
import { DEFAULT_RULES } from "../DefaultRules.js"
import { MSG_CORRECTION } from "../MessageKind.js"
import type { CorrectionEntry, LedgerEntry } from "../Model.js"
import { RulesHistory } from "../RulesHistory.js"
import { ChunkEncoder, loadChunk, rebuildBoards } from "../state/SnapshotCodec.js"
import type { EngineState } from "./EngineState.js"
import { newEngineState } from "./TestState.js"
import { newEngineState as make } from "./EngineState.js"
import { dumpUser } from "./UserViews.js"

const enc = new TextEncoder()
const DAY = 86_400_000
const T = Date.UTC(2026, 10, 26, 12) // Thursday 26 Nov 2026
const history = RulesHistory.single(DEFAULT_RULES)

const event = (seq: number, user: string, o: { action?: string; agent?: string; at?: number; stream?: number } = {}): RawEvent => {
  const ev = { event_id: `e${seq}`, user_id: user, agent_name: o.agent ?? "coder", action_type: o.action ?? "task_completed", timestamp: new Date(o.at ?? T).toISOString() }
  return { seq, streamTimeMs: o.stream ?? o.at ?? T, data: enc.encode(JSON.stringify(ev)), msgId: ev.event_id, kind: 0 }
}
const correction = (seq: number, body: Record<string, unknown>, stream = T, msgId?: string): RawEvent =>
  ({ seq, streamTimeMs: stream, data: enc.encode(JSON.stringify(body)), msgId: msgId ?? String(body["correction_id"]), kind: MSG_CORRECTION })

/** The facts POST /v1/corrections fills in from the ledger. */
const voidOf = (id: string, e: LedgerEntry, by = "admin") =>
  ({ correction_id: id, kind: "void", event_id: e.event_id, reason: "fraud", by, event: { seq: e.seq, user_id: e.user_id, agent_name: e.agent_name, xp: e.total_awarded, event_time: e.event_time } })

const run = (p: Processor, msgs: Array<RawEvent>): SliceOutput => {
  const out = newSliceOutput()
  p.apply(msgs, 0, msgs.length, out)
  return out
}
const awardsOf = (o: SliceOutput) => o.records.flatMap((r) => (r.kind === "award" ? [r.entry] : []))
const correctionsOf = (o: SliceOutput) => o.records.flatMap((r) => (r.kind === "correction" ? [r.entry] : []))

const score = (s: EngineState, board: string, window: string, period: string, user: string): number | null => {
  const id = s.boards.find(board, window as "all", period)
  if (id < 0 || !s.boards.isOpen(id)) return null
  let xp: number | null = null
  s.boards.tree(id)!.forEach((uid, sc) => { if (s.users.userId(uid) === user) xp = sc })
  return xp
}
const rankOn = (s: EngineState, board: string, user: string): number => {
  let rank = 0
  s.boards.tree(s.boards.find(board, "all", "all"))!.forEach((uid, _sc, _q, r) => { if (s.users.userId(uid) === user) rank = r })
  return rank
}

describe("corrections", () => {
  it("void takes the award (xp and bonuses) from the all-time and open period boards, ranks the user down, and counts once", () => {
    const s = newEngineState()
    const p = new Processor(s, history, { applied: 0, streamTimeMs: 0, gaps: 0 }, new Set(["a"]))
    // a: three mission types (75+100+125 = 300, level 3), b: 150+125 = 275.
    const o = run(p, [
      event(1, "a", { action: "mission_architecture" }), event(2, "a", { action: "mission_performance" }),
      event(3, "b", { action: "mission_analytics" }), event(4, "b", { action: "mission_security" }),
      event(5, "a", { action: "mission_security", agent: "tester" })
    ])
    const [, , , , last] = awardsOf(o)
    expect(s.users.totalXp[s.users.uidOf("a")!]).toBe(300)
    expect(rankOn(s, "global", "a")).toBe(1) // 300 against b's 275
    const c = run(p, [correction(6, voidOf("c1", last!))])
    expect(c.rejects).toEqual([])
    const [e] = correctionsOf(c)
    expect(e).toMatchObject({ kind: "correction", correction: "void", seq: 6, user_id: "a", agent_name: "tester", event_id: "e5", event_seq: 5, requested_xp: -125, xp: -125, total_xp_after: 175, level_before: 3, level_after: 2, by: "admin" })
    expect(e!.boards.map((b) => `${b.board}|${b.window}|${b.period}:${b.xp}`)).toEqual([
      "global|all|all:-125", "agent:tester|all|all:-125",
      "global|day|2026-11-26:-125", "agent:tester|day|2026-11-26:-125",
      "global|week|2026-W48:-125", "agent:tester|week|2026-W48:-125",
      "global|month|2026-11:-125", "agent:tester|month|2026-11:-125"
    ])
    expect(rankOn(s, "global", "a")).toBe(2) // 175 < b's 275: moved down
    expect(score(s, "agent:tester", "all", "all", "a")).toBe(0)
    expect(score(s, "global", "day", "2026-11-26", "a")).toBe(175)
    expect(c.notes.map((n) => n.type)).toEqual(["xp_corrected"])
    // The same event again (another correction id): refused, nothing moves.
    const again = run(p, [correction(7, voidOf("c2", last!))])
    expect(again.rejects.map((r) => r.reason)).toEqual(["already_voided"])
    expect(correctionsOf(again)).toEqual([])
    expect(s.users.totalXp[s.users.uidOf("a")!]).toBe(175)
  })

  it("void leaves closed periods as archived and moves only the boards still open", () => {
    const s = newEngineState()
    const p = new Processor(s, history, { applied: 0, streamTimeMs: 0, gaps: 0 }, new Set())
    const [award] = awardsOf(run(p, [event(1, "a", { action: "realtime_feature" })]))
    // Two days later (the day closed; week and month still open).
    run(p, [event(2, "b", { at: T + 2 * DAY })])
    const [e] = correctionsOf(run(p, [correction(3, voidOf("c1", award!), T + 2 * DAY)]))
    expect(e!.boards.map((b) => `${b.board}|${b.window}|${b.period}`)).toEqual([
      "global|all|all", "agent:coder|all|all", "global|week|2026-W48", "agent:coder|week|2026-W48", "global|month|2026-11", "agent:coder|month|2026-11"
    ])
    expect(e!.total_xp_after).toBe(0)
    expect(score(s, "global", "week", "2026-W48", "a")).toBe(0)
  })

  it("adjust moves a user up and down, on the agent's boards when named, never below 0; levels follow, achievements stay", () => {
    const s = newEngineState()
    const p = new Processor(s, history, { applied: 0, streamTimeMs: 0, gaps: 0 }, new Set(["a"]))
    run(p, [event(1, "a")])
    const uid = s.users.uidOf("a")
    const up = run(p, [correction(2, { correction_id: "c1", kind: "adjust", user_id: "a", xp: 400, agent_name: "reviewer", reason: "bug bounty" })])
    const [u] = correctionsOf(up)
    expect(u).toMatchObject({ xp: 400, total_xp_after: 410, level_before: 1, level_after: 3, agent_name: "reviewer", event_id: null, by: null })
    expect(up.notes.map((n) => n.type)).toEqual(["xp_corrected", "level_up"])
    expect(up.records.map((r) => r.kind)).toEqual(["correction", "level_up"])
    expect(score(s, "agent:reviewer", "all", "all", "a")).toBe(400)
    expect(score(s, "agent:coder", "all", "all", "a")).toBe(10)
    const down = run(p, [correction(3, { correction_id: "c2", kind: "adjust", user_id: "a", xp: -1000, reason: "abuse" })])
    const [d] = correctionsOf(down)
    expect(d).toMatchObject({ requested_xp: -1000, xp: -410, total_xp_after: 0, level_before: 3, level_after: 1, agent_name: null })
    expect(s.users.level[uid]).toBe(1)
    expect(score(s, "global", "all", "all", "a")).toBe(0)
    expect(score(s, "agent:reviewer", "all", "all", "a")).toBe(400) // no agent named: the agent boards stay
    expect(s.users.unlocked[uid]).not.toBe(0) // first_steps stays unlocked
  })

  it("refuses what it cannot apply, with a reason, and changes nothing", () => {
    const s = newEngineState()
    const p = new Processor(s, history, { applied: 0, streamTimeMs: 0, gaps: 0 }, new Set())
    run(p, [event(1, "a")])
    const o = run(p, [
      correction(2, { correction_id: "c1", kind: "adjust", user_id: "nobody", xp: 5, reason: "r" }),
      correction(3, { correction_id: "c2", kind: "adjust", user_id: "a", xp: 5, reason: "r" }, T, "other-id"),
      correction(4, { correction_id: "c3", kind: "adjust", user_id: "a", xp: 0, reason: "r" }),
      { ...correction(5, {}), data: enc.encode("{not json") }
    ])
    expect(o.rejects.map((r) => r.reason)).toEqual(["unknown_user", "msg_id_mismatch", "invalid_correction", "invalid_correction"])
    expect(o.rejects[2]!.message).toMatch(/xp: must not be 0/)
    expect(s.users.totalXp[s.users.uidOf("a")]).toBe(10)
    expect(p.position.applied).toBe(5)
  })

  it("keeps voided marks in snapshots: a second void after a restart is refused", () => {
    const s = newEngineState()
    const p = new Processor(s, history, { applied: 0, streamTimeMs: 0, gaps: 0 }, new Set())
    const [award] = awardsOf(run(p, [event(1, "a"), event(2, "b")]))
    run(p, [correction(3, voidOf("c1", award!))])
    const chunk = new ChunkEncoder(s)
    for (let uid = 0; uid < s.users.capacity; uid++) if (s.users.has(uid)) chunk.add(uid)
    const loaded = newEngineState()
    loadChunk(loaded, chunk.finish(), { streamTimeMs: T })
    rebuildBoards(loaded)
    const q = new Processor(loaded, history, { applied: 3, streamTimeMs: T, gaps: 0 }, new Set())
    expect(score(loaded, "global", "all", "all", "a")).toBe(0)
    expect(dumpUser(loaded, loaded.users.uidOf("a"))).toEqual(dumpUser(s, s.users.uidOf("a")))
    expect(dumpUser(loaded, loaded.users.uidOf("a")).voided).toEqual([[1, 3]])
    expect(run(q, [correction(4, voidOf("c2", award!))]).rejects.map((r) => r.reason)).toEqual(["already_voided"])
    const c: CorrectionEntry | undefined = correctionsOf(run(q, [correction(5, { correction_id: "c3", kind: "adjust", user_id: "b", xp: 1, reason: "r" })]))[0]
    expect(c?.total_xp_after).toBe(11)
  })

  describe("voids across a re-projection (§10)", () => {
    // Three events of a: 10, 10 (first_try makes the second 15 under the default rules), 10.
    const msgs = (): Array<RawEvent> => [event(1, "a"), event(2, "a", { action: "complex_api_design" }), event(3, "b")]
    const facts = (xp: number, projection?: number) =>
      ({ correction_id: "c1", kind: "void", event_id: "e2", reason: "r", event: { seq: 2, user_id: "a", agent_name: "coder", xp, event_time: new Date(T).toISOString(), ...(projection === undefined ? {} : { projection }) } })

    it("a void that carries the projection its award was read from applies only where that projection is in force", () => {
      for (const [carried, inForce, refused] of [[1, 1, false], [0, 1, true], [2, 1, true], [undefined, 1, false], [0, 0, false]] as const) {
        const s = make(600_000, { projection: inForce, worth: null })
        const p = new Processor(s, history, { applied: 0, streamTimeMs: 0, gaps: 0 }, new Set())
        run(p, msgs())
        const o = run(p, [correction(4, facts(7, carried))])
        const a = s.users.uidOf("a")
        if (refused) {
          expect(o.rejects.map((r) => r.reason)).toEqual(["projection_changed"])
          expect(o.rejects[0]!.message).toMatch(new RegExp(`carries its award as projection ${carried} scored it, but projection ${inForce} is in force`))
          expect(s.users.totalXp[a]).toBe(10 + 25) // nothing moved: not marked voided either
          expect(dumpUser(s, a).voided).toEqual([])
        } else {
          expect(o.rejects).toEqual([])
          expect(correctionsOf(o)[0]).toMatchObject({ requested_xp: -7, xp: -7 }) // what it carries
        }
      }
    })

    it("a run that re-scores history takes back what the voided event is worth in it, whatever the void carries or names", () => {
      const worth = new Map([[2, 0], [9, 0]]) // seq 9: voided in range, but never applied here
      const s = make(600_000, { projection: 3, worth })
      const p = new Processor(s, history, { applied: 0, streamTimeMs: 0, gaps: 0 }, new Set())
      const awards = awardsOf(run(p, msgs()))
      expect(worth).toEqual(new Map([[2, awards[1]!.total_awarded], [9, 0]])) // only the voided seqs are recorded
      expect(awards[1]!.total_awarded).toBe(25) // 25 base; the void below carries 999 from an older projection
      const o = run(p, [correction(4, facts(999, 1))])
      expect(o.rejects).toEqual([])
      expect(correctionsOf(o)[0]).toMatchObject({ event_seq: 2, requested_xp: -25, xp: -25, total_xp_after: 10 })
      expect(score(s, "global", "day", "2026-11-26", "a")).toBe(10)
      // A void of an event the run never applied takes back 0 (it is worth nothing here).
      const none = run(p, [correction(10, { ...facts(5, 1), correction_id: "c9", event_id: "e9", event: { ...facts(5, 1).event, seq: 9 } })])
      expect(correctionsOf(none)[0]).toMatchObject({ event_seq: 9, requested_xp: 0, xp: 0, total_xp_after: 10 })
    })
  })
})
