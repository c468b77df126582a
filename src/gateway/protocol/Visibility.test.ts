// Proves private rows never leave the gateway named to others: public rows and snapshot frames
// anonymize them, the user and admin see them named, and a delta that would name a private user
// (changed, newly private, or removed) is detected so the topic sends its public snapshot instead.
import { describe, expect, it } from "vitest"
import type { RankedEntry } from "../../ports/ReadModel.js"
import { computeDelta, touchesPrivate } from "./Delta.js"
import { deltaJson, snapshotJson } from "./Messages.js"
import { PUBLIC_VIEWER, differsForViewer, publicRow, rowFor } from "./Visibility.js"

const e = (rank: number, id: string, xp: number, priv = false): RankedEntry =>
  priv ? { rank, user_id: id, username: `Name ${id}`, xp, level: 1, private: true } : { rank, user_id: id, username: `Name ${id}`, xp, level: 1 }
const header = { board: "global", window: "all" as const, period: "all", resets_at: null, epoch: "x" }

describe("visibility", () => {
  it("renders a private row as {user_id: null, username: null, anonymous: true} but keeps rank, xp and level", () => {
    expect(publicRow(e(2, "hidden", 50, true))).toEqual({ rank: 2, user_id: null, username: null, xp: 50, level: 1, anonymous: true })
    expect(publicRow(e(1, "open", 60))).toEqual({ rank: 1, user_id: "open", username: "Name open", xp: 60, level: 1 })
  })

  it("names the row to the user and to admin only", () => {
    const row = e(2, "hidden", 50, true)
    expect(rowFor(row, { sub: "hidden", admin: false }).user_id).toBe("hidden")
    expect(rowFor(row, { sub: "root", admin: true }).user_id).toBe("hidden")
    expect(rowFor(row, { sub: "someone", admin: false }).user_id).toBeNull()
    expect(differsForViewer([row], { sub: "someone", admin: false })).toBe(false)
    expect(differsForViewer([row], { sub: "hidden", admin: false })).toBe(true)
    expect(differsForViewer([row], PUBLIC_VIEWER)).toBe(false)
  })

  it("a snapshot frame never carries a private user's id or name", () => {
    const text = snapshotJson(header, 7, [e(1, "open", 60), e(2, "hidden", 50, true)])
    expect(text).not.toContain("hidden")
    expect(JSON.parse(text).entries[1]).toEqual({ rank: 2, user_id: null, username: null, xp: 50, level: 1, anonymous: true })
  })

  it("detects deltas that would name a private user: a private row changing, turning private, or leaving", () => {
    const prev = [e(1, "a", 30), e(2, "p", 20, true), e(3, "b", 10)]
    expect(touchesPrivate(prev, computeDelta(prev, [e(1, "p", 40, true), e(2, "a", 30), e(3, "b", 10)]))).toBe(true)
    expect(touchesPrivate(prev, computeDelta(prev, [e(1, "a", 30), e(2, "p", 20, true), e(3, "c", 15)]))).toBe(false) // b left, c came: no private row named
    expect(touchesPrivate(prev, computeDelta(prev, [e(1, "a", 30), e(2, "b", 25), e(3, "c", 15)]))).toBe(true) // p removed
    const open = [e(1, "a", 30), e(2, "q", 20)]
    const d = computeDelta(open, [e(1, "a", 30), e(2, "q", 20, true)])
    expect(d.changes.map((c) => c.user_id)).toEqual(["q"]) // turning private is a change
    expect(touchesPrivate(open, d)).toBe(true)
    // The wire form drops the internal flag in any case.
    expect(deltaJson(header, 1, 2, computeDelta(open, [e(1, "a", 31), e(2, "q", 20)]))).not.toContain("private")
  })
})
