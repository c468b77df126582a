// The around-me windows of the partitioned gateway over a fake chain and fake partition queries:
// a watched window watches its board instance; each chain step recomputes it with at most one query
// in flight (one more after it when the chain moved meanwhile); a window changed at an unmoved
// watermark is held for a higher one (or HOLD_MS); a lower watermark is never sent; the user's
// privacy as the answers say it; unwatching releases the board. A group board's views (top-N and
// around-me) follow the global board's chain, read the group again on each step, are empty while the
// group does not exist, and a larger limit gets the next answer even at the same watermark.
import { afterEach, beforeEach, expect, it, vi } from "vitest"
import type { BoardKey } from "../../domain/Model.js"
import type { AroundSpec, BoardView, LeaderboardPort, RankedEntry } from "../../ports/ReadModel.js"
import type { WindowAnswer, WindowQueries } from "./MergedWindows.js"
import { withMergedWindows } from "./MergedWindows.js"

const key: BoardKey = { board: "global", window: "all", period: "all" }
const noGroups = () => Promise.resolve(null)
const me: AroundSpec = { user_id: "u", radius: 1 }

const fakeLive = () => {
  const listeners = new Set<(v: BoardView) => void>()
  const watched = new Map<string, number>()
  const port: LeaderboardPort = {
    unavailable: () => null, currentPeriod: () => "all", list: () => [], page: () => null, around: () => null,
    watch: (k) => { watched.set(k.board, (watched.get(k.board) ?? 0) + 1); return null },
    unwatch: (k) => { watched.set(k.board, (watched.get(k.board) ?? 0) - 1) },
    watchAround: () => null, unwatchAround: () => undefined,
    onView: (l) => { listeners.add(l); return () => listeners.delete(l) },
    onRollover: () => () => undefined
  }
  /** The board's merged chain moved. */
  const step = (seq: number) => { for (const l of listeners) l({ key, seq, total: 3, entries: [] }) }
  return { port, watched, step }
}

const row = (user: string, rank: number, xp: number, priv = false): RankedEntry => ({ rank, user_id: user, username: user, xp, level: 1, ...(priv ? { private: true as const } : {}) })
const answer = (seq: number, xp: number, priv = false): WindowAnswer => ({
  view: { key, seq, total: 3, entries: [row("a", 1, 100), row("u", 2, xp, priv), row("b", 3, 10)], around: { ...me, first_rank: 1 } },
  userPrivate: priv
})

/** Partition queries answered by hand, in order. */
const fakeQueries = () => {
  const asked: Array<(a: WindowAnswer) => void> = []
  const q: WindowQueries = {
    window: () => new Promise<WindowAnswer>((resolve) => { asked.push(resolve) }),
    groupTop: () => Promise.reject(new Error("no group here")),
    isPrivate: () => Promise.resolve(false)
  }
  return { q, asked }
}

beforeEach(() => { vi.useFakeTimers() })
afterEach(() => { vi.useRealTimers() })

it("recomputes on chain steps, one query at a time, holds same-watermark changes, never goes back", async () => {
  const live = fakeLive()
  const { q, asked } = fakeQueries()
  const w = withMergedWindows(live.port, q, noGroups, { warn: (m) => { throw new Error(m) } })
  const views: Array<BoardView> = []
  w.onView((v) => { if (v.around !== undefined) views.push(v) })
  const flush = () => vi.advanceTimersByTimeAsync(0)

  expect(w.watchAround(key, me)).toBeNull()
  expect(live.watched.get("global")).toBe(1) // its board is watched: the merger runs for it
  expect(asked).toHaveLength(1)
  asked[0]!(answer(10, 50))
  await flush()
  expect(views.map((v) => v.seq)).toEqual([10])
  expect(w.watchAround(key, me)).toBe(views[0]) // a second socket shares the window

  // Three chain steps while one query runs: one more query after it, not three.
  live.step(11)
  live.step(12)
  live.step(13)
  expect(asked).toHaveLength(2)
  asked[1]!(answer(12, 60))
  await flush()
  expect(asked).toHaveLength(3)
  asked[2]!(answer(13, 60))
  await flush()
  expect(views.map((v) => v.seq)).toEqual([10, 12, 13])

  // A change at the same watermark waits for a higher one, and goes out with it.
  live.step(13)
  asked[3]!(answer(13, 70))
  await flush()
  expect(views).toHaveLength(3)
  live.step(14)
  asked[4]!(answer(14, 70))
  await flush()
  expect(views.map((v) => [v.seq, v.entries[1]!.xp])).toEqual([[10, 50], [12, 60], [13, 60], [14, 70]])
  // Without a higher one it goes out after HOLD_MS all the same (the chain is not starved).
  live.step(14)
  asked[5]!(answer(14, 80))
  await flush()
  expect(views).toHaveLength(4)
  await vi.advanceTimersByTimeAsync(2_500)
  expect(views.map((v) => v.entries[1]!.xp)).toEqual([50, 60, 60, 70, 80])
  // A change held, then undone at the same watermark: nothing goes out, even after HOLD_MS.
  live.step(14)
  asked[6]!(answer(14, 85))
  await flush()
  live.step(14)
  asked[7]!(answer(14, 80))
  await flush()
  await vi.advanceTimersByTimeAsync(2_500)
  expect(views).toHaveLength(5)
  asked.splice(6, 2)
  // A lower watermark is older news; an unchanged window at the same one is nothing.
  live.step(15)
  asked[6]!(answer(12, 90))
  await flush()
  live.step(16)
  asked[7]!(answer(14, 80))
  await flush()
  expect(views).toHaveLength(5)

  // The user's privacy as the last answer said it (TopicHub stops the feed; admission refuses).
  expect(w.isPrivate!("u")).toBe(false)
  live.step(17)
  asked[8]!(answer(17, 80, true))
  await flush()
  expect(w.isPrivate!("u")).toBe(true)

  // The last socket gone: the board is released, chain steps query nothing.
  w.unwatchAround(key, me)
  expect(live.watched.get("global")).toBe(1)
  w.unwatchAround(key, me)
  expect(live.watched.get("global")).toBe(0)
  expect(w.isPrivate!("u")).toBe(false)
  live.step(18)
  expect(asked).toHaveLength(9)
  w.close()
})

it("a failed query is tried again while watched", async () => {
  const live = fakeLive()
  let calls = 0
  const q: WindowQueries = {
    window: () => { calls++; return calls === 1 ? Promise.reject(Object.assign(new Error("no owner"), { _tag: "PartitionUnavailable" })) : Promise.resolve(answer(5, 1)) },
    groupTop: () => Promise.reject(new Error("no group here")),
    isPrivate: () => Promise.resolve(false)
  }
  const w = withMergedWindows(live.port, q, noGroups, { warn: (m) => { throw new Error(m) } })
  const views: Array<BoardView> = []
  w.onView((v) => views.push(v))
  w.watchAround(key, me)
  await vi.advanceTimersByTimeAsync(0)
  expect(views).toHaveLength(0)
  await vi.advanceTimersByTimeAsync(500)
  expect(calls).toBe(2)
  expect(views.map((v) => v.seq)).toEqual([5])
  w.close()
})

it("a group board's views follow the global chain, re-read the group on each step, wait for the group, and serve a larger limit", async () => {
  const live = fakeLive()
  const group: BoardKey = { board: "group:team", window: "all", period: "all" }
  let stored: ReadonlyArray<string> | null = null
  let reads = 0
  const tops: Array<{ members: ReadonlyArray<string>; limit: number; resolve: (v: BoardView) => void }> = []
  const arounds: Array<{ members: ReadonlyArray<string> | undefined; resolve: (a: WindowAnswer) => void }> = []
  const q: WindowQueries = {
    window: (_k, _a, members) => new Promise<WindowAnswer>((resolve) => { arounds.push({ members, resolve }) }),
    groupTop: (_k, members, limit) => new Promise<BoardView>((resolve) => { tops.push({ members, limit, resolve }) }),
    isPrivate: () => Promise.resolve(false)
  }
  const w = withMergedWindows(live.port, q, () => { reads++; return Promise.resolve(stored) }, { warn: (m) => { throw new Error(m) } })
  const views: Array<BoardView> = []
  w.onView((v) => { if (v.key.board === group.board) views.push(v) })
  const flush = () => vi.advanceTimersByTimeAsync(0)
  const top = (seq: number, users: ReadonlyArray<string>): BoardView => ({ key: group, seq, total: users.length, entries: users.map((u, i) => row(u, i + 1, 100 - i)) })

  // No such group yet: an empty board (asked with no members, for an honest seq); the global board is watched.
  expect(w.watch(group, 2)).toBeNull()
  expect(live.watched.get("global")).toBe(1)
  expect(live.watched.get("group:team")).toBeUndefined()
  await flush()
  expect(tops.map((t) => [t.members, t.limit])).toEqual([[[], 2]])
  tops[0]!.resolve(top(4, []))
  await flush()
  expect(views.map((v) => [v.seq, v.entries.length])).toEqual([[4, 0]])
  // It is created: the next step of the global chain reads it and shows its board.
  stored = ["a", "b", "c"]
  live.step(5)
  await flush()
  expect(tops[1]!.members).toEqual(["a", "b", "c"])
  tops.shift()
  views.shift()
  tops[0]!.resolve(top(5, ["a", "b"]))
  await flush()
  expect(views.map((v) => v.seq)).toEqual([5])
  expect(w.watch(group, 2)).toBe(views[0])

  // A membership change shows at the next step (the group is read on each), with the higher watermark.
  stored = ["a", "c"]
  live.step(6)
  await flush()
  expect(tops[1]!.members).toEqual(["a", "c"])
  tops[1]!.resolve(top(6, ["a", "c"]))
  await flush()
  expect(views.map((v) => v.entries.map((e) => e.user_id))).toEqual([["a", "b"], ["a", "c"]])

  // A socket asking for more entries than the view holds waits for the next answer, sent even at the same seq.
  expect(w.watch(group, 5)).toBeNull()
  await flush()
  expect(tops[2]!.limit).toBe(5)
  tops[2]!.resolve(top(6, ["a", "c"]))
  await flush()
  expect(views).toHaveLength(3)
  expect(w.watch(group, 4)).toBe(views[2])

  // A group around-me window asks with the members; one group read serves the views of one step.
  w.watchAround(group, me)
  await flush()
  expect(arounds.map((a) => a.members)).toEqual([["a", "c"]])
  arounds[0]!.resolve({ view: { key: group, seq: 6, total: 2, entries: [row("a", 1, 100), row("u", 2, 50)], around: { ...me, first_rank: 1 } }, userPrivate: false })
  await flush()
  expect(views.at(-1)!.around).toEqual({ ...me, first_rank: 1 })
  const before = reads
  live.step(7)
  await flush()
  expect(reads).toBe(before + 1)
  expect(tops).toHaveLength(4)
  expect(arounds).toHaveLength(2)

  // Deleted: the board empties (asked with no members, for an honest seq).
  tops[3]!.resolve(top(7, ["a", "c"]))
  await flush()
  stored = null
  live.step(8)
  await flush()
  expect(tops[4]!.members).toEqual([])
  tops[4]!.resolve(top(8, []))
  await flush()
  expect(views.at(-1)!.entries).toEqual([])

  // Every socket gone: the global board is released.
  w.unwatchAround(group, me)
  for (const l of [2, 2, 5, 4]) w.unwatch(group, l)
  expect(live.watched.get("global")).toBe(0)
  w.close()
})
