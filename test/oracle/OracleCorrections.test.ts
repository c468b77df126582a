// Corrections (ARCHITECTURE §10) in the independent oracle, and the real processor (src, in
// process: no NATS) agreeing with it message by message on a seeded stream of events, voids
// (some repeated, some of events in closed periods) and adjusts (up, down past 0, with and
// without an agent): every user's XP, level and agent XP, every board's ranking, every refusal.
import { describe, expect, it } from "vitest"
import { Processor, newSliceOutput } from "../../src/actors/Processor.js"
import { DEFAULT_RULES } from "../../src/domain/DefaultRules.js"
import { newEngineState } from "../../src/domain/engine/EngineState.js"
import { MSG_CORRECTION, MSG_EVENT } from "../../src/domain/MessageKind.js"
import { RulesHistory } from "../../src/domain/RulesHistory.js"
import type { RawEvent } from "../../src/ports/EventSource.js"
import { expectBoardsAsOracle } from "./engineBoards.js"
import { Oracle } from "./Oracle.js"
import type { StoredMessage } from "./Oracle.js"
import { prng } from "./workload.js"

const SUBJECT = "t.xp.corrections"
const T0 = Date.UTC(2026, 10, 20)
const DAY = 86_400_000
const enc = new TextEncoder()
const ACTIONS = ["task_completed", "error_resolved", "complex_api_design", "mission_security", "realtime_feature", "speed_bonus"]

/** A seeded stream: events over 25 days (some late), with corrections mixed in. */
const stream = (n: number, seed: number, oracleForFacts: Oracle): Array<StoredMessage> => {
  const rnd = prng(seed)
  const out: Array<StoredMessage> = []
  const times = new Map<string, string>()
  const voids: Array<string> = []
  for (let seq = 1; seq <= n; seq++) {
    const streamMs = T0 + Math.floor((seq / n) * 25 * DAY)
    const r = rnd()
    let m: StoredMessage
    const awards = oracleForFacts.ledger
    if (r < 0.06 && awards.length > 0) {
      // A void: of a random earlier award, or (1 in 4) one voided before.
      const again = voids.length > 0 && rnd() < 0.25 ? voids[Math.floor(rnd() * voids.length)]! : null
      const e = again !== null ? awards.find((a) => a.event_id === again)! : awards[Math.floor(rnd() * awards.length)]!
      voids.push(e.event_id)
      const body = { correction_id: `v${seq}`, kind: "void", event_id: e.event_id, reason: "test", by: "ops", event: { seq: e.seq, user_id: e.user_id, agent_name: e.agent_name, xp: e.total_awarded, event_time: times.get(e.event_id)! } }
      m = { seq, streamMs, msgId: body.correction_id, data: enc.encode(JSON.stringify(body)), subject: SUBJECT }
    } else if (r < 0.1) {
      const xp = Math.floor(rnd() * 600) - 300 || 1
      const body = { correction_id: `a${seq}`, kind: "adjust", user_id: `u${Math.floor(rnd() * 30)}`, xp, reason: "test", ...(rnd() < 0.5 ? { agent_name: ["coder", "tester"][Math.floor(rnd() * 2)] } : {}) }
      m = { seq, streamMs, msgId: body.correction_id, data: enc.encode(JSON.stringify(body)), subject: SUBJECT }
    } else {
      const late = rnd() < 0.15 ? Math.floor(rnd() * 3 * DAY) : 0
      const ev = {
        event_id: `e${seq}`, user_id: `u${Math.floor(rnd() * 30)}`, agent_name: ["coder", "tester", "writer"][Math.floor(rnd() * 3)],
        action_type: ACTIONS[Math.floor(rnd() * ACTIONS.length)], timestamp: new Date(streamMs - late).toISOString()
      }
      times.set(ev.event_id, ev.timestamp)
      m = { seq, streamMs, msgId: ev.event_id, data: enc.encode(JSON.stringify(ev)), subject: "t.xp.events" }
    }
    out.push(m)
    oracleForFacts.apply(m) // the facts of later voids come from the oracle's own ledger
  }
  return out
}

describe("oracle corrections", () => {
  it("voids once, keeps closed periods, clamps at 0 and refuses what §10 refuses", () => {
    const o = new Oracle(SUBJECT)
    const m = (seq: number, body: Record<string, unknown>, streamMs = T0, subject = SUBJECT, msgId = String(body["correction_id"] ?? body["event_id"])) =>
      o.apply({ seq, streamMs, msgId, data: enc.encode(JSON.stringify(body)), subject })
    const ev = { event_id: "e1", user_id: "a", agent_name: "coder", action_type: "realtime_feature", timestamp: new Date(T0).toISOString() }
    m(1, ev, T0, "t.xp.events")
    const facts = { seq: 1, user_id: "a", agent_name: "coder", xp: 40, event_time: ev.timestamp }
    m(2, { correction_id: "c1", kind: "void", event_id: "e1", reason: "r", event: facts }, T0 + 2 * DAY)
    m(3, { correction_id: "c2", kind: "void", event_id: "e1", reason: "r", event: facts }, T0 + 2 * DAY)
    m(4, { correction_id: "c3", kind: "adjust", user_id: "a", xp: -5, reason: "r" }, T0 + 2 * DAY)
    m(5, { correction_id: "c4", kind: "adjust", user_id: "zz", xp: 5, reason: "r" }, T0 + 2 * DAY)
    m(6, { correction_id: "c5", kind: "adjust", user_id: "a", xp: 0, reason: "r" }, T0 + 2 * DAY)
    expect([...o.rejections]).toEqual([[3, "already_voided"], [5, "unknown_user"], [6, "invalid_correction"]])
    expect(o.profile("a")!.total_xp).toBe(0)
    expect(o.ranked("global", "day", "2026-11-20").map((r) => r.xp)).toEqual([40]) // closed: as archived
    expect(o.ranked("global", "week", "2026-W47").map((r) => r.xp)).toEqual([0])
    expect(o.corrections.map((c) => [c.correction_id, c.requested_xp, c.xp])).toEqual([["c1", -40, -40], ["c3", -5, 0]])
  })

  it("agrees with the real processor on a seeded stream of events, voids and adjusts", () => {
    const oracle = new Oracle(SUBJECT)
    const msgs = stream(4000, 99, oracle)
    expect(oracle.corrections.length).toBeGreaterThan(150)
    expect([...oracle.rejections.values()]).toContain("already_voided")
    expect(oracle.corrections.some((c) => c.requested_xp !== c.xp)).toBe(true) // a clamp at 0 happened

    const s = newEngineState(DEFAULT_RULES.periodGraceMs)
    const p = new Processor(s, RulesHistory.single(DEFAULT_RULES), { applied: 0, streamTimeMs: 0, gaps: 0 }, new Set())
    const raws: Array<RawEvent> = msgs.map((m) => ({ seq: m.seq, streamTimeMs: m.streamMs, data: m.data, msgId: m.msgId, kind: m.subject === SUBJECT ? MSG_CORRECTION : MSG_EVENT }))
    const out = newSliceOutput()
    p.apply(raws, 0, raws.length, out)

    expect(new Map(out.rejects.map((r) => [r.seq, r.reason]))).toEqual(oracle.rejections)
    const corrections = out.records.flatMap((r) => (r.kind === "correction" ? [r.entry] : []))
    expect(corrections.map((c) => ({ seq: c.seq, correction_id: c.correction_id, correction: c.correction, user_id: c.user_id, requested_xp: c.requested_xp, xp: c.xp, total_xp_after: c.total_xp_after, level_before: c.level_before, level_after: c.level_after })))
      .toEqual(oracle.corrections)
    for (const [id, u] of oracle.users) {
      const uid = s.users.uidOf(id)
      expect([id, s.users.totalXp[uid], s.users.level[uid]]).toEqual([id, u.totalXp, oracle.profile(id)!.level.number])
    }
    // Every board the engine holds, ranked, against the oracle's.
    const boards = expectBoardsAsOracle(s, oracle)
    expect(boards).toBeGreaterThan(50)
  })
})
