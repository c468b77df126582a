// The oracle's time zones and streak freezes (§11), on hand-made cases, and then against the
// engine (src/domain) on a seeded stream of events and settings changes across DST changes and
// zone moves east and west: ledger streaks and profiles' streaks agree. The oracle's calendar is
// Intl's date formatting per instant; the engine's is cached offsets — independent ways.
import { describe, expect, it } from "vitest"
import { DEFAULT_RULES } from "../../src/domain/DefaultRules.js"
import { applySettings } from "../../src/domain/engine/SettingsChange.js"
import { applyEvent } from "../../src/domain/engine/Engine.js"
import { newEngineState } from "../../src/domain/engine/TestState.js"
import { profileOf } from "../../src/domain/engine/UserViews.js"
import { Oracle } from "./Oracle.js"

let seq = 0
const event = (user: string, iso: string, streamMs = Date.parse(iso)) => {
  const e = { event_id: `z${seq + 1}`, user_id: user, agent_name: "coder", action_type: "task_completed", timestamp: iso }
  return { seq: ++seq, streamMs, msgId: e.event_id, data: new TextEncoder().encode(JSON.stringify(e)) }
}
const settings = (user: string, body: Record<string, string>, at = Date.UTC(2026, 0, 1)) => {
  const m = { settings_id: `s${seq + 1}`, user_id: user, ...body }
  return { seq: ++seq, streamMs: at, msgId: m.settings_id, data: new TextEncoder().encode(JSON.stringify(m)), subject: "arena.xp.settings" }
}

describe("oracle: time zones and freezes", () => {
  it("counts Berlin days across the 23-hour day and bridges a missed day with a freeze", () => {
    const o = new Oracle()
    o.apply(settings("b", { time_zone: "Europe/Berlin" }))
    o.apply(event("b", "2026-03-27T23:30:00Z")) // 28 Mar
    o.apply(event("b", "2026-03-28T23:00:00Z")) // 29 Mar 00:00 CET
    o.apply(event("b", "2026-03-29T21:59:59Z")) // 29 Mar 23:59:59 CEST
    o.apply(event("b", "2026-03-31T22:00:00Z")) // 1 Apr: 30 and 31 Mar missed → bridged by April's 2
    expect(o.ledger.map((l) => l.streak_days)).toEqual([1, 2, 2, 5])
    o.streamMs = Date.parse("2026-04-01T12:00:00Z")
    expect(o.profile("b")!.streak).toEqual({ current: 5, longest: 5, freezes_left: 0 })
    expect(o.profile("b")!.time_zone).toBe("Europe/Berlin")
  })

  it("agrees with the engine on a seeded stream of events (some late by up to 3 days, some minutes ahead) and zone changes", () => {
    const zones = ["UTC", "Europe/Berlin", "America/New_York", "Asia/Tokyo", "Pacific/Kiritimati", "America/Los_Angeles", "Australia/Lord_Howe"]
    let a = 7
    const rnd = () => { a = (a * 1103515245 + 12345) % 2147483648; return a / 2147483648 }
    const o = new Oracle()
    const s = newEngineState()
    let t = Date.UTC(2026, 2, 20) // across the March and (Lord Howe's) April changes
    const users = ["u0", "u1", "u2", "u3", "u4"]
    for (let i = 0; i < 3000; i++) {
      t += Math.floor(rnd() * 3 * 3_600_000)
      const user = users[Math.floor(rnd() * users.length)]!
      if (rnd() < 0.03) {
        const zone = zones[Math.floor(rnd() * zones.length)]!
        const m = settings(user, { time_zone: zone }, t)
        o.apply(m)
        applySettings(s, { settings_id: `s${m.seq}`, user_id: user, time_zone: zone })
        continue
      }
      if (rnd() < 0.3) t += Math.floor(rnd() * 2 * 86_400_000) // gaps of up to 2 days: freezes in play
      const r0 = rnd()
      const et = r0 < 0.15 ? t - Math.floor(rnd() * 3 * 86_400_000) : r0 < 0.2 ? t + Math.floor(rnd() * 4 * 60_000) : t
      const iso = new Date(et).toISOString()
      const m = event(user, iso, t)
      o.apply(m)
      const r = applyEvent(s, JSON.parse(new TextDecoder().decode(m.data)), et, { seq: m.seq, streamTimeMs: t }, DEFAULT_RULES)
      if (r._tag !== "Applied") throw new Error(JSON.stringify(r))
      expect(r.entry.streak_days, `${user} at ${iso}`).toBe(o.ledger[o.ledger.length - 1]!.streak_days)
      if (i % 97 === 0) {
        for (const u of users) {
          const uid = s.users.uidOf(u)
          if (uid >= 0 && o.profile(u) !== null) expect(profileOf(s, uid, DEFAULT_RULES, o.streamMs).streak, `${u} at seq ${m.seq}`).toEqual(o.profile(u)!.streak)
        }
      }
    }
    expect([...o.users.values()].filter((u) => u.freezes.size > 0).length).toBeGreaterThan(0)
    expect(new Set([...o.users.values()].map((u) => u.zone)).size).toBeGreaterThan(1)
    for (const user of users) {
      const uid = s.users.uidOf(user)
      if (uid < 0) continue
      const p = profileOf(s, uid, DEFAULT_RULES, o.streamMs)
      expect({ streak: p.streak, time_zone: p.time_zone }).toEqual({ streak: o.profile(user)!.streak, time_zone: o.profile(user)!.time_zone })
    }
  })
})
