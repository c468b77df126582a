// The board actors (one per board × window × period) and the registry that routes score changes
// to them, closes periods in stream time, and answers the gateway's LeaderboardPort.
import { Deferred, Effect, Exit, Scope } from "effect"
import type { BoardKey, ScoreChange, Window } from "../domain/Model.js"
import { WINDOWS } from "../domain/Model.js"
import { boardKeyString } from "../domain/BoardKeys.js"
import { closesAtMs, periodOf } from "../domain/Periods.js"
import type { AroundResult, BoardCursor, BoardInfo, BoardPage, BoardView } from "../ports/ReadModel.js"
import type { LiveFeedSink, UserNotification } from "../ports/LiveFeed.js"
import type { ArchivedBoard, PeriodArchive } from "../ports/Snapshots.js"
import { spawn } from "./Actor.js"
import type { FailureLatch, Mailbox } from "./Actor.js"
import { Board } from "./Board.js"
import type { UserLookup } from "./Board.js"

type BoardMsg =
  | { readonly _tag: "Apply"; readonly changes: ReadonlyArray<ScoreChange>; readonly seq: number }
  | { readonly _tag: "Close"; readonly closedAtSeq: number; readonly done: Deferred.Deferred<PeriodArchive> }

interface BoardActor {
  readonly board: Board
  readonly mailbox: Mailbox<BoardMsg>
  readonly scope: Scope.Closeable
  readonly closesAt: number
}

/** What the boards need; the live feed's members (views, rollovers, notifications, watched users) are part of it. */
export interface BoardsDeps extends LiveFeedSink {
  readonly lookup: UserLookup
  readonly latch: FailureLatch
  readonly periodGraceMs: number
  readonly readArchive: (board: string, window: string, period: string, offset: number, limit: number) => Promise<ArchivedBoard | null>
  /** Wall clock, only for "the current period" before any event has been seen. */
  readonly now: () => number
}

export class Boards {
  private readonly actors = new Map<string, BoardActor>()
  private readonly current = new Map<Window, string>()
  /** Latest JetStream timestamp applied: the boards' notion of "now". */
  streamTimeMs = 0

  constructor(private readonly deps: BoardsDeps, private readonly scope: Scope.Scope) {}

  private spawnActor(key: BoardKey): Effect.Effect<BoardActor> {
    const deps = this.deps
    const lastRanks = new Map<string, number>()
    const emit = (b: Board) => {
      if (b.needsView) deps.emitView(b.view())
      if (deps.watchedUsers.size === 0) return
      const notes: UserNotification[] = []
      for (const u of deps.watchedUsers) {
        const rank = b.index.rankOf(u)
        if (rank === undefined) continue
        const prev = lastRanks.get(u)
        if (prev !== rank) {
          lastRanks.set(u, rank)
          notes.push({ type: "rank_changed", user_id: u, seq: b.seq, board: key.board, window: key.window, period: key.period, rank, prev_rank: prev ?? null })
        }
      }
      if (notes.length > 0) deps.notify(notes)
    }
    return Effect.gen({ self: this }, function*() {
      const scope = yield* Scope.fork(this.scope)
      const board = new Board(key, deps.lookup)
      const mailbox = yield* spawn<BoardMsg>(`board ${boardKeyString(key)}`, 4096, deps.latch, (msgs) => {
        let close: Extract<BoardMsg, { _tag: "Close" }> | undefined
        for (const m of msgs) {
          if (m._tag === "Apply") board.apply(m.changes, m.seq)
          else close = m
        }
        // Deltas coalesce: one view per drain, however many batches the drain held.
        emit(board)
        if (close !== undefined) {
          const entries = board.index.range(0, board.index.size).map((e) => {
            const u = deps.lookup(e.userId)
            return { userId: e.userId, username: u?.username ?? e.userId, xp: e.score, seq: e.seq, level: u?.level ?? 1 }
          })
          return Deferred.succeed(close.done, { board: key.board, window: key.window, period: key.period, closedAtSeq: close.closedAtSeq, entries })
            .pipe(Effect.asVoid)
        }
      }).pipe(Scope.provide(scope))
      const closesAt = key.window === "all" ? Number.POSITIVE_INFINITY : closesAtMs(key.window, key.period, { periodGraceMs: deps.periodGraceMs })
      return { board, mailbox, scope, closesAt }
    })
  }

  /** Rebuild from snapshot: a board filled directly (before any actor runs). */
  loadBoard(key: BoardKey): Effect.Effect<Board> {
    return this.actorFor(key).pipe(Effect.map((a) => a.board))
  }

  private actorFor(key: BoardKey): Effect.Effect<BoardActor> {
    const k = boardKeyString(key)
    const existing = this.actors.get(k)
    if (existing !== undefined) return Effect.succeed(existing)
    return this.spawnActor(key).pipe(Effect.tap((a) => Effect.sync(() => this.actors.set(k, a))))
  }

  /** Route one joined batch's score changes, then close the periods stream time has left behind. */
  dispatch(changes: ReadonlyArray<ScoreChange>, seq: number, streamTimeMs: number) {
    return Effect.gen({ self: this }, function*() {
      // Group by board → window → period without building a key string per change (8 per event).
      const groups = new Map<string, Map<Window, Map<string, ScoreChange[]>>>()
      for (const c of changes) {
        let byWindow = groups.get(c.board)
        if (byWindow === undefined) { byWindow = new Map(); groups.set(c.board, byWindow) }
        let byPeriod = byWindow.get(c.window)
        if (byPeriod === undefined) { byPeriod = new Map(); byWindow.set(c.window, byPeriod) }
        const list = byPeriod.get(c.period)
        if (list === undefined) byPeriod.set(c.period, [c])
        else list.push(c)
      }
      for (const [board, byWindow] of groups) {
        for (const [window, byPeriod] of byWindow) {
          for (const [period, list] of byPeriod) {
            const a = yield* this.actorFor({ board, window, period })
            yield* a.mailbox.send({ _tag: "Apply", changes: list, seq })
          }
        }
      }
      if (streamTimeMs > this.streamTimeMs) this.streamTimeMs = streamTimeMs
      this.rollPeriods()
      return yield* this.closeExpired(seq)
    })
  }

  /** Closes boards whose period closed at the current stream time; their archives arrive later. */
  private closeExpired(seq: number) {
    return Effect.gen({ self: this }, function*() {
      const archives: Array<Deferred.Deferred<PeriodArchive>> = []
      for (const [k, a] of this.actors) {
        if (a.closesAt > this.streamTimeMs) continue
        const done = yield* Deferred.make<PeriodArchive>()
        yield* a.mailbox.send({ _tag: "Close", closedAtSeq: seq, done })
        this.actors.delete(k)
        archives.push(done)
        // The actor's scope closes once it has answered (its fiber ends with it).
        yield* Effect.forkIn(Deferred.await(done).pipe(Effect.andThen(Scope.close(a.scope, Exit.void))), this.scope)
      }
      return archives
    })
  }

  private rollPeriods(): void {
    for (const w of WINDOWS) {
      if (w === "all") continue
      const p = this.currentPeriod(w)
      const prev = this.current.get(w)
      if (prev !== p) {
        this.current.set(w, p)
        if (prev !== undefined) this.deps.emitRollover(w, p)
      }
    }
  }

  // ---- reads (LiveBoards, the gateway's LeaderboardPort, delegates here) ----

  currentPeriod(window: Window): string {
    return periodOf(window, this.streamTimeMs > 0 ? this.streamTimeMs : this.deps.now())
  }

  get(key: BoardKey): Board | undefined {
    return this.actors.get(boardKeyString(key))?.board
  }

  list(): ReadonlyArray<BoardInfo> {
    const out: BoardInfo[] = []
    for (const a of this.actors.values()) out.push({ ...a.board.key, size: a.board.index.size, closed: false })
    return out.sort((x, y) => (x.board + x.window + x.period).localeCompare(y.board + y.window + y.period))
  }

  page(key: BoardKey, after: BoardCursor | null, limit: number): BoardPage | null | Promise<BoardPage | null> {
    const b = this.get(key)
    if (b !== undefined) {
      const offset = b.offsetAfter(after)
      const entries: Array<BoardPage["entries"][number]> = []
      b.index.forEachInRange(offset, limit, (userId, score, seq, rank) => { entries.push({ ...b.entry(rank, userId, score), reached_seq: seq }) })
      return { key, seq: b.seq, total: b.index.size, entries }
    }
    if (key.window === "all" || key.period === this.currentPeriod(key.window)) return { key, seq: 0, total: 0, entries: [] }
    return this.archivedPage(key, after, limit)
  }

  private async archivedPage(key: BoardKey, after: BoardCursor | null, limit: number): Promise<BoardPage | null> {
    // Archived rows carry (xp, reached_seq); a cursor resumes after the row with that key.
    let offset = 0
    if (after !== null) {
      for (;;) {
        const chunk = await this.deps.readArchive(key.board, key.window, key.period, offset, 1000)
        if (chunk === null) return null
        const i = chunk.rows.findIndex((r) => r.xp < after.xp || (r.xp === after.xp && r.reached_seq > after.seq))
        if (i >= 0) { offset += i; break }
        if (chunk.rows.length < 1000) { offset += chunk.rows.length; break }
        offset += chunk.rows.length
      }
    }
    const a = await this.deps.readArchive(key.board, key.window, key.period, offset, limit)
    if (a === null) return null
    return {
      key,
      seq: 0,
      total: a.entries,
      entries: a.rows.map((r) => ({ rank: r.rank, user_id: r.user_id, username: r.username, xp: r.xp, level: r.level, reached_seq: r.reached_seq }))
    }
  }

  around(key: BoardKey, userId: string, radius: number): AroundResult | null {
    const b = this.get(key)
    if (b === undefined) return null
    const rank = b.index.rankOf(userId)
    if (rank === undefined) return { key, seq: b.seq, total: b.index.size, user: null, entries: [] }
    const from = Math.max(0, rank - 1 - radius)
    const entries = b.top(from, rank - from + radius)
    return { key, seq: b.seq, total: b.index.size, user: entries.find((e) => e.user_id === userId) ?? null, entries }
  }

  watch(key: BoardKey, limit: number): BoardView {
    const k = boardKeyString(key)
    let a = this.actors.get(k)
    if (a === undefined) {
      const closesAt = key.window === "all" ? Number.POSITIVE_INFINITY : closesAtMs(key.window, key.period, { periodGraceMs: this.deps.periodGraceMs })
      // A closed period never gets a live board (that would archive an empty one over the real one).
      if (closesAt <= this.streamTimeMs) return { key, seq: 0, entries: [], total: 0 }
      // A board nobody scored on yet: create it so watchers get its first deltas.
      a = Effect.runSync(this.spawnActor(key))
      this.actors.set(k, a)
    }
    a.board.watch(limit)
    return a.board.view()
  }

  unwatch(key: BoardKey, limit: number): void {
    this.actors.get(boardKeyString(key))?.board.unwatch(limit)
  }

}
