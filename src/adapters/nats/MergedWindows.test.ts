// The around-me windows of the partitioned gateway over a fake chain and fake partition queries:
// a watched window watches its board instance; each chain step recomputes it with at most one query
// in flight (one more after it when the chain moved meanwhile); a window changed at an unmoved
// watermark is held for a higher one (or HOLD_MS); a lower watermark is never sent; the user's
// privacy as the answers say it; unwatching releases the board.
import { afterEach, beforeEach, expect, it, vi } from "vitest"
import type { BoardKey } from "../../domain/Model.js"
import type { AroundSpec, BoardView, LeaderboardPort, RankedEntry } from "../../ports/ReadModel.js"
import type { WindowAnswer, WindowQueries } from "./MergedWindows.js"
import { withMergedWindows } from "./MergedWindows.js"

const key: BoardKey = { board: "global", window: "all", period: "all" }
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
    isPrivate: () => Promise.resolve(false)
  }
  return { q, asked }
}

beforeEach(() => { vi.useFakeTimers() })
afterEach(() => { vi.useRealTimers() })

it("recomputes on chain steps, one query at a time, holds same-watermark changes, never goes back", async () => {
  const live = fakeLive()
  const { q, asked } = fakeQueries()
  const w = withMergedWindows(live.port, q, { warn: (m) => { throw new Error(m) } })
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
    isPrivate: () => Promise.resolve(false)
  }
  const w = withMergedWindows(live.port, q, { warn: (m) => { throw new Error(m) } })
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
