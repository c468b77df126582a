// Group boards over real Boards (a fresh engine state) and an in-memory group store: a watched
// group board gets a view only when a slice moved a member's global score (or a non-user member
// scored for the first time) or the membership changed — a non-member's event costs it nothing,
// and an unwatched group is not computed until read; ties rank as on the global board.
import { describe, expect, it } from "vitest"
import type { Group, GroupStore } from "../ports/Groups.js"
import type { BoardView } from "../ports/ReadModel.js"
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
    expect(views).toHaveLength(0)
    h.dispatch([["a", 25, 7]])
    expect(ids(views.pop())).toEqual(["a", "b"])
    h.dispatch([["z", 5, 8]]) // z was no user when the group was watched
    expect(ids(views.pop())).toEqual(["a", "b", "z"])
    await groups.put("g", "owner", false, { name: "G", members: ["c", "z"] })
    expect(ids(views.pop())).toEqual(["c", "z"])
    h.dispatch([["a", 50, 9]])
    expect(views).toHaveLength(0)
    groups.unwatch(key, 10)
    h.dispatch([["c", 60, 10]])
    expect(views).toHaveLength(0)
    expect(h.state.boards.takeTouchedUsers()).toEqual([])
  })

  it("pushes an around-me window of a group board when it moves", async () => {
    const { h, views, groups } = await setup()
    const first = groups.watchAround(key, { user_id: "a", radius: 0 })!
    expect(first.around).toEqual({ user_id: "a", radius: 0, first_rank: 2 })
    h.dispatch([["a", 30, 5]])
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
      const fresh = (await groups.page({ ...key, board: "group:copy" }, null, 100))!.entries.map((e) => [e.user_id, e.xp, e.rank])
      expect((await groups.page(live, null, 100))!.entries.map((e) => [e.user_id, e.xp, e.rank])).toEqual(fresh)
      const last = views.filter((v) => v.key.board === "group:live").pop()
      if (last !== undefined) expect(last.entries.map((e) => [e.user_id, e.xp, e.rank])).toEqual(fresh)
    }
  })
})
