// The dry run's voids (§10): the rules in force take back what the live projection did (re-scored
// up to the seq its re-projection was built through, as carried after it), the proposed rules what
// a re-projection built now would (every void re-scored) — over an in-memory stream.
import { Effect } from "effect"
import { describe, expect, it } from "vitest"
import { DEFAULT_RULES_DOCUMENT } from "../domain/DefaultRules.js"
import { MSG_CORRECTION, MSG_ERASURE, MSG_EVENT, MSG_SETTINGS } from "../domain/MessageKind.js"
import { partitionOfUser } from "../domain/Partition.js"
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

describe("dry run: partitioned mode", () => {
  // The same messages as one process stores them and as a partitioned deployment stores them (§9):
  // each on its user's partition subject, with the ticks the coordinator publishes, a message no
  // partition reads, and two a partition refuses (a user's event and a correction on another
  // user's partition). The report must be the single process's, where the refused ones are refused
  // there too (undecodable stand-ins at the same seqs) and the rest is left out.
  const P = 4
  const users = ["ann", "k_l", "x.y"]
  const part = (u: string) => partitionOfUser(u, P)
  const other = (u: string) => (part(u) + 1) % P
  const at = (m: RawEvent, subject: string): RawEvent => ({ ...m, kind: MSG_EVENT, subject })
  const junk = (seq: number, kind: RawEvent["kind"]): RawEvent => ({ seq, streamTimeMs: T, data: enc.encode("{}"), msgId: `junk${seq}`, ...(kind === undefined ? {} : { kind }) })
  const adjust = (seq: number, user: string, xp: number): RawEvent => {
    const body = { correction_id: `j${seq}`, kind: "adjust", user_id: user, xp, reason: "r" }
    return { seq, streamTimeMs: T, data: enc.encode(JSON.stringify(body)), msgId: body.correction_id, kind: MSG_CORRECTION }
  }
  const settings = (seq: number, user: string): RawEvent => {
    const body = { settings_id: `s${seq}`, user_id: user, time_zone: "Asia/Tokyo" }
    return { seq, streamTimeMs: T, data: enc.encode(JSON.stringify(body)), msgId: body.settings_id, kind: MSG_SETTINGS }
  }
  const erasure = (seq: number, user: string): RawEvent => {
    const id = `er${String(seq).padStart(20, "0")}`
    return { seq, streamTimeMs: T, data: enc.encode(JSON.stringify({ erasure_id: id, user_id: user })), msgId: `erasure/${id}`, kind: MSG_ERASURE }
  }
  const tick = (seq: number, k: number): RawEvent => ({ seq, streamTimeMs: T + seq, data: new Uint8Array(0), msgId: `tick/${k}/${seq}`, subject: `arena.xp.p.${k}.$tick` })
  const kindSubject = (m: RawEvent, user: string, k = part(user)): RawEvent => ({
    ...m, kind: MSG_EVENT, subject: `arena.xp.p.${k}.${m.kind === MSG_CORRECTION ? "$corrections" : m.kind === MSG_SETTINGS ? "$settings" : "$erasures"}`
  })
  const token = (u: string) => u.replace(/\./g, "~")
  // [as one process stores it, as the partitioned stream stores it]
  const pairs: Array<readonly [RawEvent | null, RawEvent]> = [
    [event(1, "ann"), at(event(1, "ann"), `arena.xp.p.${part("ann")}.ann`)],
    [event(2, "k_l"), at(event(2, "k_l"), `arena.xp.p.${part("k_l")}.k_l`)],
    [null, tick(3, 0)],
    [event(4, "x.y"), at(event(4, "x.y"), `arena.xp.p.${part("x.y")}.${token("x.y")}`)],
    [settings(5, "ann"), kindSubject(settings(5, "ann"), "ann")],
    [event(6, "ann"), at(event(6, "ann"), `arena.xp.p.${part("ann")}.ann`)],
    [voidOf(7, 1, "ann", 20), kindSubject(voidOf(7, 1, "ann", 20), "ann")],
    [adjust(8, "k_l", 50), kindSubject(adjust(8, "k_l", 50), "k_l")],
    // ann's event on another partition's subject, and a correction of k_l's on another partition: refused.
    [junk(9, MSG_EVENT), at(event(9, "ann"), `arena.xp.p.${other("ann")}.ann`)],
    [junk(10, MSG_CORRECTION), kindSubject(adjust(10, "k_l", 500), "k_l", other("k_l"))],
    [null, tick(11, 1)],
    // Not a partition of this deployment: no consumer reads it.
    [null, at(event(12, "k_l"), `arena.xp.p.${P}.k_l`)],
    [erasure(13, "x.y"), kindSubject(erasure(13, "x.y"), "x.y")],
    [event(14, "k_l"), at(event(14, "k_l"), `arena.xp.p.${part("k_l")}.k_l`)],
    [event(15, "x.y"), at(event(15, "x.y"), `arena.xp.p.${part("x.y")}.${token("x.y")}`)],
    [null, tick(16, 2)]
  ]
  const single = pairs.flatMap(([s]) => (s === null ? [] : [s]))
  const partitioned = pairs.map(([, p]) => p)
  const run = (msgs: ReadonlyArray<RawEvent>, partitions?: number) => Effect.runPromise(dryRun({
    events: source(msgs), history: RulesHistory.single(rules("v1", 20)), proposed: rules("v2", 30), voids: { scan: scan(msgs), projection: 0, builtSeq: 0 },
    ...(partitions === undefined ? {} : { partitions })
  }))
  const lastOf = (msgs: ReadonlyArray<RawEvent>): EventSource => ({ ...source(msgs), head: Effect.succeed({ name: "S", created: "c", firstSeq: 1, lastSeq: msgs.at(-1)!.seq, messages: msgs.length }) })

  it("reads every partition's subjects as its partition does: the single process's report", async () => {
    expect(new Set(users.map(part)).size).toBe(users.length)
    const scanOf = (msgs: ReadonlyArray<RawEvent>) => scan(msgs.map((m) => (m.subject?.endsWith(".$corrections") === true ? { ...m, kind: MSG_CORRECTION } : m)))
    const one = await Effect.runPromise(dryRun({ events: lastOf(single), history: RulesHistory.single(rules("v1", 20)), proposed: rules("v2", 30), voids: { scan: scan(single), projection: 0, builtSeq: 0 } }))
    const many = await Effect.runPromise(dryRun({ events: lastOf(partitioned), history: RulesHistory.single(rules("v1", 20)), proposed: rules("v2", 30), voids: { scan: scanOf(partitioned), projection: 0, builtSeq: 0 }, partitions: P }))
    const { stream: s1, ...rest1 } = one
    const { stream: s2, ...rest2 } = many
    expect(rest2).toEqual(rest1)
    // Ticks and the message no partition reads are not messages of the run; the last seq is the stream's.
    expect(s2).toEqual({ ...s1, last_seq: 16 })
    expect(s1).toMatchObject({ last_seq: 15, messages: 12, rejected_before: 2, rejected_after: 2 })
    // ann: 20 - 20 (void) + 20 now, 30 - 30 + 30 proposed; k_l: 20 + 50 + 20, 30 + 50 + 30; x.y erased, then 20 and 30.
    expect(Object.fromEntries(many.changed_users.map((u) => [u.user_id, [u.xp_before, u.xp_after]]))).toEqual({ ann: [20, 30], k_l: [90, 110], "x.y": [20, 30] })
  })

  it("a partitioned run's unread messages are not read as events", async () => {
    expect((await run(partitioned, P)).stream.messages).toBe(12)
  })
})
