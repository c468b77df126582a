// applyMessage in partitioned mode (ARCHITECTURE §9): a partition's consumer passes each event's
// subject; an event whose subject does not carry its user's token and partition is dead-lettered
// `subject_user_mismatch` and leaves the state untouched, so one user is never split over two
// partitions. Without the partition argument (single-process mode) nothing is checked. A tick
// (its own kind, by subject) is applied as nothing at all, whatever it carries.
import { describe, expect, it } from "vitest"
import { DEFAULT_RULES } from "./DefaultRules.js"
import { newEngineState } from "./engine/TestState.js"
import { MSG_CORRECTION, MSG_ERASURE, MSG_SETTINGS, MSG_TICK } from "./MessageKind.js"
import type { MessageKind } from "./MessageKind.js"
import { PARTITION_PREFIX, partitionKindSubject, partitionOfUser, tickMsgId, tickSubject, userToken } from "./Partition.js"
import type { AnalyticsRecord } from "./Records.js"
import { applyMessage, messageRecords } from "./StreamMessage.js"
import type { StoredMessage } from "./StreamMessage.js"

const P = 8
const enc = new TextEncoder()
const event = (user: string, id: string) => enc.encode(JSON.stringify({ event_id: id, user_id: user, agent_name: "claude-code", action_type: "task_completed", timestamp: "2026-11-01T10:00:00Z" }))
const at = (seq: number, user: string, subject: string | undefined) =>
  ({ seq, streamTimeMs: Date.UTC(2026, 10, 1, 10, 0, 1), data: event(user, `e${seq}`), msgId: `e${seq}`, subject })

describe("applyMessage with an owned partition", () => {
  const user = "ada.l@example.com"
  const k = partitionOfUser(user, P)
  const own = { partitions: P, owned: k }
  const subject = `${PARTITION_PREFIX}${k}.${userToken(user)}`

  it("applies an event on its user's subject of the owned partition", () => {
    const s = newEngineState()
    expect(applyMessage(s, DEFAULT_RULES, at(1, user, subject), undefined, own)).toMatchObject({ ok: true })
    expect(s.users.uidOf(user)).toBeGreaterThanOrEqual(0)
  })

  it("dead-letters another user's token, another partition, a missing subject, and changes nothing", () => {
    const other = "bob"
    const wrongToken = `${PARTITION_PREFIX}${k}.${userToken(other)}`
    const j = (k + 1) % P
    const cases = [wrongToken, `${PARTITION_PREFIX}${j}.${userToken(user)}`, undefined]
    cases.forEach((subj, i) => {
      const s = newEngineState()
      const o = applyMessage(s, DEFAULT_RULES, at(i + 1, user, subj), undefined, own)
      expect(o).toMatchObject({ ok: false, reason: "subject_user_mismatch", eventId: `e${i + 1}` })
      expect(s.users.uidOf(user)).toBe(-1)
    })
  })

  it("checks nothing without a partition (single-process mode)", () => {
    expect(applyMessage(newEngineState(), DEFAULT_RULES, at(1, user, undefined))).toMatchObject({ ok: true })
  })
})

describe("applyMessage: a tick", () => {
  const tick = (seq: number, data: Uint8Array, msgId: string | undefined): StoredMessage =>
    ({ seq, streamTimeMs: Date.UTC(2026, 10, 2, 0, 10, 1), data, msgId, kind: MSG_TICK, subject: tickSubject(3) })

  it("is applied as nothing, whatever its body or header: never refused, no user, no board, no record", () => {
    const s = newEngineState()
    const boards = s.boards.count
    const ticks = [
      tick(1, new Uint8Array(0), tickMsgId(3, 1_764_634_201)),
      tick(2, new Uint8Array(0), undefined),
      tick(3, event("ann", "e3"), "e3") // an event's body on a tick subject is a tick: its subject says so
    ]
    for (const t of ticks) {
      expect(applyMessage(s, DEFAULT_RULES, t)).toEqual({ ok: true, kind: MSG_TICK })
      expect(applyMessage(s, DEFAULT_RULES, t, undefined, { partitions: P, owned: 3 })).toEqual({ ok: true, kind: MSG_TICK })
    }
    expect(s.users.size).toBe(0)
    expect(s.boards.count).toBe(boards)
    const out: Array<AnalyticsRecord> = []
    for (const t of ticks) messageRecords(s, DEFAULT_RULES, t, out)
    expect(out).toEqual([])
  })
})

describe("applyMessage: corrections, settings and erasures on a partition's kind subjects", () => {
  const user = "ada.l@example.com"
  const k = partitionOfUser(user, P)
  const j = (k + 1) % P
  const own = { partitions: P, owned: k }
  const withEvent = () => {
    const s = newEngineState()
    expect(applyMessage(s, DEFAULT_RULES, at(1, user, `${PARTITION_PREFIX}${k}.${userToken(user)}`), undefined, own)).toMatchObject({ ok: true })
    return s
  }
  const msg = (seq: number, kind: MessageKind, subject: string, body: object, msgId: string): StoredMessage =>
    ({ seq, streamTimeMs: Date.UTC(2026, 10, 1, 10, 0, 2), data: enc.encode(JSON.stringify(body)), msgId, kind, subject })
  const adjust = (subject: string) => msg(2, MSG_CORRECTION, subject, { correction_id: "c1", kind: "adjust", user_id: user, xp: 5, reason: "r" }, "c1")
  const settings = (subject: string) => msg(2, MSG_SETTINGS, subject, { settings_id: "s1", user_id: user, visibility: "private" }, "s1")
  const erasure = (subject: string) => msg(2, MSG_ERASURE, subject, { erasure_id: "AAAAAAAAAAAAAAAAAAAAAA", user_id: user }, "erasure/AAAAAAAAAAAAAAAAAAAAAA")

  it("applies each on the user's partition subject of its kind", () => {
    expect(applyMessage(withEvent(), DEFAULT_RULES, adjust(partitionKindSubject(k, "corrections")), undefined, own)).toMatchObject({ ok: true, kind: MSG_CORRECTION })
    expect(applyMessage(withEvent(), DEFAULT_RULES, settings(partitionKindSubject(k, "settings")), undefined, own)).toMatchObject({ ok: true, kind: MSG_SETTINGS })
    expect(applyMessage(withEvent(), DEFAULT_RULES, erasure(partitionKindSubject(k, "erasures")), undefined, own)).toMatchObject({ ok: true, kind: MSG_ERASURE })
  })

  it("dead-letters one naming a user of another partition (subject_user_mismatch) and changes nothing", () => {
    const wrong = { partitions: P, owned: j }
    for (const m of [adjust(partitionKindSubject(j, "corrections")), settings(partitionKindSubject(j, "settings")), erasure(partitionKindSubject(j, "erasures"))]) {
      const s = withEvent()
      const xp = s.users.totalXp[s.users.uidOf(user)]
      expect(applyMessage(s, DEFAULT_RULES, m, undefined, wrong)).toMatchObject({ ok: false, reason: "subject_user_mismatch" })
      expect(s.users.uidOf(user)).toBeGreaterThanOrEqual(0)
      expect(s.users.totalXp[s.users.uidOf(user)]).toBe(xp)
      expect(s.users.privacy[s.users.uidOf(user)]).toBe(0)
    }
  })

  it("checks nothing in single-process mode (the subject arena.xp.corrections)", () => {
    expect(applyMessage(withEvent(), DEFAULT_RULES, adjust("arena.xp.corrections"))).toMatchObject({ ok: true, kind: MSG_CORRECTION })
  })
})
