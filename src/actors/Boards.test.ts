// Board reads the gateway relies on: keyset pages that neither skip nor repeat a row (even when
// the cursor's row moved), around-me windows, and views emitted only when a watched top changes.
import { describe, expect, it } from "vitest"
import { boardsHarness } from "./TestBoards.js"

const key = { board: "global", window: "all" as const, period: "all" }

describe("Boards", () => {
  it("pages with keyset cursors: every row once, in rank order, with ties by lower seq", async () => {
    const h = boardsHarness()
    const changes = Array.from({ length: 50 }, (_, i) => [`u${i}`, (i % 7) * 10, i + 1] as const)
    h.dispatch(changes)
    const seen: Array<string> = []
    let after: { xp: number; seq: number } | null = null
    for (;;) {
      const page = (await h.boards.page(key, after, 8))!
      if (page.entries.length === 0) break
      for (const e of page.entries) seen.push(e.user_id)
      const last = page.entries[page.entries.length - 1]!
      after = { xp: last.xp, seq: last.reached_seq }
    }
    const expected = [...changes].sort((x, y) => y[1] - x[1] || x[2] - y[2]).map((c) => c[0])
    expect(seen).toEqual(expected)
  })

  it("resumes after a cursor whose row has since moved up, without skipping the rest", async () => {
    const h = boardsHarness()
    h.dispatch([["a", 30, 1], ["b", 20, 2], ["c", 10, 3]])
    const first = (await h.boards.page(key, null, 2))!
    h.dispatch([["b", 40, 4]])
    const cursor = { xp: first.entries[1]!.xp, seq: first.entries[1]!.reached_seq }
    const next = (await h.boards.page(key, cursor, 2))!
    expect(next.entries.map((e) => e.user_id)).toEqual(["c"])
  })

  it("answers around-me with the user in the middle", () => {
    const h = boardsHarness()
    h.dispatch(Array.from({ length: 20 }, (_, i) => [`u${i}`, 100 - i, i + 1] as const))
    const r = h.boards.around(key, "u10", 2)!
    expect(r.user?.rank).toBe(11)
    expect(r.entries.map((e) => e.rank)).toEqual([9, 10, 11, 12, 13])
  })

  it("emits a view only when a watched top changes", () => {
    const h = boardsHarness()
    h.dispatch(Array.from({ length: 10 }, (_, i) => [`u${i}`, 100 - i * 10, i + 1] as const))
    h.boards.watch(key, 3)
    const before = h.views.length
    h.dispatch([["u9", 15, 11]]) // still 10th: below the watched top 3
    expect(h.views.length).toBe(before)
    h.dispatch([["u8", 95, 12]]) // into the top 3
    expect(h.views.length).toBe(before + 1)
    expect(h.views[h.views.length - 1]!.entries.map((e) => e.user_id)).toEqual(["u0", "u8", "u1"])
    h.dispatch([["u8", 96, 13], ["u1", 5, 14]]) // the view's last entry leaves it
    expect(h.views[h.views.length - 1]!.entries.map((e) => e.user_id)).toEqual(["u0", "u8", "u2"])
  })

  it("shows a renamed user's new name in the next view (the view's name strings are cached per user)", () => {
    const h = boardsHarness()
    h.dispatch([["a", 10, 1], ["b", 20, 2]])
    h.boards.watch(key, 5)
    h.setUser("a", { username: "first" })
    h.dispatch([["a", 30, 3]])
    expect(h.views[h.views.length - 1]!.entries.map((e) => [e.user_id, e.username])).toEqual([["a", "first"], ["b", "b"]])
    h.setUser("a", { username: "second" })
    h.setUser("b", { username: "bee" })
    h.dispatch([["a", 40, 4]])
    expect(h.views[h.views.length - 1]!.entries.map((e) => [e.user_id, e.username])).toEqual([["a", "second"], ["b", "bee"]])
    h.setUser("a", { username: "a" }) // back to the id: no separate name any more
    h.dispatch([["a", 50, 5]])
    expect(h.views[h.views.length - 1]!.entries.map((e) => [e.user_id, e.username])).toEqual([["a", "a"], ["b", "bee"]])
  })

  it("answers every read with the visible seq (all events up to it are reflected)", async () => {
    const h = boardsHarness()
    h.dispatch([["a", 10, 1]])
    h.pos.applied = 9 // later events touched other boards only
    expect((await h.boards.page(key, null, 10))!.seq).toBe(9)
    expect(h.boards.around(key, "a", 1)!.seq).toBe(9)
    expect(h.boards.watch(key, 5).seq).toBe(9)
  })
})
