// Proves an upgrade keeps every user: states the object engine wrote as JSON load into the user
// table equal to what the table engine holds after the same events.
import { describe, expect, it } from "vitest"
import { applyEvent as applyToObject, newUserState } from "../Engine.js"
import type { UserState } from "../Model.js"
import { DEFAULT_RULES } from "../DefaultRules.js"
import { applyEvent } from "../engine/Engine.js"
import { eventStream, newEngineState } from "../engine/testState.js"
import { dumpUser } from "../engine/UserViews.js"
import { loadLegacyUser } from "./LegacySnapshot.js"
import { rebuildBoards } from "./SnapshotCodec.js"

describe("legacy JSON snapshots", () => {
  it("load into the table as the table engine would have built it", () => {
    const s = newEngineState()
    const old = new Map<string, UserState>()
    const steps = eventStream(5000, { seed: 8, users: 100, days: 12 })
    for (const st of steps) {
      const pos = { seq: st.seq, streamTimeMs: st.streamTimeMs }
      let u = old.get(st.ev.user_id)
      if (u === undefined) { u = newUserState(st.ev.user_id, st.ev.username); old.set(st.ev.user_id, u) }
      applyToObject(u, st.ev, st.timeMs, pos, DEFAULT_RULES)
      applyEvent(s, st.ev, st.timeMs, pos, DEFAULT_RULES)
    }
    const now = steps[steps.length - 1]!.streamTimeMs
    for (const id of s.boards.expired(now)) { s.boards.retire(id); s.users.markDead(id) }
    const r = newEngineState()
    for (const u of old.values()) loadLegacyUser(r, JSON.parse(JSON.stringify(u)) as UserState, now)
    rebuildBoards(r)
    for (const id of old.keys()) expect(dumpUser(r, r.users.uidOf(id))).toEqual(dumpUser(s, s.users.uidOf(id)))
  })
})
