// Erasure (ARCHITECTURE §11 "Privacy") in the independent oracle: on a hand-made stream, an erased
// user leaves every board, profile, ledger and correction row, their rejections go, and an event
// for the same id later makes a new, empty user. On a seeded stream of events, corrections,
// settings changes and erasures (users erased twice, an unknown user erased): the oracle over the
// whole stream equals the oracle over the stream without the seqs the erasures took out (what a
// replay reads once they are done), and the real processor (src, in process) agrees with the
// oracle — and with itself replaying the stream without those seqs.
import { describe, expect, it } from "vitest"
import { Processor, newSliceOutput } from "../../src/actors/Processor.js"
import { DEFAULT_RULES } from "../../src/domain/DefaultRules.js"
import { newEngineState } from "../../src/domain/engine/EngineState.js"
import type { EngineState } from "../../src/domain/engine/EngineState.js"
import { MSG_CORRECTION, MSG_ERASURE, MSG_EVENT, MSG_SETTINGS } from "../../src/domain/MessageKind.js"
import { RulesHistory } from "../../src/domain/RulesHistory.js"
import type { RawEvent } from "../../src/ports/EventSource.js"
import { expectBoardsAsOracle } from "./engineBoards.js"
import { Oracle } from "./Oracle.js"
import type { StoredMessage } from "./Oracle.js"
import { modelOf } from "./replay.js"
import { prng } from "./workload.js"

const P = "t.xp"
const T0 = Date.UTC(2026, 10, 20)
const DAY = 86_400_000
const enc = new TextEncoder()
const erasureId = (n: number) => `e${String(n).padStart(21, "0")}` // 22 characters of base64url

const msg = (seq: number, streamMs: number, subject: string, body: Record<string, unknown>, msgId: string): StoredMessage =>
  ({ seq, streamMs, msgId, data: enc.encode(JSON.stringify(body)), subject: `${P}.${subject}` })
const event = (seq: number, streamMs: number, user: string, extra: Record<string, unknown> = {}) => {
  const e = { event_id: `e${seq}`, user_id: user, agent_name: "coder", action_type: "realtime_feature", timestamp: new Date(streamMs).toISOString(), ...extra }
  return msg(seq, streamMs, "events", e, e.event_id)
}
const erasure = (seq: number, streamMs: number, user: string, n = seq, msgId = `erasure/${erasureId(n)}`) =>
  msg(seq, streamMs, "erasures", { erasure_id: erasureId(n), user_id: user }, msgId)

describe("oracle erasure", () => {
  it("takes the user out of every board, profile, ledger and correction row, with their rejections; the id can start over", () => {
    const o = new Oracle(`${P}.corrections`)
    const t = T0 + 3_600_000
    const ev1 = event(1, t, "a")
    o.apply(ev1)
    o.apply(event(2, t, "b"))
    o.apply(event(3, t, "a", { agent_name: "tester" }))
    o.apply(event(4, t, "a", { action_type: "teleport" })) // rejected: unknown_action
    o.apply(event(5, t, "b", { action_type: "teleport" }))
    const facts = { seq: 1, user_id: "a", agent_name: "coder", xp: 40, event_time: new Date(t).toISOString() }
    o.apply(msg(6, t, "corrections", { correction_id: "c1", kind: "void", event_id: "e1", reason: "r", event: facts }, "c1"))
    o.apply(msg(7, t, "corrections", { correction_id: "c2", kind: "void", event_id: "e1", reason: "r", event: facts }, "c2")) // already_voided
    o.apply(msg(8, t, "corrections", { correction_id: "c3", kind: "adjust", user_id: "a", xp: 9, reason: "r" }, "c3"))
    o.apply(msg(9, t, "settings", { settings_id: "s1", user_id: "a", time_zone: "Asia/Tokyo" }, "s1"))
    o.apply(erasure(10, t, "a", 10, "erasure/wrong")) // refused: Nats-Msg-Id is not erasure/<id>
    expect(o.users.has("a")).toBe(true)
    expect([...o.rejections]).toEqual([[4, "unknown_action"], [5, "unknown_action"], [7, "already_voided"], [10, "invalid_event"]])

    o.apply(erasure(11, t, "a"))
    expect(o.erasures).toEqual([{ seq: 11, erasure_id: erasureId(11), user_id: "a", held: true, seqs: [1, 3, 4, 6, 7, 8, 9, 10, 11] }])
    expect(o.users.has("a")).toBe(false)
    expect(o.profile("a")).toBeNull()
    expect([...o.boards.keys()].filter((k) => k.startsWith("agent:tester"))).toEqual([]) // only a had scored there
    for (const key of o.boards.keys()) expect(o.boards.get(key)!.has("a")).toBe(false)
    expect(o.ranked("global", "all", "all").map((r) => [r.rank, r.user_id])).toEqual([[1, "b"]])
    expect(o.ledger.map((l) => l.seq)).toEqual([2])
    expect(o.corrections).toEqual([])
    // The refused erasure message named a too: it went with the rest.
    expect([...o.rejections]).toEqual([[5, "unknown_action"]])
    expect([...o.erasedSeqs].sort((x, y) => x - y)).toEqual([1, 3, 4, 6, 7, 8, 9, 10, 11])

    // An adjust for the erased id is refused as for anyone unknown; an event makes a new, empty user.
    o.apply(msg(12, t, "corrections", { correction_id: "c4", kind: "adjust", user_id: "a", xp: 5, reason: "r" }, "c4"))
    o.apply(event(13, t + 60_000, "a", { action_type: "task_completed" }))
    const p = o.profile("a")!
    expect([p.total_xp, p.time_zone, p.streak.current, p.achievements.find((x) => x.id === "first_steps")!.unlocked_seq]).toEqual([10, "UTC", 1, 13])
    expect(o.rejections.get(12)).toBe("unknown_user")
    // Erasing them again takes only what came since; erasing someone never seen takes its own message.
    o.apply(erasure(14, t + 60_000, "a"))
    o.apply(erasure(15, t + 60_000, "nobody"))
    expect(o.erasures.slice(1).map((e) => [e.user_id, e.held, e.seqs])).toEqual([["a", true, [12, 13, 14]], ["nobody", false, [15]]])
  })

  it("over a seeded stream equals a replay without the erased seqs, and agrees with the real processor", () => {
    const { messages, oracle } = seeded(5000, 41)
    expect(oracle.erasures.length).toBeGreaterThanOrEqual(20)
    expect(oracle.erasures.some((e) => !e.held)).toBe(true)
    const twice = new Map<string, number>()
    for (const e of oracle.erasures) twice.set(e.user_id, (twice.get(e.user_id) ?? 0) + 1)
    expect([...twice.values()].some((n) => n > 1)).toBe(true)
    expect(oracle.corrections.length).toBeGreaterThan(50)
    expect([...oracle.rejections.values()]).toEqual(expect.arrayContaining(["already_voided", "unknown_user", "unknown_action"]))

    // A replay once every erasure is done: the stream without the seqs they took out.
    const kept = messages.filter((m) => !oracle.erasedSeqs.has(m.seq))
    expect(kept.length).toBeLessThan(messages.length - oracle.erasures.length)
    const replay = new Oracle(`${P}.corrections`)
    for (const m of kept) replay.apply(m)
    replay.streamMs = oracle.streamMs // the same "now" (the last message may be one that was taken out)
    expect(modelOf(replay)).toEqual(modelOf(oracle))

    // The real processor over the whole stream, and over what a replay reads.
    const full = processorOver(messages)
    const again = processorOver(kept)
    expect(new Map([...full.rejections].filter(([seq]) => !oracle.erasedSeqs.has(seq)))).toEqual(oracle.rejections)
    expect(again.rejections).toEqual(oracle.rejections)
    for (const s of [full.state, again.state]) {
      for (const [id, u] of oracle.users) {
        const uid = s.users.uidOf(id)
        expect([id, uid >= 0 ? s.users.totalXp[uid] : null]).toEqual([id, u.totalXp])
      }
      for (const e of oracle.erasures) if (!oracle.users.has(e.user_id)) expect([e.user_id, s.users.uidOf(e.user_id)]).toEqual([e.user_id, -1])
      const boards = expectBoardsAsOracle(s, oracle)
      expect(boards).toBeGreaterThan(50)
    }
  })
})

/** A seeded stream of events over 25 days (some late), voids (some repeated), adjusts, zone changes and erasures. */
const seeded = (n: number, seed: number): { messages: Array<StoredMessage>; oracle: Oracle } => {
  const rnd = prng(seed)
  const oracle = new Oracle(`${P}.corrections`)
  const messages: Array<StoredMessage> = []
  const times = new Map<string, string>()
  const voids: Array<string> = []
  const user = () => `u${Math.floor(40 * rnd() ** 1.5)}`
  for (let seq = 1; seq <= n; seq++) {
    const streamMs = T0 + Math.floor((seq / n) * 25 * DAY)
    const r = rnd()
    let m: StoredMessage
    const awards = oracle.ledger
    if (r < 0.05 && awards.length > 0) {
      const again = voids.length > 0 && rnd() < 0.3 ? awards.find((a) => a.event_id === voids[Math.floor(rnd() * voids.length)]) : undefined
      const e = again ?? awards[Math.floor(rnd() * awards.length)]!
      voids.push(e.event_id)
      const body = { correction_id: `v${seq}`, kind: "void", event_id: e.event_id, reason: "test", event: { seq: e.seq, user_id: e.user_id, agent_name: e.agent_name, xp: e.total_awarded, event_time: times.get(e.event_id)! } }
      m = msg(seq, streamMs, "corrections", body, body.correction_id)
    } else if (r < 0.09) {
      const body = { correction_id: `a${seq}`, kind: "adjust", user_id: user(), xp: Math.floor(rnd() * 600) - 300 || 1, reason: "test", ...(rnd() < 0.5 ? { agent_name: "tester" } : {}) }
      m = msg(seq, streamMs, "corrections", body, body.correction_id)
    } else if (r < 0.1) {
      const body = { settings_id: `s${seq}`, user_id: user(), time_zone: ["Europe/Berlin", "Asia/Tokyo", "UTC"][Math.floor(rnd() * 3)] }
      m = msg(seq, streamMs, "settings", body, body.settings_id)
    } else if (r < 0.106) {
      m = erasure(seq, streamMs, rnd() < 0.1 ? `ghost${seq}` : user())
    } else {
      const late = rnd() < 0.15 ? Math.floor(rnd() * 3 * DAY) : 0
      const extra: Record<string, unknown> = { agent_name: ["coder", "tester", "writer"][Math.floor(rnd() * 3)], action_type: ["task_completed", "error_resolved", "mission_security", "speed_bonus"][Math.floor(rnd() * 4)], timestamp: new Date(streamMs - late).toISOString() }
      if (rnd() < 0.03) extra["action_type"] = "teleport"
      m = event(seq, streamMs, user(), extra)
      times.set(`e${seq}`, String(extra["timestamp"]))
    }
    messages.push(m)
    oracle.apply(m) // later voids take their facts from the oracle's own ledger (erased users' rows are gone)
  }
  return { messages, oracle }
}

const KIND: Readonly<Record<string, number>> = { events: MSG_EVENT, corrections: MSG_CORRECTION, settings: MSG_SETTINGS, erasures: MSG_ERASURE }

const processorOver = (messages: ReadonlyArray<StoredMessage>): { state: EngineState; rejections: Map<number, string> } => {
  const state = newEngineState(DEFAULT_RULES.periodGraceMs)
  const p = new Processor(state, RulesHistory.single(DEFAULT_RULES), { applied: 0, streamTimeMs: 0, gaps: 0 }, new Set())
  const raws: Array<RawEvent> = messages.map((m) => ({ seq: m.seq, streamTimeMs: m.streamMs, data: m.data, msgId: m.msgId, kind: KIND[m.subject!.slice(P.length + 1)] as RawEvent["kind"] }))
  const out = newSliceOutput()
  p.apply(raws, 0, raws.length, out)
  return { state, rejections: new Map(out.rejects.map((r) => [r.seq, r.reason])) }
}
