// Test support: the boards of a pipeline over a fresh engine state, with a way to set users'
// global all-time scores (as the engine would) and to publish what changed; the live feed it
// writes to records views, rollovers and notifications (for the `watched` users; `rankChanges` as the feed says).
import { newEngineState } from "../domain/engine/EngineState.js"
import { GLOBAL_ALL } from "../domain/ranking/BoardRegistry.js"
import type { Window } from "../domain/Model.js"
import type { BoardView } from "../ports/ReadModel.js"
import type { UserNotification } from "../ports/LiveFeed.js"
import { Boards } from "./Boards.js"
import type { Position } from "./Processor.js"

export const boardsHarness = (now = Date.UTC(2026, 10, 26), live: { readonly watched?: ReadonlyArray<string>; readonly rankChanges?: boolean } = {}) => {
  /** The seq of the last committed snapshot (archives closed up to it are "in Postgres"). */
  const committed = { seq: 0 }
  const state = newEngineState(600_000)
  const pos: Position = { applied: 0, streamTimeMs: 0, gaps: 0 }
  const views: Array<BoardView> = []
  const rollovers: Array<[Window, string]> = []
  const notes: Array<UserNotification> = []
  const feed = {
    emitView: (v: BoardView) => { views.push(v) }, emitRollover: (w: Window, p: string) => { rollovers.push([w, p]) },
    notify: (n: ReadonlyArray<UserNotification>) => { notes.push(...n) }, watchedUsers: new Set<string>(live.watched ?? []),
    ...(live.rankChanges === undefined ? {} : { rankChanges: live.rankChanges })
  }
  const boards = new Boards(state, pos, { readArchive: async () => null, committedSeq: () => committed.seq, now: () => now, feed })
  const u = state.users
  /** Sets users' global all-time scores at their seqs, then publishes like the pipeline after a slice. */
  const dispatch = (changes: ReadonlyArray<readonly [userId: string, xp: number, seq: number]>): void => {
    for (const [userId, xp, seq] of changes) {
      const uid = u.intern(userId)
      const had = u.events[uid]! > 0
      state.boards.score(GLOBAL_ALL, uid, had ? u.totalXp[uid]! : -1, had ? u.totalSeq[uid]! : 0, xp, seq)
      u.totalXp[uid] = xp
      u.totalSeq[uid] = seq
      u.events[uid] = u.events[uid]! + 1
      if (seq > pos.applied) pos.applied = seq
    }
    boards.publish(state.boards.takeChanged())
  }
  /** Changes what boards read of a user besides the score (as an event on another board would). */
  const setUser = (userId: string, o: { username?: string; level?: number }): void => {
    const uid = u.intern(userId)
    if (o.username !== undefined) u.setUsername(uid, o.username)
    if (o.level !== undefined) u.level[uid] = o.level
  }
  return { state, pos, boards, views, rollovers, notes, committed, dispatch, setUser }
}
