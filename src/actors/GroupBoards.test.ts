// Group boards over real Boards (a fresh engine state) and an in-memory group store: a watched
// group board gets a view only when a slice moved a member's global score (or a non-user member
// scored for the first time) or the membership changed — a non-member's event costs it nothing,
// and an unwatched group is not computed until read; ties rank as on the global board.
import { describe, expect, it } from "vitest"
import type { Group, GroupStore } from "../ports/Groups.js"
import type { BoardView } from "../ports/ReadModel.js"
import { applySettings } from "../domain/engine/SettingsChange.js"
import { GroupBoards } from "./GroupBoards.js"
import { boardsHarness } from "./TestBoards.js"

const memoryStore = (): GroupStore => {
  const rows = new Map<string, Group>()
  return {
    loadAll: async () => [...rows.values()],
    put: async (id, sub, admin, input) => {
      const old = rows.get(id)
      if (old !== undefined && old.owner !== sub && !admin) return { ok: false, owner: old.owner }
      const group: Group = { id, owner: old?.owner ?? sub, ...input, updated_at: new Date(0).toISOString() }
      rows.set(id, group)
      return { ok: true, group, created: old === undefined }
    },
    delete: async (id, sub, admin) => {
      const old = rows.get(id)
      if (old === undefined) return "missing"
      if (old.owner !== sub && !admin) return "forbidden"
      rows.delete(id)
      return "deleted"
    }
  }
}

const key = { board: "group:g", window: "all" as const, period: "all" }

const setup = async () => {
  const h = boardsHarness()
  const views: Array<BoardView> = []
  const groups = new GroupBoards(memoryStore(), (v) => { views.push(v) })
  groups.attach(h.boards)
  h.dispatch([["a", 10, 1], ["b", 20, 2], ["c", 30, 3], ["n", 99, 4]])
  await groups.put("g", "owner", false, { name: "G", members: ["a", "b", "z"] })
  return { h, views, groups }
}
const ids = (v: BoardView | undefined) => v?.entries.map((e) => e.user_id)

describe("GroupBoards", () => {
  it("ranks members by their global score on read, with pages and around-me", async () => {
    const { groups } = await setup()
    expect((await groups.page(key, null, 10))!.entries.map((e) => [e.rank, e.user_id, e.xp])).toEqual([[1, "b", 20], [2, "a", 10]])
    expect((await groups.around(key, "a", 1))!.entries.map((e) => e.user_id)).toEqual(["b", "a"])
    expect(groups.page({ ...key, board: "group:none" }, null, 10)).toBeNull()
  })

  it("emits views of a watched group only for member changes, new members' first scores and membership changes", async () => {
    const { h, views, groups } = await setup()
    expect(ids(groups.watch(key, 10) ?? undefined)).toEqual(["b", "a"])
    h.dispatch([["n", 120, 5], ["c", 40, 6]])
    groups.flush()
    expect(views).toHaveLength(0)
    h.dispatch([["a", 25, 7]])
    groups.flush()
    expect(ids(views.pop())).toEqual(["a", "b"])
    h.dispatch([["z", 5, 8]]) // z was no user when the group was watched
    groups.flush()
    expect(ids(views.pop())).toEqual(["a", "b", "z"])
    await groups.put("g", "owner", false, { name: "G", members: ["c", "z"] })
    expect(ids(views.pop())).toEqual(["c", "z"])
    h.dispatch([["a", 50, 9]])
    groups.flush()
    expect(views).toHaveLength(0)
    groups.unwatch(key, 10)
    h.dispatch([["c", 60, 10]])
    groups.flush()
    expect(views).toHaveLength(0)
    expect(h.state.boards.takeTouchedUsers()).toEqual([])
  })

  it("re-sends a watched window when a shown member switches visibility at the same score (the row is rendered anew)", async () => {
    const { h, views, groups } = await setup()
    groups.watch(key, 10)
    groups.watchAround(key, { user_id: "a", radius: 1 })
    const flip = (visibility: "private" | "public", seq: number) => {
      applySettings(h.state, { settings_id: `s${seq}`, user_id: "b", visibility })
      h.pos.applied = seq
      h.boards.publish(h.state.boards.takeChanged())
      groups.flush()
    }
    flip("private", 5)
    const top = views.find((v) => v.around === undefined)
    const around = views.find((v) => v.around !== undefined)
    expect(top?.entries.map((e) => [e.user_id, e.private ?? false])).toEqual([["b", true], ["a", false]])
    expect(around?.entries.map((e) => [e.user_id, e.private ?? false])).toEqual([["b", true], ["a", false]])
    views.length = 0
    flip("public", 6)
    expect(views.map((v) => v.entries.map((e) => [e.user_id, e.private ?? false]))).toEqual([[["b", false], ["a", false]], [["b", false], ["a", false]]])
  })

  it("pushes an around-me window of a group board when it moves", async () => {
    const { h, views, groups } = await setup()
    const first = groups.watchAround(key, { user_id: "a", radius: 0 })!
    expect(first.around).toEqual({ user_id: "a", radius: 0, first_rank: 2 })
    h.dispatch([["a", 30, 5]])
    groups.flush()
    expect(views.pop()).toMatchObject({ around: { user_id: "a", radius: 0, first_rank: 1 }, entries: [{ user_id: "a", rank: 1 }] })
  })

  it("keeps a watched group's ranking (updated in place as members move) equal to one computed from scratch", async () => {
    const h = boardsHarness()
    const views: Array<BoardView> = []
    const groups = new GroupBoards(memoryStore(), (v) => { views.push(v) })
    groups.attach(h.boards)
    const members = Array.from({ length: 40 }, (_, i) => `m${i}`)
    await groups.put("live", "o", false, { name: "L", members })
    await groups.put("copy", "o", false, { name: "C", members })
    const live = { ...key, board: "group:live" }
    groups.watch(live, 100)
    let seq = 0
    const xp = new Map<string, number>()
    for (let round = 0; round < 60; round++) {
      const batch: Array<readonly [string, number, number]> = []
      for (let k = 0; k < 1 + (round % 5); k++) {
        const u = round % 7 === 0 ? `x${k}` : `m${(round * 17 + k * 11) % 48}` // some are not members, some have no uid yet
        const next = (xp.get(u) ?? 0) + ((round * 31 + k * 7) % 4) * 10
        xp.set(u, next)
        batch.push([u, next, ++seq])
      }
      h.dispatch(batch)
      if (round % 3 === 0) groups.flush() // the other rounds' views coalesce; reads are exact regardless
      const fresh = (await groups.page({ ...key, board: "group:copy" }, null, 100))!.entries.map((e) => [e.user_id, e.xp, e.rank])
      expect((await groups.page(live, null, 100))!.entries.map((e) => [e.user_id, e.xp, e.rank])).toEqual(fresh)
      const last = views.filter((v) => v.key.board === "group:live").pop()
      if (last !== undefined && round % 3 === 0) expect(last.entries.map((e) => [e.user_id, e.xp, e.rank])).toEqual(fresh)
    }
  })

  it("coalesces a burst of member moves into one view per window, exact and equal to a read, and sends nothing when the watched windows did not change", async () => {
    const h = boardsHarness()
    const views: Array<BoardView> = []
    const groups = new GroupBoards(memoryStore(), (v) => { views.push(v) })
    groups.attach(h.boards)
    const members = Array.from({ length: 50 }, (_, i) => `m${i}`)
    await groups.put("g", "o", false, { name: "G", members })
    let seq = 0
    h.dispatch(members.map((m, i) => [m, 100 + i, ++seq] as const))
    const top = groups.watch(key, 5)!
    const around = groups.watchAround(key, { user_id: "m10", radius: 1 })!
    expect(ids(top)).toEqual(["m49", "m48", "m47", "m46", "m45"])
    // A burst: 200 slices moving members; no view leaves before the coalesced turn.
    const xp = new Map(members.map((m, i) => [m, 100 + i]))
    for (let k = 0; k < 200; k++) {
      const m = `m${(k * 37) % 50}`
      xp.set(m, xp.get(m)! + (k % 7))
      h.dispatch([[m, xp.get(m)!, ++seq]])
    }
    expect(views).toHaveLength(0)
    // A read in the meantime is exact (the ranking is brought up to date first).
    const page = (await groups.page(key, null, 100))!
    const sorted = [...xp].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1))
    expect(page.entries.map((e) => e.xp)).toEqual(sorted.map(([, x]) => x))
    expect(page.seq).toBe(h.boards.position.applied)
    // The turn: one top view and one around view, each the whole state at the last seq.
    groups.flush()
    expect(views).toHaveLength(2)
    const [tv, av] = [views.find((v) => v.around === undefined)!, views.find((v) => v.around !== undefined)!]
    expect(tv.seq).toBe(h.boards.position.applied)
    expect(tv.entries.map((e) => [e.user_id, e.xp, e.rank])).toEqual(page.entries.slice(0, 5).map((e) => [e.user_id, e.xp, e.rank]))
    const ar = (await groups.around(key, "m10", 1))!
    expect(av.entries).toEqual(ar.entries)
    expect(av.around!.first_rank).toBe(ar.entries[0]!.rank)
    expect(around.around!.user_id).toBe("m10")
    // A move that changes neither window (the lowest member gains a little) sends nothing, yet reads see it.
    views.length = 0
    const [low, lowXp] = sorted[sorted.length - 1]!
    expect(sorted[sorted.length - 2]![1]).toBeGreaterThan(lowXp + 1) // it stays last
    expect(sorted.findIndex(([m]) => m === "m10")).toBeLessThan(sorted.length - 3) // outside m10's window
    h.dispatch([[low, lowXp + 1, ++seq]])
    groups.flush()
    expect(views).toHaveLength(0)
    expect((await groups.page(key, null, 100))!.entries.find((e) => e.user_id === low)!.xp).toBe(lowXp + 1)
    // A move into the top 5 sends the top view only.
    h.dispatch([["m0", 10_000, ++seq]])
    groups.flush()
    expect(views.map((v) => v.around === undefined)).toContain(true)
    expect(ids(views.find((v) => v.around === undefined))![0]).toBe("m0")
  })
})
