// applyMessage in partitioned mode (ARCHITECTURE §9): a partition's consumer passes each event's
// subject; an event whose subject does not carry its user's token and partition is dead-lettered
// `subject_user_mismatch` and leaves the state untouched, so one user is never split over two
// partitions. Without the partition argument (single-process mode) nothing is checked.
import { describe, expect, it } from "vitest"
import { DEFAULT_RULES } from "./DefaultRules.js"
import { newEngineState } from "./engine/TestState.js"
import { PARTITION_PREFIX, partitionOfUser, userToken } from "./Partition.js"
import { applyMessage } from "./StreamMessage.js"

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
