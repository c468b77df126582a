// Proves the table engine scores exactly like the object-per-user engine it replaces (Engine.ts):
// the same ledger bytes and the same state for every user over a long random stream with late
// events filling streak gaps, multipliers, achievements and period boards.
import { describe, expect, it } from "vitest"
import { applyEvent as applyToObject, newUserState, scoresOf } from "../Engine.js"
import type { UserState } from "../Model.js"
import { DEFAULT_RULES } from "../DefaultRules.js"
import { applyEvent } from "./Engine.js"
import { eventStream, newEngineState } from "./testState.js"
import { dumpUser } from "./UserViews.js"

describe("table engine", () => {
  it("writes the same ledger and state as the object engine", { timeout: 60_000 }, () => {
    const s = newEngineState()
    const old = new Map<string, UserState>()
    for (const st of eventStream(20_000, { seed: 5, users: 150, days: 40 })) {
      const pos = { seq: st.seq, streamTimeMs: st.streamTimeMs }
      let u = old.get(st.ev.user_id)
      if (u === undefined) { u = newUserState(st.ev.user_id, st.ev.username); old.set(st.ev.user_id, u) }
      const a = applyToObject(u, st.ev, st.timeMs, pos, DEFAULT_RULES)
      const b = applyEvent(s, st.ev, st.timeMs, pos, DEFAULT_RULES)
      expect(b._tag).toBe(a._tag)
      if (a._tag === "Applied" && b._tag === "Applied") expect(JSON.stringify(b.entry)).toBe(JSON.stringify(a.entry))
    }
    for (const [id, u] of old) {
      const d = dumpUser(s, s.users.uidOf(id))
      expect({ ...d, boards: undefined }).toEqual({
        userId: u.userId, username: u.username, totalXp: u.totalXp, totalSeq: u.totalSeq, lastSeq: u.lastSeq, events: u.events,
        level: u.level, longestStreak: u.longestStreak, streakReached: u.streakReached, streakRuns: u.streakRuns,
        counts: Object.fromEntries(Object.entries(u.counts).sort()), unlocked: Object.fromEntries(Object.entries(u.unlocked).sort()),
        agents: Object.fromEntries(Object.entries(u.agents).map(([k, v]) => [k, v.events]).sort()), boards: undefined
      })
      // Every board score the object state holds, the table holds too (closed periods aside).
      for (const c of scoresOf(u)) {
        if (c.board === "global" && c.window === "all") continue
        expect(d.boards[`${c.board}|${c.window}|${c.period}`]).toEqual([c.xp, c.seq])
      }
    }
  })
})
