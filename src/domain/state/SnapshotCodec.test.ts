// Proves a snapshot round-trips: users written to chunks (a base and later deltas of the users
// changed since) load back into a fresh state equal to the original, with the same boards.
import { describe, expect, it } from "vitest"
import { DEFAULT_RULES } from "../DefaultRules.js"
import { applyEvent } from "../engine/Engine.js"
import type { EngineState } from "../engine/Engine.js"
import { eventStream, newEngineState } from "../engine/TestState.js"
import { dumpUser } from "../engine/UserViews.js"
import { ByteWriter, FormatError } from "./Bytes.js"
import { applySettings } from "../engine/SettingsChange.js"
import { ChunkEncoder, loadChunk, rebuildBoards } from "./SnapshotCodec.js"

const dumpAll = (s: EngineState) => {
  const users: Record<string, unknown> = {}
  for (let uid = 0; uid < s.users.capacity; uid++) if (s.users.has(uid)) users[s.users.userId(uid)] = dumpUser(s, uid)
  const boards: Record<string, Array<string>> = {}
  for (const id of s.boards.open()) {
    const rows: Array<string> = []
    s.boards.tree(id)!.forEach((uid, xp, seq, rank) => rows.push(`${rank}:${s.users.userId(uid)}:${xp}:${seq}`))
    const r = s.boards.refs[id]!
    if (rows.length > 0) boards[`${r.board}|${r.window}|${r.period}`] = rows
  }
  return { users, boards }
}

describe("snapshot chunks", () => {
  it("load a base and a delta of changed users into a state equal to the original, boards included", () => {
    const s = newEngineState()
    const steps = eventStream(6000, { seed: 3, users: 300, days: 20 })
    const changed = new Set<number>()
    let base: Uint8Array | null = null
    let baseTime = 0
    for (const st of steps) {
      applyEvent(s, st.ev, st.timeMs, { seq: st.seq, streamTimeMs: st.streamTimeMs }, DEFAULT_RULES, (uid) => changed.add(uid))
      if (st.seq === 5850) {
        const enc = new ChunkEncoder(s)
        for (let uid = 0; uid < s.users.capacity; uid++) if (s.users.has(uid)) enc.add(uid)
        base = enc.finish()
        baseTime = st.streamTimeMs
        changed.clear()
      }
    }
    const enc = new ChunkEncoder(s)
    for (const uid of changed) enc.add(uid)
    const delta = enc.finish()
    expect(changed.size).toBeLessThan(s.users.size)
    const now = steps[steps.length - 1]!.streamTimeMs
    // Boards closed by the checkpoint's stream time are archived, not restored.
    for (const id of s.boards.expired(now)) s.boards.retire(id)
    const r = newEngineState()
    expect(loadChunk(r, base!, { streamTimeMs: now })).toBe(300)
    loadChunk(r, delta, { streamTimeMs: now })
    rebuildBoards(r)
    expect(baseTime).toBeLessThan(now)
    expect(dumpAll(r)).toEqual(dumpAll(s))
    for (const id of r.boards.open()) r.boards.tree(id)!.assertInvariants()
  })

  it("erases a user with a tombstone", () => {
    const s = newEngineState()
    for (const st of eventStream(200, { seed: 9, users: 5, days: 2 })) applyEvent(s, st.ev, st.timeMs, { seq: st.seq, streamTimeMs: st.streamTimeMs }, DEFAULT_RULES)
    const enc = new ChunkEncoder(s)
    for (let uid = 0; uid < s.users.capacity; uid++) enc.add(uid)
    const base = enc.finish()
    const t = new ChunkEncoder(s)
    t.tombstone("u2")
    const r = newEngineState()
    loadChunk(r, base, { streamTimeMs: 0 })
    loadChunk(r, t.finish(), { streamTimeMs: 0 })
    rebuildBoards(r)
    expect(r.users.uidOf("u2")).toBe(-1)
    expect(r.users.size).toBe(4)
    const seen: Array<string> = []
    r.boards.tree(0)!.forEach((uid) => seen.push(r.users.userId(uid)))
    expect(seen.sort()).toEqual(["u0", "u1", "u3", "u4"])
  })

  it("refuses a truncated or foreign chunk with a FormatError", () => {
    const s = newEngineState()
    for (const st of eventStream(50, { seed: 1, users: 3, days: 1 })) applyEvent(s, st.ev, st.timeMs, { seq: st.seq, streamTimeMs: st.streamTimeMs }, DEFAULT_RULES)
    const enc = new ChunkEncoder(s)
    for (let uid = 0; uid < s.users.capacity; uid++) enc.add(uid)
    const bytes = enc.finish()
    expect(() => loadChunk(newEngineState(), bytes.subarray(0, bytes.length - 3), { streamTimeMs: 0 })).toThrow(FormatError)
    expect(() => loadChunk(newEngineState(), new Uint8Array(32), { streamTimeMs: 0 })).toThrow(/magic/)
  })

  it("round-trips settings and streak freezes (zone, private, freeze month and count)", () => {
    const s = newEngineState()
    const steps = eventStream(400, { seed: 5, users: 8, days: 10 })
    for (const st of steps) {
      if (st.seq === 100) applySettings(s, { settings_id: "z", user_id: "u1", time_zone: "Asia/Tokyo" })
      if (st.seq === 150) applySettings(s, { settings_id: "p", user_id: "u2", visibility: "private", time_zone: "America/New_York" })
      applyEvent(s, st.ev, st.timeMs, { seq: st.seq, streamTimeMs: st.streamTimeMs }, DEFAULT_RULES)
    }
    applySettings(s, { settings_id: "only", user_id: "settings-only", visibility: "private" })
    const enc = new ChunkEncoder(s)
    for (let uid = 0; uid < s.users.capacity; uid++) if (s.users.has(uid)) enc.add(uid)
    const now = steps[steps.length - 1]!.streamTimeMs
    for (const id of s.boards.expired(now)) s.boards.retire(id)
    const r = newEngineState()
    loadChunk(r, enc.finish(), { streamTimeMs: now })
    rebuildBoards(r)
    expect(dumpAll(r)).toEqual(dumpAll(s))
    const u = (st: EngineState, id: string) => dumpUser(st, st.users.uidOf(id))
    expect(u(r, "u1").timeZone).toBe("Asia/Tokyo")
    expect([u(r, "u2").timeZone, u(r, "u2").private]).toEqual(["America/New_York", true])
    expect(u(r, "settings-only")).toMatchObject({ private: true, events: 0 })
    expect(Object.values(dumpAll(s).users).some((d) => (d as { freezes?: unknown }).freezes !== undefined)).toBe(true)
  })

  it("reads a chunk written before settings existed (flags 0/1): UTC, public, no freeze used", () => {
    // The pre-settings record layout, written by hand: id, flags, name, totals, level, streak, runs, entries.
    const w = new ByteWriter()
    w.u32(0x31535241); w.u32(1); w.u32(0)
    w.latin1("old-user"); w.u8(1); w.utf16("Old Name")
    w.uv(120); w.uv(7); w.uv(7); w.uv(3); w.u8(2); w.uv(3); w.uv(3)
    w.u8(1); w.sv(20600); w.sv(20602)
    w.uv(0)
    const dictAt = w.length
    w.uv(0)
    w.patchU32(8, dictAt)
    const r = newEngineState()
    expect(loadChunk(r, w.bytes().slice(), { streamTimeMs: 0 })).toBe(1)
    const d = dumpUser(r, r.users.uidOf("old-user"))
    expect(d).toMatchObject({ username: "Old Name", totalXp: 120, level: 2, streakRuns: [20600, 20602] })
    expect([d.timeZone, d.private, d.freezes]).toEqual([undefined, undefined, undefined])
  })
})
