// Board reads the gateway relies on: keyset pages that neither skip nor repeat a row (even when
// the cursor's row moved), around-me windows, and views emitted only when a watched top changes.
import { describe, expect, it } from "vitest"
import { Deferred, Effect } from "effect"
import type { Scope } from "effect"
import type { ScoreChange } from "../domain/Model.js"
import type { BoardView } from "../ports/ReadModel.js"
import type { ActorDefect } from "./Actor.js"
import { Boards } from "./Boards.js"

const withBoards = <A>(f: (b: Boards, views: BoardView[]) => Effect.Effect<A>) =>
  Effect.runPromise(Effect.scoped(Effect.gen(function*() {
    const latch = yield* Deferred.make<never, ActorDefect>()
    const scope = yield* Effect.scope
    const views: BoardView[] = []
    const boards = new Boards({
      lookup: (id) => ({ username: id.toUpperCase(), level: 1 }),
      latch, periodGraceMs: 600_000, readArchive: async () => null, now: () => Date.UTC(2026, 10, 26),
      emitView: (v) => views.push(v), emitRollover: () => {}, watchedUsers: new Set(), notify: () => {}
    }, scope as Scope.Scope)
    return yield* f(boards, views)
  })))

const change = (userId: string, xp: number, seq: number): ScoreChange =>
  ({ board: "global", window: "all", period: "all", userId, username: userId, xp, seq, level: 1 })
const key = { board: "global", window: "all" as const, period: "all" }
const settle = Effect.sleep(5)

describe("Boards", () => {
  it("pages with keyset cursors: every row once, in rank order, with ties by lower seq", () =>
    withBoards((b) => Effect.gen(function*() {
      const changes = Array.from({ length: 50 }, (_, i) => change(`u${i}`, (i % 7) * 10, i + 1))
      yield* b.dispatch(changes, 50, Date.UTC(2026, 10, 26))
      yield* settle
      const seen: string[] = []
      let after: { xp: number; seq: number } | null = null
      for (;;) {
        const page = (yield* Effect.promise(async () => b.page(key, after, 8)))!
        if (page.entries.length === 0) break
        for (const e of page.entries) seen.push(e.user_id)
        const last = page.entries[page.entries.length - 1]!
        after = { xp: last.xp, seq: last.reached_seq }
      }
      const expected = [...changes].sort((x, y) => y.xp - x.xp || x.seq - y.seq).map((c) => c.userId)
      expect(seen).toEqual(expected)
    })))

  it("resumes after a cursor whose row has since moved up, without skipping the rest", () =>
    withBoards((b) => Effect.gen(function*() {
      yield* b.dispatch([change("a", 30, 1), change("b", 20, 2), change("c", 10, 3)], 3, 0)
      yield* settle
      const first = (yield* Effect.promise(async () => b.page(key, null, 2)))!
      yield* b.dispatch([change("b", 40, 4)], 4, 0)
      yield* settle
      const cursor = { xp: first.entries[1]!.xp, seq: first.entries[1]!.reached_seq }
      const next = (yield* Effect.promise(async () => b.page(key, cursor, 2)))!
      expect(next.entries.map((e) => e.user_id)).toEqual(["c"])
    })))

  it("answers around-me with the user in the middle", () =>
    withBoards((b) => Effect.gen(function*() {
      yield* b.dispatch(Array.from({ length: 20 }, (_, i) => change(`u${i}`, 100 - i, i + 1)), 20, 0)
      yield* settle
      const r = b.around(key, "u10", 2)!
      expect(r.user?.rank).toBe(11)
      expect(r.entries.map((e) => e.rank)).toEqual([9, 10, 11, 12, 13])
    })))

  it("emits a view only when a watched top changes", () =>
    withBoards((b, views) => Effect.gen(function*() {
      yield* b.dispatch(Array.from({ length: 10 }, (_, i) => change(`u${i}`, 100 - i * 10, i + 1)), 10, 0)
      yield* settle
      b.watch(key, 3)
      const before = views.length
      yield* b.dispatch([change("u9", 15, 11)], 11, 0) // still 10th: below the watched top 3
      yield* settle
      expect(views.length).toBe(before)
      yield* b.dispatch([change("u8", 95, 12)], 12, 0) // into the top 3
      yield* settle
      expect(views.length).toBe(before + 1)
      expect(views[views.length - 1]!.entries.map((e) => e.user_id)).toEqual(["u0", "u8", "u1"])
    })))
})
