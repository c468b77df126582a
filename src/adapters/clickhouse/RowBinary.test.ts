// The sink keeps ledger entries that are not yet durable only as their RowBinary rows: reading a
// row back must give the entry exactly as the engine made it (every field, in the engine's key
// order), for awards and corrections, ASCII or not, and whatever moves the rows around.
import { describe, expect, it } from "vitest"
import type { CorrectionEntry, LedgerEntry } from "../../domain/Model.js"
import type { AnalyticsRecord } from "../../ports/Analytics.js"
import { RowLog, keyOf } from "../../ports/RowLog.js"
import { readLedgerItem, writeRow } from "./RowBinary.js"

const award = (seq: number, user: string, extra: Partial<LedgerEntry> = {}): LedgerEntry => ({
  event_id: `ev-${seq}`, seq, user_id: user, agent_name: "claude-code", action_type: "complex_api_design", base_points: 25,
  multipliers: [{ name: "first_try", factor: "1.5" }, { name: "hackathon", factor: "2" }], streak_days: 3, streak_multiplier: "1.1",
  total_multiplier: "3.3", applied_multiplier: "3", xp: 75, bonuses: [{ achievement: "first_steps", xp: 0 }, { achievement: "api_master", xp: 100 }],
  total_awarded: 175, total_xp_after: 2 ** 40 + seq, level_before: 1, level_after: 8, rules_version: "2026-11-01",
  event_time: "2026-11-26T10:00:00.123Z", stream_time: "2026-11-26T10:00:01.000Z", ...extra
})

const correction = (seq: number, user: string, extra: Partial<CorrectionEntry> = {}): CorrectionEntry => ({
  kind: "correction", correction_id: `c-${seq}`, correction: "void", seq, user_id: user, agent_name: "cursor", event_id: "ev-1", event_seq: 1,
  reason: "duplicate — paid twice", by: "admin@example.com", requested_xp: -175, xp: -175,
  boards: [{ board: "global", window: "all", period: "all", xp: -175 }, { board: "agent:cursor", window: "day", period: "2026-11-26", xp: -175 }],
  total_xp_after: 0, level_before: 2, level_after: 1, rules_version: "2026-11-01", stream_time: "2026-11-27T00:00:00.000Z", ...extra
})

const roundTrip = (records: ReadonlyArray<AnalyticsRecord>) => {
  const rows = new RowLog()
  const at = records.map((r) => writeRow(r, rows))
  return at.map((i) => readLedgerItem(rows, i))
}

describe("writeRow", () => {
  it("ends every row with its projection (UInt32): the record's own for an award, else the one given", () => {
    const rows = new RowLog()
    const T = "2026-11-26T10:00:01.000Z"
    const records: AnalyticsRecord[] = [
      { kind: "award", entry: award(5, "u1") },
      { kind: "award", entry: award(6, "u1"), projection: 9 },
      { kind: "correction", entry: correction(7, "u1") },
      { kind: "level_up", seq: 8, user_id: "u1", from: 1, to: 2, stream_time: T },
      { kind: "achievement", seq: 8, user_id: "u1", achievement: "x", bonus: 1, stream_time: T },
      { kind: "rejection", seq: 9, reason: "invalid_event", message: "bad", event_id: "e", stream_time: T }
    ]
    const last = records.map((r) => { const b = rows.bytesOf(writeRow(r, rows, 3)); return new DataView(b.buffer, b.byteOffset + b.length - 4, 4).getUint32(0, true) })
    expect(last).toEqual([3, 9, 3, 3, 3, 3])
    expect(readLedgerItem(rows, 0)).toEqual(award(5, "u1"))
  })
})

describe("readLedgerItem", () => {
  it("reads an award and a correction back exactly, key order included", () => {
    const a = award(7, "ünïcode-user-✓", { multipliers: [], bonuses: [], action_type: "custom" })
    const records: AnalyticsRecord[] = [
      { kind: "award", entry: award(5, "u1"), metadata: JSON.stringify({ model: "opus" }) },
      { kind: "level_up", seq: 5, user_id: "u1", from: 1, to: 8, stream_time: "2026-11-26T10:00:01.000Z" },
      { kind: "award", entry: a },
      { kind: "correction", entry: correction(9, "u1") },
      { kind: "correction", entry: correction(10, "u2", { correction: "adjust", agent_name: null, event_id: null, event_seq: null, by: null, requested_xp: 50, xp: 50, boards: [] }) },
      { kind: "rejection", seq: 11, reason: "invalid_event", message: "bad", event_id: null, stream_time: "2026-11-27T00:00:00.000Z" }
    ]
    const back = roundTrip(records)
    expect(back[0]).toEqual(award(5, "u1"))
    expect(JSON.stringify(back[0])).toBe(JSON.stringify(award(5, "u1")))
    expect(back[1]).toBeNull()
    expect(JSON.stringify(back[2])).toBe(JSON.stringify(a))
    expect(JSON.stringify(back[3])).toBe(JSON.stringify(correction(9, "u1")))
    expect(back[4]).toEqual(records[4]!.kind === "correction" ? records[4]!.entry : null)
    expect(back[5]).toBeNull()
  })
})

describe("RowLog", () => {
  it("finds a user's rows newest first, and keeps finding them after rows are dropped or filtered", () => {
    const rows = new RowLog()
    const users = ["a", "b", "c"]
    for (let s = 1; s <= 3000; s++) {
      const user = users[s % 3]!
      const i = writeRow({ kind: "award", entry: award(s, user) }, rows)
      rows.keyUser(i, keyOf(user))
      // An achievement row in between, never indexed.
      writeRow({ kind: "achievement", seq: s, user_id: user, achievement: "x", bonus: 1, stream_time: "2026-11-26T10:00:01.000Z" }, rows)
    }
    const seqsOf = (user: string) => {
      const at: number[] = []
      rows.rowsOfUser(keyOf(user), at)
      return at.map((i) => readLedgerItem(rows, i)!).filter((e) => e.user_id === user).map((e) => e.seq)
    }
    const expected = (user: string, from: number, keep: (s: number) => boolean = () => true) => {
      const out: number[] = []
      for (let s = 3000; s >= from; s--) if (users[s % 3] === user && keep(s)) out.push(s)
      return out
    }
    expect(seqsOf("a")).toEqual(expected("a", 1))
    expect(rows.length).toBe(6000)
    rows.dropFirst(2 * 1000) // seqs 1..1000 are durable
    expect(rows.seq[0]).toBe(1001)
    expect(seqsOf("b")).toEqual(expected("b", 1001))
    rows.retain((i) => rows.seq[i]! % 2 === 0)
    expect(seqsOf("c")).toEqual(expected("c", 1001, (s) => s % 2 === 0))
    // Every remaining row still reads back as written after its slabs were shared and recycled.
    for (let i = 0; i < rows.length; i++) if (rows.kind[i] === 0) expect(readLedgerItem(rows, i)).toEqual(award(rows.seq[i]!, users[rows.seq[i]! % 3]!))
    rows.dropFirst(rows.length)
    expect(seqsOf("a")).toEqual([])
    // Slabs are recycled once no row needs them.
    for (let s = 3001; s <= 6000; s++) writeRow({ kind: "award", entry: award(s, "a") }, rows)
    expect(rows.slabs.filter((b) => b.length > 0).length).toBeLessThanOrEqual(12)
  })
})
