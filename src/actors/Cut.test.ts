// Proves a cut is exactly the state at its seq while the processor keeps applying events: chunks
// written slice by slice (with pre-images of users changed before their turn) load back into a
// state equal to one that stopped at the cut's seq.
import { describe, expect, it } from "vitest"
import { DEFAULT_RULES } from "../domain/DefaultRules.js"
import { RulesHistory } from "../domain/RulesHistory.js"
import type { EngineState } from "../domain/engine/Engine.js"
import { eventStream, newEngineState } from "../domain/engine/TestState.js"
import { dumpUser } from "../domain/engine/UserViews.js"
import { loadChunk, rebuildBoards } from "../domain/state/SnapshotCodec.js"
import type { RawEvent } from "../ports/EventSource.js"
import { Cut } from "./Cut.js"
import { Processor, newSliceOutput } from "./Processor.js"

const enc = new TextEncoder()
const raws = (n: number, seed: number): Array<RawEvent> =>
  eventStream(n, { seed, users: 4000, days: 6 }).map((s) => ({
    seq: s.seq, streamTimeMs: s.streamTimeMs, data: enc.encode(JSON.stringify(s.ev)), msgId: s.ev.event_id
  }))

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

const processor = () => new Processor(newEngineState(), RulesHistory.single(DEFAULT_RULES), { applied: 0, streamTimeMs: 0, gaps: 0 }, new Set())

describe("Cut", () => {
  it("writes the state at its seq (base, then a delta) while later events keep changing users", { timeout: 60_000 }, () => {
    const events = raws(8000, 11)
    const a = processor()
    let chunks: Array<Uint8Array> = []
    const takeCut = (base: boolean) => {
      const uids = base ? Int32Array.from({ length: a.state.users.capacity }, (_, i) => i) : a.takeDirty()
      if (base) a.takeDirty()
      const cut = new Cut(a.state, a.position.applied, a.position.streamTimeMs, base, uids)
      a.observer = cut
      return cut
    }
    a.apply(events, 0, 3000, newSliceOutput())
    let cut = takeCut(true)
    // Apply more events while the base is written 20 users at a time.
    let i = 3000
    while (!cut.step(20)) { a.apply(events, i, i + 3, newSliceOutput()); i += 3 }
    chunks = [...cut.finish().chunks]
    a.apply(events, i, i + 500, newSliceOutput())
    i += 500
    cut = takeCut(false)
    const at = cut.seq
    while (!cut.step(3)) { a.apply(events, i, i + 2, newSliceOutput()); i += 2 }
    const delta = cut.finish()
    expect(i).toBeLessThan(events.length)
    expect(delta.users).toBeGreaterThan(0)
    expect(delta.users).toBeLessThan(a.state.users.size)
    chunks = [...chunks, ...delta.chunks]
    a.apply(events, i, events.length, newSliceOutput())

    const b = processor()
    b.apply(events, 0, at, newSliceOutput())
    const r = newEngineState()
    for (const c of chunks) loadChunk(r, c, { streamTimeMs: 0 })
    rebuildBoards(r)
    expect(dumpAll(r)).toEqual(dumpAll(b.state))
  })

  it("writes no chunk for a delta in which no user changed (an idle partition's ticks), and one for an empty base", () => {
    const a = processor()
    const out = newSliceOutput()
    const events = raws(20, 3)
    a.apply(events, 0, events.length, out)
    a.takeDirty()
    const empty = new Cut(a.state, a.position.applied + 1, a.position.streamTimeMs, false, new Int32Array(0)).finish()
    expect([empty.chunks.length, empty.bytes, empty.users]).toEqual([0, 0, 0])
    const base = new Cut(newEngineState(), 1, 0, true, new Int32Array(0)).finish()
    expect(base.chunks).toHaveLength(1)
  })

  it("skips replays by seq and dead-letters bad messages with their reasons, in seq order", () => {
    const p = processor()
    const good = raws(3, 1)
    const bad: Array<RawEvent> = [
      good[0]!,
      { ...good[1]!, seq: 2, data: enc.encode("{not json") },
      { ...good[2]!, seq: 3, msgId: "other" },
      good[0]!
    ]
    const out = newSliceOutput()
    p.apply(bad, 0, bad.length, out)
    expect(out.applied).toBe(1)
    expect(out.rejects.map((r) => [r.seq, r.reason])).toEqual([[2, "malformed_json"], [3, "msg_id_mismatch"]])
    expect(out.records[0]!.kind).toBe("award")
    expect(out.records.filter((r) => r.kind === "rejection").map((r) => r.kind === "rejection" && [r.seq, r.reason])).toEqual([[2, "malformed_json"], [3, "msg_id_mismatch"]])
    expect(p.position.applied).toBe(3)
  })
})
