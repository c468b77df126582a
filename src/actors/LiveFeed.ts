// The live feed, made once in App.ts and kept across pipeline restarts: the pipeline pushes board
// views, period rollovers and user notifications into it; the gateway subscribes to notifications
// and says which users it listens to (ref-counted), which is what the pipeline reads as watchedUsers.
import type { LiveFeedSink, NotificationPort, UserNotification } from "../ports/LiveFeed.js"
import type { BoardView } from "../ports/ReadModel.js"
import type { Window } from "../domain/Model.js"
import type { LiveBoards } from "./LiveBoards.js"

export class LiveFeed implements LiveFeedSink, NotificationPort {
  private readonly listeners = new Set<(n: UserNotification) => void>()
  private readonly watchCounts = new Map<string, number>()
  readonly watchedUsers = new Set<string>()

  /** Views and rollovers go to the leaderboards' listeners (the WebSocket topics). */
  constructor(private readonly boards: LiveBoards) {}

  readonly emitView = (v: BoardView): void => { this.boards.emitView(v) }
  readonly emitRollover = (w: Window, p: string): void => { this.boards.emitRollover(w, p) }
  readonly notify = (notes: ReadonlyArray<UserNotification>): void => {
    for (const n of notes) for (const l of this.listeners) l(n)
  }

  onUserNotification(listener: (n: UserNotification) => void): () => void {
    this.listeners.add(listener)
    return () => { this.listeners.delete(listener) }
  }

  watchUser(userId: string): () => void {
    this.watchCounts.set(userId, (this.watchCounts.get(userId) ?? 0) + 1)
    this.watchedUsers.add(userId)
    return () => {
      const n = (this.watchCounts.get(userId) ?? 1) - 1
      if (n <= 0) { this.watchCounts.delete(userId); this.watchedUsers.delete(userId) } else this.watchCounts.set(userId, n)
    }
  }
}
