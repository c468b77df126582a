import * as fc from "fast-check"
import { describe, expect, it } from "vitest"
import { assign, membershipSettle, moves, partitionsOf, wantedPartitions } from "./Assignment.js"

const memberSet = fc.uniqueArray(fc.constantFrom<string>("a", "b", "c", "d", "e", "f", "g", "h"), { minLength: 1, maxLength: 8 })

describe("assign", () => {
  it("a fresh assignment is contiguous ranges in member order, the first P mod M members one larger", () => {
    const a = assign(8, ["C", "A", "B"])!
    expect(a.members).toEqual(["A", "B", "C"])
    expect(a.owners).toEqual(["A", "A", "A", "B", "B", "B", "C", "C"])
    expect(a.epoch).toBe(1)
    expect(partitionsOf(a, "B")).toEqual([3, 4, 5])
  })

  it("no members: no assignment", () => {
    expect(assign(8, [])).toBeNull()
  })

  it("every partition has exactly one owner among the members, and counts differ by at most one", () => {
    fc.assert(fc.property(fc.integer({ min: 1, max: 128 }), memberSet, (p, ms) => {
      const a = assign(p, ms)!
      const counts = ms.map((m) => partitionsOf(a, m).length)
      return a.owners.length === p && a.owners.every((o) => ms.includes(o)) &&
        Math.max(...counts) - Math.min(...counts) <= 1 && counts.reduce((x, y) => x + y, 0) === p
    }))
  })

  it("is sticky: a join or a leave moves only what balance requires", () => {
    fc.assert(fc.property(fc.integer({ min: 1, max: 128 }), memberSet, memberSet, (p, before, after) => {
      const a = assign(p, before)!
      const b = assign(p, after, a)!
      const counts = after.map((m) => partitionsOf(b, m).length)
      // Still balanced and complete.
      if (Math.max(...counts) - Math.min(...counts) > 1 || !b.owners.every((o) => after.includes(o))) return false
      // Moves are bounded by what balance requires: the partitions of members that left, each staying
      // member's excess over ceil(P/M'), and at most one per member for the rounding of shares.
      const ceil = Math.ceil(p / new Set(after).size)
      const left = a.owners.filter((o) => !after.includes(o)).length
      const excess = [...new Set(before)].filter((m) => after.includes(m)).reduce((n, m) => n + Math.max(0, partitionsOf(a, m).length - ceil), 0)
      return moves(a, b) <= left + excess + after.length
    }))
  })

  it("adding a third member to two moves about a third of the partitions, not all of them", () => {
    const a = assign(64, ["A", "B"])!
    const b = assign(64, ["A", "B", "C"], a)!
    expect(partitionsOf(b, "C").length).toBe(21)
    expect(moves(a, b)).toBe(21)
    expect(b.epoch).toBe(a.epoch + 1)
  })

  it("a member leaving hands over only its own partitions", () => {
    const a = assign(64, ["A", "B", "C"])!
    const b = assign(64, ["A", "C"], a)!
    expect(moves(a, b)).toBe(partitionsOf(a, "B").length)
    for (const k of partitionsOf(a, "A")) expect(b.owners[k]).toBe("A")
    for (const k of partitionsOf(a, "C")) expect(b.owners[k]).toBe("C")
  })

  it("the same members again: nothing moves and the epoch stays", () => {
    const a = assign(16, ["A", "B", "C"])!
    const b = assign(16, ["C", "B", "A"], a)!
    expect(moves(a, b)).toBe(0)
    expect(b.epoch).toBe(a.epoch)
  })
})

describe("wantedPartitions (what a member runs after reading the assignment)", () => {
  const a = assign(8, ["m1", "m2"], undefined)!
  it("a failed read says nothing: null, so the member keeps running what it runs (not a handover of everything)", () => {
    expect(wantedPartitions(null, "m1")).toBeNull()
  })
  it("its own partitions under the assignment; none before the first one or while not a member", () => {
    expect([...wantedPartitions({ assignment: a }, "m1")!]).toEqual(partitionsOf(a, "m1"))
    expect(wantedPartitions({ assignment: a }, "m1")!.size).toBe(4)
    expect(wantedPartitions({ assignment: null }, "m1")!.size).toBe(0)
    expect(wantedPartitions({ assignment: a }, "m3")!.size).toBe(0)
  })
})

describe("membershipSettle (the coordinator assigns a member set once it stopped changing)", () => {
  it("processors joining one after another are assigned together once the set held still for the settle time", () => {
    const ready = membershipSettle(1_500, 10_000)
    expect(ready(["p1"], null, 0)).toBe(false)
    expect(ready(["p1", "p2"], null, 400)).toBe(false)
    expect(ready(["p1", "p2", "p3"], null, 900)).toBe(false)
    expect(ready(["p3", "p1", "p2"], null, 2_300)).toBe(false) // same set, another order: still settling
    expect(ready(["p1", "p2", "p3"], null, 2_400)).toBe(true)
  })
  it("a set equal to the assigned one is always ready (nothing to write), and a leave waits the settle time", () => {
    const ready = membershipSettle(1_500, 10_000)
    expect(ready(["a", "b"], ["b", "a"], 0)).toBe(true)
    expect(ready(["a"], ["a", "b"], 100)).toBe(false)
    expect(ready(["a"], ["a", "b"], 1_600)).toBe(true)
  })
  it("a membership that never holds still is assigned after the longest wait anyway", () => {
    const ready = membershipSettle(1_500, 10_000)
    let t = 0
    let answered = false
    for (let i = 0; i < 100 && !answered; i++, t += 1_000) answered = ready(i % 2 === 0 ? ["a", "b"] : ["a", "b", "c"], ["a"], t)
    expect(answered).toBe(true)
    expect(t).toBeLessThanOrEqual(11_000)
  })
})
