// Board reads the gateway relies on: keyset pages that neither skip nor repeat a row (even when
// the cursor's row moved), around-me windows, and views emitted only when a watched top changes;
// and the pipeline's own rollover path: windows roll over in stream time, a period's board is
// archived and retired only once its grace has passed.
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
      const page: NonNullable<Awaited<ReturnType<typeof h.boards.page>>> = (await h.boards.page(key, after, 8))!
      if (page.entries.length === 0) break
      for (const e of page.entries) seen.push(e.user_id)
      const last: (typeof page.entries)[number] = page.entries[page.entries.length - 1]!
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

  it("sends rank_changed to watched users whose rank moved, unless the feed says its boards are not the ranking (a partition's owner)", () => {
    const h = boardsHarness(undefined, { watched: ["b"] })
    h.dispatch([["a", 30, 1], ["b", 20, 2]])
    h.dispatch([["c", 25, 3]])
    const global = h.notes.filter((n) => n.type === "rank_changed" && n.board === "global" && n.window === "all")
    expect(global.map((n) => n.type === "rank_changed" ? [n.user_id, n.rank, n.prev_rank] : null)).toEqual([["b", 2, null], ["b", 3, 2]])
    const owner = boardsHarness(undefined, { watched: ["b"], rankChanges: false })
    owner.dispatch([["a", 30, 1], ["b", 20, 2]])
    owner.dispatch([["c", 25, 3]])
    expect(owner.notes).toEqual([])
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

  it("rolls each window over once when stream time crosses its boundary, and closes a period only after its grace", async () => {
    const h = boardsHarness()
    const at = (iso: string): number => Date.parse(iso)
    const day = { board: "global", window: "day" as const, period: "2026-05-31" }
    h.pos.streamTimeMs = at("2026-05-31T23:59:59.999Z")
    h.boards.rollPeriods() // the pipeline's first call (at start) learns the current periods
    expect(h.rollovers).toEqual([])
    const id = h.state.boards.openIdOf(day.board, day.window, day.period, h.pos.streamTimeMs)
    const a = h.state.users.intern("a")
    const b = h.state.users.intern("b")
    h.state.boards.score(id, a, -1, 0, 20, 1)
    h.state.boards.score(id, b, -1, 0, 10, 2)
    h.pos.applied = 2
    h.boards.rollPeriods()
    expect(h.rollovers).toEqual([])
    h.pos.streamTimeMs = at("2026-06-01T00:00:00.000Z") // Monday the 1st: day, ISO week and month all turn
    h.boards.rollPeriods()
    h.boards.rollPeriods()
    expect(h.rollovers).toEqual([["day", "2026-06-01"], ["week", "2026-W23"], ["month", "2026-06"]])
    expect(h.boards.currentPeriod("day")).toBe("2026-06-01")
    // Yesterday's board stays open (late events still count there) until end + grace (10 min here).
    h.pos.streamTimeMs = at("2026-06-01T00:09:59.999Z")
    expect(h.boards.closeExpired()).toEqual([])
    expect(h.boards.openId(day)).toBe(id)
    h.pos.streamTimeMs = at("2026-06-01T00:10:00.000Z")
    h.pos.applied = 7
    const archives = h.boards.closeExpired()
    expect(archives.map((x) => [x.board, x.window, x.period, x.closedAtSeq, x.entries.map((e) => [e.userId, e.xp, e.seq])])).toEqual([
      ["global", "day", "2026-05-31", 7, [["a", 20, 1], ["b", 10, 2]]]
    ])
    expect(h.boards.openId(day)).toBe(-1)
    expect(h.boards.closeExpired()).toEqual([]) // archived once
    // Until a snapshot holds the archive, reads of the period come from it (pages with cursors too)…
    const rows = async (after: { xp: number; seq: number } | null, limit: number) =>
      (await h.boards.page(day, after, limit))?.entries.map((e) => [e.rank, e.user_id, e.xp]) ?? null
    expect(await rows(null, 10)).toEqual([[1, "a", 20], [2, "b", 10]])
    expect(await rows({ xp: 20, seq: 1 }, 10)).toEqual([[2, "b", 10]])
    // …around-me too (the user's archived row and neighbours, seq 0), and the rows just better than a key.
    expect(await h.boards.archivedAround(day, "b", 1)).toMatchObject({ seq: 0, total: 2, user: { rank: 2, user_id: "b" }, entries: [{ rank: 1, user_id: "a" }, { rank: 2, user_id: "b" }] })
    expect(await h.boards.archivedAround(day, "nobody", 1)).toEqual({ key: day, seq: 0, total: 2, user: null, entries: [] })
    expect((await h.boards.archivedByKey(day, { before: { xp: 10, seq: 2 }, limit: 5 }))?.rows.map((r) => [r.rank, r.user_id])).toEqual([[1, "a"]])
    expect((await h.boards.archivedByKey(day, { before: { xp: 20, seq: 1 }, limit: 5 }))?.rows).toEqual([])
    expect(await h.boards.archivedAround({ ...day, period: "2026-06-01" }, "a", 1)).toBeNull() // the current period is not an archive
    h.committed.seq = 6
    expect(await rows(null, 10)).toEqual([[1, "a", 20], [2, "b", 10]])
    // …and from Postgres once committed (this harness's store holds nothing: null, a 404).
    h.committed.seq = 7
    expect(await rows(null, 10)).toBeNull()
    // A closed period never gets a live board again (it would archive an empty one over the real one).
    expect(h.state.boards.openIdOf(day.board, day.window, day.period, h.pos.streamTimeMs)).toBe(-1)
    expect(h.boards.watch(day, 5)).toMatchObject({ entries: [], total: 0 })
  })
})
