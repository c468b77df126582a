// The shard's cut in slices (what its actor yields between) is the same cut as in one piece.
import { describe, expect, it } from "vitest"
import { DEFAULT_RULES } from "../domain/DefaultRules.js"
import type { XpEvent } from "../domain/Model.js"
import { UserShard } from "./UserShard.js"
import type { ShardItem } from "./UserShard.js"

const T0 = Date.parse("2026-11-20T10:00:00.000Z")
const items = (n: number, users: number, from = 1): ShardItem[] =>
  Array.from({ length: n }, (_, i) => {
    const seq = from + i
    const event: XpEvent = { event_id: `e${seq}`, user_id: `u${seq % users}`, agent_name: "cursor", action_type: "task_completed", timestamp: new Date(T0 + seq).toISOString() }
    return { seq, streamTimeMs: T0 + seq + 1000, event, timeMs: T0 + seq, data: new Uint8Array() }
  })

describe("UserShard cut", () => {
  it("in slices holds every changed user exactly once, as the cut in one piece does", () => {
    const a = new UserShard(0, DEFAULT_RULES, new Set())
    const b = new UserShard(0, DEFAULT_RULES, new Set())
    for (const s of [a, b]) s.applyBatch(1, items(50, 23))
    const whole = a.cut(1, T0 + 10_000).users
    const slices = [...b.cutSlices(T0 + 10_000, 5)]
    expect(slices.map((s) => s.length)).toEqual([5, 5, 5, 5, 3, 0].slice(0, slices.length))
    expect(slices.flat()).toEqual(whole)
    expect(new Set(whole.map((u) => u.id)).size).toBe(23)
  })

  it("starts a new dirty set: the next cut holds only users changed after it", () => {
    const s = new UserShard(0, DEFAULT_RULES, new Set())
    s.applyBatch(1, items(30, 10))
    expect(s.cut(1, T0 + 10_000).users).toHaveLength(10)
    s.applyBatch(2, items(3, 10, 31))
    expect(s.cut(2, T0 + 10_000).users.map((u) => u.id).sort()).toEqual(["u1", "u2", "u3"])
    expect(s.cut(3, T0 + 10_000).users).toEqual([])
  })
})
