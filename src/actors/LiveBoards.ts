// The gateway's LeaderboardPort over whichever pipeline is running: it keeps the watchers'
// registrations and listeners across pipeline restarts, re-applying them to the new boards.
import type { BoardKey, Window } from "../domain/model.js"
import type { AroundResult, BoardCursor, BoardInfo, BoardPage, BoardView, LeaderboardPort } from "../gateway/ports.js"
import { periodOf } from "../domain/Periods.js"
import type { Boards } from "./Boards.js"
import { boardKeyString } from "./Board.js"

export class LiveBoards implements LeaderboardPort {
  private boards: Boards | null = null
  private readonly watches = new Map<string, { key: BoardKey; limits: Map<number, number> }>()
  private readonly viewListeners = new Set<(v: BoardView) => void>()
  private readonly rollListeners = new Set<(w: Window, p: string) => void>()

  constructor(private readonly now: () => number = Date.now) {}

  /** Called with the boards of a (re)started pipeline: re-register every watcher, push fresh views. */
  attach(boards: Boards | null): void {
    this.boards = boards
    if (boards === null) return
    for (const w of this.watches.values()) {
      for (const [limit, n] of w.limits) for (let i = 0; i < n; i++) boards.watch(w.key, limit)
      const b = boards.get(w.key)
      if (b !== undefined) this.emitView(b.view())
    }
  }

  emitView = (v: BoardView): void => { for (const l of this.viewListeners) l(v) }
  emitRollover = (w: Window, p: string): void => { for (const l of this.rollListeners) l(w, p) }

  currentPeriod(window: Window): string {
    return this.boards?.currentPeriod(window) ?? periodOf(window, this.now())
  }

  list(): ReadonlyArray<BoardInfo> {
    return this.boards?.list() ?? []
  }

  page(key: BoardKey, after: BoardCursor | null, limit: number): BoardPage | null | Promise<BoardPage | null> {
    return this.boards === null ? null : this.boards.page(key, after, limit)
  }

  around(key: BoardKey, userId: string, radius: number): AroundResult | null {
    return this.boards?.around(key, userId, radius) ?? null
  }

  watch(key: BoardKey, limit: number): BoardView {
    const k = boardKeyString(key)
    let w = this.watches.get(k)
    if (w === undefined) { w = { key, limits: new Map() }; this.watches.set(k, w) }
    w.limits.set(limit, (w.limits.get(limit) ?? 0) + 1)
    return this.boards?.watch(key, limit) ?? { key, seq: 0, entries: [], total: 0 }
  }

  unwatch(key: BoardKey, limit: number): void {
    const k = boardKeyString(key)
    const w = this.watches.get(k)
    if (w !== undefined) {
      const n = (w.limits.get(limit) ?? 0) - 1
      if (n > 0) w.limits.set(limit, n)
      else w.limits.delete(limit)
      if (w.limits.size === 0) this.watches.delete(k)
    }
    this.boards?.unwatch(key, limit)
  }

  onView(listener: (view: BoardView) => void): () => void {
    this.viewListeners.add(listener)
    return () => { this.viewListeners.delete(listener) }
  }

  onRollover(listener: (window: Window, period: string) => void): () => void {
    this.rollListeners.add(listener)
    return () => { this.rollListeners.delete(listener) }
  }
}
