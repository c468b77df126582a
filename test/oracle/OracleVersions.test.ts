// Rules versions (ARCHITECTURE §10) in the independent oracle: every message judged and scored by
// the version in force at its seq; a retroactive re-projection is one version from seq 1 over the
// whole stream (closed periods re-scored, voids taking back what their event is worth under it,
// erasures again). Then
// the real processor (src, in process: no NATS) agreeing with it across a 3-version history and
// after a re-projection, message by message, on a seeded stream with corrections — the versions
// given to each side separately (test/oracle/versions.ts: a rules document and plain tables).
import { describe, expect, it } from "vitest"
import { Processor, newSliceOutput } from "../../src/actors/Processor.js"
import { DEFAULT_RULES, DEFAULT_RULES_DOCUMENT } from "../../src/domain/DefaultRules.js"
import { newEngineState } from "../../src/domain/engine/EngineState.js"
import type { VoidScoring } from "../../src/domain/engine/EngineState.js"
import { voidedEventSeq } from "../../src/domain/Correction.js"
import { profileOf } from "../../src/domain/engine/UserViews.js"
import { MSG_CORRECTION, MSG_EVENT } from "../../src/domain/MessageKind.js"
import { loadRulesOrThrow } from "../../src/domain/Rules.js"
import { RulesHistory } from "../../src/domain/RulesHistory.js"
import type { RawEvent } from "../../src/ports/EventSource.js"
import { periodsOf, dayOf } from "./calendar.js"
import { expectBoardsAsOracle } from "./engineBoards.js"
import { Oracle } from "./Oracle.js"
import type { StoredMessage } from "./Oracle.js"
import { modelOf } from "./replay.js"
import { DEFAULT_TABLES, fracOf } from "./rules.js"
import type { OracleVersion } from "./rules.js"
import { versionThree, versionTwo } from "./versions.js"
import { prng } from "./workload.js"

const SUBJECT = "t.xp.corrections"
const T0 = Date.UTC(2026, 10, 26, 12)
const DAY = 86_400_000
const enc = new TextEncoder()
const V2 = versionTwo("ov-2"), V3 = versionThree("ov-3")

let seq = 0
const msg = (e: Record<string, unknown>, streamMs = T0, subject = "t.xp.events"): StoredMessage =>
  ({ seq: ++seq, streamMs, msgId: String(e["correction_id"] ?? e["event_id"]), data: enc.encode(JSON.stringify(e)), subject })
const ev = (user: string, action: string, at: number, extra: Record<string, unknown> = {}) =>
  ({ event_id: `e${seq + 1}`, user_id: user, agent_name: "coder", action_type: action, timestamp: new Date(at).toISOString(), ...extra })

describe("oracle rules versions", () => {
  it("scores each event by the version in force at its seq; profiles and boards show the version in force now", () => {
    seq = 0
    const o = new Oracle(SUBJECT)
    o.apply(msg(ev("a", "task_completed", T0 - 2 * DAY)))
    o.apply(msg(ev("a", "task_completed", T0 - DAY, { multipliers: ["pair_session"] })))
    expect(() => o.applyRules(V2.tables, 2)).toThrow(/folded already/)
    o.applyRules(V2.tables, 4) // applied when the head was 3: from seq 4 on
    o.apply(msg(ev("a", "task_completed", T0, { multipliers: ["pair_session"] }))) // seq 3: v1, streak 3 → 1.1 × 1.2
    o.apply(msg(ev("a", "task_completed", T0, { multipliers: ["pair_session"] }))) // seq 4: v2, streak 3 → 1.15 × 1.3
    expect(o.ledger.map((e) => [e.seq, e.rules_version, e.total_multiplier, e.xp])).toEqual([
      [1, "arena-default-2", { num: 1n, den: 1n }, 10],
      [2, "arena-default-2", { num: 6n, den: 5n }, 12],
      [3, "arena-default-2", { num: 66n, den: 50n }, 13],
      [4, "ov-2", { num: 1495n, den: 1000n }, 14]
    ])
    expect(o.rulesHistory).toEqual([["arena-default-2", 1], ["ov-2", 4]])
    // v2's achievements listed (task_master with its progress over every task since seq 1), on_fire at 90.
    const p = o.profile("a")!
    expect(p.achievements.map((x) => x.id)).toEqual([...DEFAULT_TABLES.achievements.map((x) => x.id), "task_master"])
    expect(p.achievements.find((x) => x.id === "task_master")).toMatchObject({ progress: 4, target: 12, unlocked: false, bonus: 40 })
    expect(p.achievements.find((x) => x.id === "on_fire")!.bonus).toBe(90)
    // The 12th task (8 more under v2) unlocks it, with its bonus unmultiplied.
    for (let i = 0; i < 8; i++) o.apply(msg(ev("a", "task_completed", T0)))
    expect(o.ledger[o.ledger.length - 1]!.bonuses).toEqual([{ achievement: "task_master", xp: 40 }])
  })

  it("judges by the version at the seq, levels by its table, and keeps unlocks a later version drops", () => {
    seq = 0
    const only = { ...DEFAULT_TABLES, version: "lean", multipliers: { first_try: fracOf("1.5") }, levels: [{ level: 1, title: "One", xp: 0 }, { level: 2, title: "Two", xp: 20 }] }
    const o = new Oracle(null, { rules: [{ fromSeq: 1, rules: DEFAULT_TABLES }, { fromSeq: 3, rules: only }] })
    o.apply(msg(ev("b", "speed_bonus", T0, { multipliers: ["hackathon"] })))
    o.apply(msg(ev("b", "task_completed", T0)))
    o.apply(msg(ev("b", "task_completed", T0, { multipliers: ["hackathon"] }))) // unknown to "lean"
    o.apply(msg(ev("b", "task_completed", T0)))
    expect([...o.rejections]).toEqual([[3, "invalid_multiplier"]])
    // seq 4's level before is what seq 2 gave (1: 20 XP under the default table), after is lean's.
    expect(o.ledger.map((e) => [e.seq, e.xp, e.level_before, e.level_after])).toEqual([[1, 10, 1, 1], [2, 10, 1, 1], [4, 10, 1, 2]])
    expect(o.profile("b")!.level).toEqual({ number: 2, title: "Two", xp_into_level: 10, xp_for_next: null })
    expect(o.ranked("global", "all", "all")[0]!.level).toBe(2)
    // first_steps stays unlocked (seq 1) and listed, as "lean" lists it.
    expect(o.profile("b")!.achievements.find((x) => x.id === "first_steps")).toMatchObject({ unlocked: true, unlocked_seq: 1 })
  })

  it("a level is part of the scoring: a change of thresholds from head shows at each user's next award or correction", () => {
    seq = 0
    // v2 from head lowers the thresholds: Apprentice from 40, Adept from 60 (and other titles).
    const low = { ...DEFAULT_TABLES, version: "low", levels: [{ level: 1, title: "Rookie", xp: 0 }, { level: 2, title: "Regular", xp: 40 }, { level: 3, title: "Veteran", xp: 60 }] }
    const o = new Oracle(SUBJECT)
    for (const u of ["f", "g"]) for (let i = 0; i < 5; i++) o.apply(msg(ev(u, "task_completed", T0))) // 50 XP each: level 1 (Novice)
    o.applyRules(low, seq + 1)
    // No new award: both keep level 1 of the default table, in the profile and on the boards.
    expect(o.profile("f")!.level).toEqual({ number: 1, title: "Novice", xp_into_level: 50, xp_for_next: 50 })
    expect(o.ranked("global", "all", "all").map((r) => [r.user_id, r.level])).toEqual([["f", 1], ["g", 1]])
    // f's next award is scored by "low": 60 XP → Veteran; g is still a Novice.
    o.apply(msg(ev("f", "task_completed", T0)))
    expect(o.ledger.at(-1)).toMatchObject({ user_id: "f", level_before: 1, level_after: 3, rules_version: "low" })
    expect(o.profile("f")!.level).toEqual({ number: 3, title: "Veteran", xp_into_level: 0, xp_for_next: null })
    expect(o.profile("g")!.level).toEqual({ number: 1, title: "Novice", xp_into_level: 50, xp_for_next: 50 })
    expect(o.ranked("global", "all", "all").map((r) => [r.user_id, r.level])).toEqual([["f", 3], ["g", 1]])
    // A correction is scored too: an adjust of g by -5 (45 XP) under "low" gives Regular.
    o.apply(msg({ correction_id: "a1", kind: "adjust", user_id: "g", xp: -5, reason: "r" }, T0, SUBJECT))
    expect(o.corrections.at(-1)).toMatchObject({ user_id: "g", total_xp_after: 45, level_before: 1, level_after: 2 })
    expect(o.profile("g")!.level).toEqual({ number: 2, title: "Regular", xp_into_level: 5, xp_for_next: 15 })
    // A retroactive re-projection re-derives every level under its version.
    o.reproject(low)
    expect(o.ranked("global", "all", "all").map((r) => [r.user_id, r.level])).toEqual([["f", 3], ["g", 2]])
    expect(o.ledger.filter((e) => e.user_id === "g").map((e) => e.level_after)).toEqual([1, 1, 1, 2, 2])
    expect(o.profile("g")!.level.number).toBe(2)
  })

  it("the real processor and profile agree, message by message, when thresholds change from head (and fail on a profile level under the rules in force now)", () => {
    seq = 0
    const lowLevels = [{ level: 1, title: "Rookie", xp: 0 }, { level: 2, title: "Regular", xp: 40 }, { level: 3, title: "Veteran", xp: 60 }]
    const low = { ...DEFAULT_TABLES, version: "low", levels: lowLevels }
    const msgs: Array<StoredMessage> = []
    for (const u of ["f", "g"]) for (let i = 0; i < 5; i++) msgs.push(msg(ev(u, "task_completed", T0)))
    const from = seq + 1
    msgs.push(msg(ev("f", "task_completed", T0)), msg({ correction_id: "a1", kind: "adjust", user_id: "g", xp: -5, reason: "r" }, T0, SUBJECT), msg(ev("f", "speed_bonus", T0)))
    const o = new Oracle(SUBJECT, { rules: [{ fromSeq: 1, rules: DEFAULT_TABLES }, { fromSeq: from, rules: low }] })
    const h = RulesHistory.of([
      { rules: DEFAULT_RULES, effectiveFromSeq: 1, contentHash: "1", recordedAt: "" },
      { rules: loadRulesOrThrow({ ...DEFAULT_RULES_DOCUMENT, version: "low", levels: lowLevels }), effectiveFromSeq: from, contentHash: "2", recordedAt: "" }
    ])
    const s = newEngineState(h.maxPeriodGraceMs)
    const p = new Processor(s, h, { applied: 0, streamTimeMs: 0, gaps: 0 }, new Set())
    const seen: Array<[number, string, number, string]> = []
    for (const m of msgs) {
      o.apply(m)
      p.apply([{ seq: m.seq, streamTimeMs: m.streamMs, data: m.data, msgId: m.msgId, kind: m.subject === SUBJECT ? MSG_CORRECTION : MSG_EVENT }], 0, 1, newSliceOutput())
      for (const id of ["f", "g"]) {
        const uid = s.users.uidOf(id)
        if (uid < 0) continue
        const level = profileOf(s, uid, h.current.rules, T0, (q) => h.rulesAt(q)).level
        expect([m.seq, id, level]).toEqual([m.seq, id, o.profile(id)!.level])
        expect([m.seq, id, s.users.level[uid]]).toEqual([m.seq, id, o.ranked("global", "all", "all").find((r) => r.user_id === id)!.level]) // board rows
        seen.push([m.seq, id, level.number, level.title])
      }
    }
    // Once "low" is in force (seq 11 on), g keeps the default table's Novice until its adjust (seq 12).
    expect(seen.filter(([q, id]) => id === "g" && q >= from - 1)).toEqual([[10, "g", 1, "Novice"], [11, "g", 1, "Novice"], [12, "g", 2, "Regular"], [13, "g", 2, "Regular"]])
    expect(seen.filter(([q, id]) => id === "f" && q >= from - 1)).toEqual([[10, "f", 1, "Novice"], [11, "f", 3, "Veteran"], [12, "f", 3, "Veteran"], [13, "f", 3, "Veteran"]])
  })

  it("a retroactive re-projection is that version alone from seq 1: closed periods re-scored, voids take back the re-scored award, erasures stay", () => {
    seq = 0
    const o = new Oracle(SUBJECT)
    const day0 = T0 - 5 * DAY // too far back for the 2 freezes to bridge: no streak
    const first = msg(ev("c", "complex_api_design", day0, { multipliers: ["first_try"] }), day0)
    o.apply(first)
    o.apply(msg(ev("d", "task_completed", day0), day0))
    o.apply(msg(ev("e", "task_completed", day0), day0))
    o.applyRules(V2.tables, 4)
    // Days later: day0's boards are closed; a void of c's award (37 as carried) and an erasure of e.
    o.apply(msg({ correction_id: "v1", kind: "void", event_id: "e1", reason: "r", event: { seq: 1, user_id: "c", agent_name: "coder", xp: 37, event_time: new Date(day0).toISOString() } }, T0, SUBJECT))
    o.apply({ seq: ++seq, streamMs: T0, msgId: "erasure/AAAAAAAAAAAAAAAAAAAAAA", data: enc.encode(JSON.stringify({ erasure_id: "AAAAAAAAAAAAAAAAAAAAAA", user_id: "e" })), subject: "t.xp.erasures" })
    o.apply(msg(ev("c", "complex_api_design", T0, { multipliers: ["first_try"] })))
    const p0 = periodsOf(dayOf(day0))
    expect(o.ranked("global", "day", p0.day).map((r) => [r.user_id, r.xp])).toEqual([["c", 37], ["d", 10]]) // archived: the void left it
    expect(o.users.get("c")!.totalXp).toBe(37)

    o.reproject(V3.tables)
    expect(o.rulesHistory).toEqual([["ov-3", 1]])
    // Under v3 first_try is ×1.6: 25 → 40 (the archive of day0 re-scored), and the void takes back
    // what the award is worth under v3 (40), not the 37 it carries.
    expect(o.ranked("global", "day", p0.day).map((r) => [r.user_id, r.xp])).toEqual([["c", 40], ["d", 10]])
    expect(o.users.get("c")!.totalXp).toBe(40 - 40 + 40)
    expect(o.corrections.map((c) => [c.correction_id, c.requested_xp])).toEqual([["v1", -40]])
    expect(o.users.has("e")).toBe(false)
    expect(o.ledger.every((e) => e.rules_version === "ov-3")).toBe(true)
    // The same as a fresh fold of the stream under v3 alone.
    const fresh = new Oracle(SUBJECT, { rules: [{ fromSeq: 1, rules: V3.tables }], projection: { id: 1, builtThrough: seq } })
    // (the erasure took e's event out of the stream: a replay reads what is left)
    for (let s = 1; s <= seq; s++) if (!o.erasedSeqs.has(s)) fresh.apply(reread(o, s))
    expect(modelOf(fresh)).toEqual(modelOf(o))
    // Later applies from head go on top of it.
    o.applyRules(V2.tables, seq + 1)
    expect(o.rulesHistory).toEqual([["ov-3", 1], ["ov-2", seq + 1]])
  })

  it("voids across a re-projection: up to its built seq re-scored (0 for an event it does not apply), after it refused when they name another projection", () => {
    seq = 0
    const noTasks = { ...V3.tables, version: "ov-none", points: Object.fromEntries(Object.entries(V3.tables.points).filter(([a]) => a !== "task_completed")) }
    const o = new Oracle(SUBJECT)
    const facts = (eventSeq: number, user: string, xp: number, projection?: number) =>
      ({ seq: eventSeq, user_id: user, agent_name: "coder", xp, event_time: new Date(T0).toISOString(), ...(projection === undefined ? {} : { projection }) })
    o.apply(msg(ev("a", "complex_api_design", T0, { multipliers: ["first_try"] }))) // 37 under the default rules, 40 under v3
    o.apply(msg(ev("b", "task_completed", T0))) // 10, not applied by "ov-none"
    o.apply(msg(ev("b", "complex_api_design", T0)))
    o.apply(msg({ correction_id: "v1", kind: "void", event_id: "e1", reason: "r", event: facts(1, "a", 37, 0) }, T0, SUBJECT))
    o.apply(msg({ correction_id: "v2", kind: "void", event_id: "e2", reason: "r", event: facts(2, "b", 10) }, T0, SUBJECT))
    const built = seq
    // Stored after the build's end, before the switch: one names projection 0 (refused once re-projected), one names none (taken as carried).
    o.apply(msg(ev("c", "complex_api_design", T0)))
    o.apply(msg({ correction_id: "v3", kind: "void", event_id: "e6", reason: "r", event: facts(6, "c", 25, 0) }, T0, SUBJECT))
    o.apply(msg(ev("d", "complex_api_design", T0)))
    o.apply(msg({ correction_id: "v4", kind: "void", event_id: "e8", reason: "r", event: facts(8, "d", 5) }, T0, SUBJECT))
    expect([...o.rejections]).toEqual([])
    expect(o.corrections.map((c) => [c.correction_id, c.requested_xp])).toEqual([["v1", -37], ["v2", -10], ["v3", -25], ["v4", -5]])
    o.reproject(noTasks, { projection: 1, builtThrough: built })
    // v1: a's award is worth 40 under the new rules; v2: b's task is not applied, worth 0.
    expect(o.corrections.map((c) => [c.correction_id, c.requested_xp])).toEqual([["v1", -40], ["v2", 0], ["v4", -5]])
    expect([...o.rejections]).toEqual([[2, "unknown_action"], [7, "projection_changed"]])
    expect([o.users.get("a")!.totalXp, o.users.get("b")!.totalXp, o.users.get("c")!.totalXp, o.users.get("d")!.totalXp]).toEqual([0, 25, 25, 20])
    // After the switch a void names the new projection.
    o.apply(msg({ correction_id: "v5", kind: "void", event_id: "e6", reason: "r", event: facts(6, "c", 25, 1) }, T0, SUBJECT))
    expect(o.corrections.at(-1)).toMatchObject({ correction_id: "v5", requested_xp: -25, total_xp_after: 0 })
  })

  it("agrees with the real processor across three versions and after a re-projection, on a seeded stream with corrections", () => {
    const n = 6000
    const history: Array<OracleVersion> = [{ fromSeq: 1, rules: DEFAULT_TABLES }, { fromSeq: 2001, rules: V2.tables }, { fromSeq: 4001, rules: V3.tables }]
    const oracle = new Oracle(SUBJECT, { rules: history })
    const msgs = stream(n, 7, oracle)
    expect(new Set(oracle.ledger.map((e) => e.rules_version))).toEqual(new Set(["arena-default-2", "ov-2", "ov-3"]))
    const unlocked = new Set(oracle.ledger.flatMap((e) => e.bonuses.map((b) => `${e.rules_version}:${b.achievement}`)))
    for (const u of ["ov-2:task_master", "ov-3:kilo_xp", "arena-default-2:api_master", "arena-default-2:on_fire"]) expect([...unlocked]).toContain(u)
    expect(oracle.corrections.length).toBeGreaterThan(100)

    const engine = (h: RulesHistory, voids?: VoidScoring) => {
      const s = newEngineState(h.maxPeriodGraceMs, voids)
      const p = new Processor(s, h, { applied: 0, streamTimeMs: 0, gaps: 0 }, new Set())
      const raws: Array<RawEvent> = msgs.map((m) => ({ seq: m.seq, streamTimeMs: m.streamMs, data: m.data, msgId: m.msgId, kind: m.subject === SUBJECT ? MSG_CORRECTION : MSG_EVENT }))
      const out = newSliceOutput()
      p.apply(raws, 0, raws.length, out)
      return { s, out, h }
    }
    const compiled = (d: typeof V2.document) => loadRulesOrThrow(d)
    const versions = RulesHistory.of([
      { rules: DEFAULT_RULES, effectiveFromSeq: 1, contentHash: "1", recordedAt: "" },
      { rules: compiled(V2.document), effectiveFromSeq: 2001, contentHash: "2", recordedAt: "" },
      { rules: compiled(V3.document), effectiveFromSeq: 4001, contentHash: "3", recordedAt: "" }
    ])
    agree(engine(versions), oracle)

    const re = new Oracle(SUBJECT, { rules: history })
    for (const m of msgs) re.apply(m)
    re.reproject(V3.tables)
    // As a shadow build runs it: the voids of its range read first, each takes back the re-scored award.
    const worth = new Map<number, number>()
    for (const m of msgs) if (m.subject === SUBJECT) { const q = voidedEventSeq(m.data); if (q !== null) worth.set(q, 0) }
    const rescored = engine(RulesHistory.single(compiled(V3.document), "3"), { projection: 1, worth })
    agree(rescored, re)
    const carried = new Map(oracle.corrections.map((c) => [c.correction_id, c.requested_xp]))
    const voids = re.corrections.filter((c) => c.correction === "void")
    expect(voids.length).toBeGreaterThan(50)
    expect(voids.filter((c) => c.requested_xp !== carried.get(c.correction_id)).length).toBeGreaterThan(5) // re-scored, not as carried
    expect(re.ledger.some((e, i) => e.seq < 4001 && e.xp !== oracle.ledger[i]!.xp)).toBe(true) // it did re-score before seq 4001
    expect(re.ledger.some((e) => e.bonuses.some((b) => b.achievement === "api_master" && b.xp === 120))).toBe(true)
  })
})

/** The message at `s` as the oracle folded it (from its own model's input: what a replay reads). */
const reread = (o: Oracle, s: number): StoredMessage => (o as unknown as { folded: Array<StoredMessage> }).folded.find((m) => m.seq === s)!

/** The engine's outcome equals the oracle's: rejections, awards, corrections, totals and levels, every board. */
const agree = (e: { s: ReturnType<typeof newEngineState>; out: ReturnType<typeof newSliceOutput>; h: RulesHistory }, oracle: Oracle) => {
  const { s, out, h } = e
  expect(new Map(out.rejects.map((r) => [r.seq, r.reason]))).toEqual(oracle.rejections)
  const awards = out.records.flatMap((r) => (r.kind === "award" ? [r.entry] : []))
  expect(awards.map((a) => [a.seq, a.user_id, a.xp, a.bonuses.map((b) => [b.achievement, b.xp]), a.total_awarded, a.total_xp_after, a.level_before, a.level_after, a.rules_version]))
    .toEqual(oracle.ledger.map((a) => [a.seq, a.user_id, a.xp, a.bonuses.map((b) => [b.achievement, b.xp]), a.total_awarded, a.total_xp_after, a.level_before, a.level_after, a.rules_version]))
  const corrections = out.records.flatMap((r) => (r.kind === "correction" ? [r.entry] : []))
  expect(corrections.map((c) => [c.seq, c.correction_id, c.requested_xp, c.xp, c.total_xp_after, c.level_before, c.level_after]))
    .toEqual(oracle.corrections.map((c) => [c.seq, c.correction_id, c.requested_xp, c.xp, c.total_xp_after, c.level_before, c.level_after]))
  for (const [id, u] of oracle.users) {
    const uid = s.users.uidOf(id)
    expect([id, s.users.totalXp[uid], s.users.level[uid]]).toEqual([id, u.totalXp, oracle.profile(id)!.level.number])
    // The profile's level (as Users.ts builds it: the version that scored the user's last message).
    expect([id, profileOf(s, uid, h.current.rules, oracle.streamMs, (q) => h.rulesAt(q)).level]).toEqual([id, oracle.profile(id)!.level])
  }
  const boards = expectBoardsAsOracle(s, oracle)
  expect(boards).toBeGreaterThan(50)
}

const ACTIONS = ["task_completed", "task_completed", "error_resolved", "complex_api_design", "complex_api_design", "speed_bonus", "mission_architecture", "mission_performance", "mission_security", "mission_analytics", "custom"]
const MULTS = ["first_try", "pair_session", "hackathon"]

/** A seeded stream over 40 days: events (some late, with multipliers), voids (facts from the oracle's ledger) and adjusts. */
const stream = (n: number, seed: number, oracleForFacts: Oracle): Array<StoredMessage> => {
  const rnd = prng(seed)
  const out: Array<StoredMessage> = []
  const times = new Map<string, string>()
  for (let s = 1; s <= n; s++) {
    const streamMs = T0 - 40 * DAY + Math.floor((s / n) * 40 * DAY)
    const r = rnd()
    let m: StoredMessage
    const awards = oracleForFacts.ledger
    if (r < 0.03 && awards.length > 0) {
      const e = awards[Math.floor(rnd() * awards.length)]!
      const body = { correction_id: `v${s}`, kind: "void", event_id: e.event_id, reason: "test", event: { seq: e.seq, user_id: e.user_id, agent_name: e.agent_name, xp: e.total_awarded, event_time: times.get(e.event_id)! } }
      m = { seq: s, streamMs, msgId: body.correction_id, data: enc.encode(JSON.stringify(body)), subject: SUBJECT }
    } else if (r < 0.05) {
      const body = { correction_id: `a${s}`, kind: "adjust", user_id: `u${Math.floor(rnd() * 25)}`, xp: Math.floor(rnd() * 600) - 300 || 1, reason: "test", ...(rnd() < 0.5 ? { agent_name: "coder" } : {}) }
      m = { seq: s, streamMs, msgId: body.correction_id, data: enc.encode(JSON.stringify(body)), subject: SUBJECT }
    } else {
      const late = rnd() < 0.15 ? Math.floor(rnd() * 3 * DAY) : 0
      const action = ACTIONS[Math.floor(rnd() * ACTIONS.length)]!
      const ms = MULTS.filter(() => rnd() < 0.3)
      const e = {
        event_id: `e${s}`, user_id: `u${Math.floor(25 * rnd() ** 1.5)}`, agent_name: ["coder", "tester"][Math.floor(rnd() * 2)], action_type: action,
        timestamp: new Date(streamMs - late).toISOString(), ...(action === "custom" ? { base_points: 1 + Math.floor(rnd() * 500) } : {}), ...(ms.length > 0 ? { multipliers: ms } : {})
      }
      times.set(e.event_id, e.timestamp)
      m = { seq: s, streamMs, msgId: e.event_id, data: enc.encode(JSON.stringify(e)), subject: "t.xp.events" }
    }
    out.push(m)
    oracleForFacts.apply(m)
  }
  return out
}
