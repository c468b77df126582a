// An erasure message drops the user from the state at its seq: every open board afterwards equals
// the boards of the same stream without that user's events (others keep score and tie-break,
// ranks close up), the user table forgets them, a snapshot of the state does not hold them, and a
// later event for the same user_id starts a new, empty user. Malformed erasure messages are refused,
// and only the erasures subject (kind MSG_ERASURE) makes a message an erasure.
import { describe, expect, it } from "vitest"
import { DEFAULT_RULES } from "./DefaultRules.js"
import { encodeErasureMessage, erasureMsgId } from "./Erasure.js"
import { MSG_ERASURE, MSG_EVENT } from "./MessageKind.js"
import { applyMessage } from "./StreamMessage.js"
import type { StoredMessage } from "./StreamMessage.js"
import type { EngineState } from "./engine/EngineState.js"
import { eventStream, newEngineState } from "./engine/TestState.js"
import type { Step } from "./engine/TestState.js"
import { boardKeyString } from "./BoardKeys.js"
import { ChunkEncoder, loadChunk, rebuildBoards } from "./state/SnapshotCodec.js"

const enc = new TextEncoder()
const msg = (s: Step): StoredMessage => ({ seq: s.seq, streamTimeMs: s.streamTimeMs, data: enc.encode(JSON.stringify(s.ev)), msgId: s.ev.event_id })
const ID = "AAAAAAAAAAAAAAAAAAAAAA"
const erasure = (seq: number, streamTimeMs: number, userId: string, id = ID): StoredMessage =>
  ({ seq, streamTimeMs, data: enc.encode(encodeErasureMessage({ erasure_id: id, user_id: userId })), msgId: erasureMsgId(id), kind: MSG_ERASURE })

/** Every open board as [key, [[user_id, xp, seq]...]] in rank order. */
const boards = (s: EngineState) =>
  s.boards.open().map((id) => {
    const rows: Array<[string, number, number]> = []
    s.boards.tree(id)!.forEachInRange(0, 1 << 30, (uid, xp, seq) => { rows.push([s.users.userId(uid), xp, seq]) })
    return [boardKeyString(s.boards.refs[id]!), rows] as const
  }).filter(([, rows]) => rows.length > 0).sort((a, b) => (a[0] < b[0] ? -1 : 1))

const steps = eventStream(600, { seed: 11, users: 8, days: 3 })
const last = steps[steps.length - 1]!
const VICTIM = "u3"

describe("erasure message", () => {
  it("leaves every board as if the user's events never were, and the table without them", () => {
    const s = newEngineState()
    for (const st of steps) expect(applyMessage(s, DEFAULT_RULES, msg(st)).ok).toBe(true)
    expect(s.users.uidOf(VICTIM)).toBeGreaterThanOrEqual(0)
    const o = applyMessage(s, DEFAULT_RULES, erasure(last.seq + 1, last.streamTimeMs, VICTIM))
    expect(o).toEqual({ ok: true, kind: MSG_ERASURE, erasure: { erasureId: ID, userId: VICTIM, held: true } })
    expect(s.users.uidOf(VICTIM)).toBe(-1)

    const without = newEngineState()
    for (const st of steps) if (st.ev.user_id !== VICTIM) applyMessage(without, DEFAULT_RULES, msg(st))
    const got = boards(s)
    expect(got).toEqual(boards(without))
    expect(JSON.stringify(got)).not.toContain(VICTIM)
    expect(s.users.size).toBe(without.users.size)

    // A snapshot of this state (what the base cut after an erasure writes) does not hold them.
    const e = new ChunkEncoder(s)
    for (let uid = 0; uid < s.users.capacity; uid++) if (s.users.has(uid)) e.add(uid)
    const chunk = e.finish()
    expect(Buffer.from(chunk).includes(Buffer.from(VICTIM))).toBe(false)
    const loaded = newEngineState()
    loadChunk(loaded, chunk, { streamTimeMs: last.streamTimeMs })
    rebuildBoards(loaded)
    // (a snapshot restores the boards still open at its stream time)
    const restored = boards(loaded)
    expect(restored.length).toBeGreaterThan(0)
    expect(restored).toEqual(got.filter(([k]) => restored.some(([r]) => r === k)))
    expect(loaded.users.size).toBe(s.users.size)

    // Erasing again is a no-op; a later event for the same id is a new user with only that event.
    expect(applyMessage(s, DEFAULT_RULES, erasure(last.seq + 2, last.streamTimeMs, VICTIM))).toMatchObject({ ok: true, erasure: { held: false } })
    const again = { ...steps[0]!.ev, event_id: "later", user_id: VICTIM, timestamp: new Date(last.streamTimeMs).toISOString() }
    const r = applyMessage(s, DEFAULT_RULES, { seq: last.seq + 3, streamTimeMs: last.streamTimeMs, data: enc.encode(JSON.stringify(again)), msgId: "later" })
    expect(r.ok && r.kind === MSG_EVENT ? r.entry.total_xp_after : -1).toBe(r.ok && r.kind === MSG_EVENT ? r.entry.total_awarded : -2)
  })

  it("a replay from an older snapshot drops the user too, after their later messages were erased", () => {
    // The older snapshot (at seq k) holds the victim; the stream after it has gaps where their
    // messages were erased, then the erasure message: the replayed state has no trace of them.
    const k = 300
    const s = newEngineState()
    for (const st of steps.slice(0, k)) applyMessage(s, DEFAULT_RULES, msg(st))
    const e = new ChunkEncoder(s)
    for (let uid = 0; uid < s.users.capacity; uid++) if (s.users.has(uid)) e.add(uid)
    const older = e.finish()
    expect(Buffer.from(older).includes(Buffer.from(VICTIM))).toBe(true)
    const replayed = newEngineState()
    loadChunk(replayed, older, { streamTimeMs: steps[k - 1]!.streamTimeMs })
    rebuildBoards(replayed)
    for (const st of steps.slice(k)) if (st.ev.user_id !== VICTIM) applyMessage(replayed, DEFAULT_RULES, msg(st))
    applyMessage(replayed, DEFAULT_RULES, erasure(last.seq + 1, last.streamTimeMs, VICTIM))
    expect(replayed.users.uidOf(VICTIM)).toBe(-1)
    const got = boards(replayed)
    expect(JSON.stringify(got)).not.toContain(VICTIM)
    // Every board the replay holds equals that board in a run that never saw the victim.
    const without = newEngineState()
    for (const st of steps) if (st.ev.user_id !== VICTIM) applyMessage(without, DEFAULT_RULES, msg(st))
    const ref = new Map(boards(without))
    for (const [key, rows] of got) expect([key, rows]).toEqual([key, ref.get(key)])
  })

  it("refuses an erasure message that is malformed or whose Nats-Msg-Id does not match", () => {
    const s = newEngineState()
    const bad = (data: string, msgId: string | undefined) => applyMessage(s, DEFAULT_RULES, { seq: 1, streamTimeMs: 0, data: enc.encode(data), msgId, kind: MSG_ERASURE })
    expect(bad("{", erasureMsgId(ID))).toMatchObject({ ok: false, reason: "invalid_event" })
    expect(bad(JSON.stringify({ erasure_id: "short", user_id: "u1" }), erasureMsgId(ID))).toMatchObject({ ok: false, reason: "invalid_event" })
    expect(bad(JSON.stringify({ erasure_id: ID, user_id: "u 1" }), erasureMsgId(ID))).toMatchObject({ ok: false, reason: "invalid_event" })
    expect(bad(encodeErasureMessage({ erasure_id: ID, user_id: "u1" }), erasureMsgId("BBBBBBBBBBBBBBBBBBBBBB"))).toMatchObject({ ok: false, reason: "invalid_event" })
    expect(bad(encodeErasureMessage({ erasure_id: ID, user_id: "u1" }), undefined)).toMatchObject({ ok: false, reason: "invalid_event" })
    // Only its subject makes a message an erasure: the same message on the events subject is an
    // event (refused: no event fields), and the user it names stays.
    const t = newEngineState()
    expect(applyMessage(t, DEFAULT_RULES, msg(steps[0]!)).ok).toBe(true)
    const asEvent = applyMessage(t, DEFAULT_RULES, { ...erasure(2, 0, steps[0]!.ev.user_id), kind: MSG_EVENT })
    expect(asEvent.ok).toBe(false)
    expect(t.users.uidOf(steps[0]!.ev.user_id)).toBeGreaterThanOrEqual(0)
  })
})
