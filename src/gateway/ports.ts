// What the gateway needs from the rest of Arena, declared where it is used (Centrifugo style).
// App.ts wires the real pipeline in; the gateway never imports actors or drivers directly.
import type { BoardKey, Issue, LedgerEntry, Window } from "../domain/model.js"

/** One row of a leaderboard as clients see it (ARCHITECTURE §6/§7). */
export interface RankedEntry {
  readonly rank: number
  readonly user_id: string
  readonly username: string
  readonly xp: number
  readonly level: number
}

/** The board's top entries after the events up to `seq` (the stream sequence last reflected). */
export interface BoardView {
  readonly key: BoardKey
  readonly seq: number
  /** Top entries, at least as many as the largest watched limit (fewer if the board is smaller). */
  readonly entries: ReadonlyArray<RankedEntry>
  readonly total: number
}

/** Keyset cursor position: the (xp, seq) of the last entry of the previous page. */
export interface BoardCursor {
  readonly xp: number
  readonly seq: number
}

export interface BoardPage {
  readonly key: BoardKey
  readonly seq: number
  readonly total: number
  readonly entries: ReadonlyArray<RankedEntry & { readonly reached_seq: number }>
}

export interface BoardInfo {
  readonly board: string
  readonly window: Window
  readonly period: string
  readonly size: number
  readonly closed: boolean
}

export interface AroundResult {
  readonly key: BoardKey
  readonly seq: number
  readonly total: number
  readonly user: (RankedEntry) | null
  readonly entries: ReadonlyArray<RankedEntry>
}

/** Leaderboard reads and the live feed. Reads are served from in-memory board state. */
export interface LeaderboardPort {
  /** The current period of a window in stream time (`all` for the all-time window). */
  currentPeriod(window: Window): string
  list(): ReadonlyArray<BoardInfo>
  /**
   * null when the board does not exist (never had an entry and is not current). Open boards
   * answer synchronously from memory; closed periods come from the Postgres archive (a Promise).
   * A returned page is never mutated afterwards: the route caches its serialized body by the
   * page object (and its entries array), so returning the same object again is how a port says
   * "unchanged" (LiveBoards does; see pageBody in routes/leaderboards.ts).
   */
  page(key: BoardKey, after: BoardCursor | null, limit: number): BoardPage | null | Promise<BoardPage | null>
  around(key: BoardKey, userId: string, radius: number): AroundResult | null | Promise<AroundResult | null>
  /** Ask for views of at least `limit` entries of `key` (ref-counted); returns the current view. */
  watch(key: BoardKey, limit: number): BoardView
  unwatch(key: BoardKey, limit: number): void
  /** Called after a drain changed a watched board's top entries, and on period rollover. */
  onView(listener: (view: BoardView) => void): () => void
  /** Called when a window's current period changes in stream time. */
  onRollover(listener: (window: Window, period: string) => void): () => void
}

export interface UserProfile {
  readonly user_id: string
  readonly username: string
  readonly total_xp: number
  readonly level: { number: number; title: string; xp_into_level: number; xp_for_next: number | null }
  readonly streak: { current: number; longest: number }
  readonly achievements: ReadonlyArray<{
    id: string
    title: string
    description: string
    bonus: number
    progress: number
    target: number
    unlocked: boolean
    unlocked_seq: number | null
  }>
  readonly agent_stats: ReadonlyArray<{ agent_name: string; xp: number; events: number }>
  readonly ranks: ReadonlyArray<{ board: string; window: Window; period: string; rank: number; xp: number }>
}

export interface LedgerPage {
  readonly entries: ReadonlyArray<LedgerEntry>
  /** Opaque; pass back as `cursor` for older entries. null at the end. */
  readonly next_cursor: string | null
}

export interface UserPort {
  profile(userId: string): UserProfile | null
  ledger(userId: string, limit: number, cursor: string | null): Promise<LedgerPage>
}

/** Live per-user notifications for /ws/users/{user_id}. */
export type UserNotification =
  | { type: "xp_awarded"; user_id: string; seq: number; entry: LedgerEntry }
  | { type: "level_up"; user_id: string; seq: number; level: number; title: string; previous: number }
  | { type: "achievement_unlocked"; user_id: string; seq: number; achievement: string; bonus: number }
  | { type: "rank_changed"; user_id: string; seq: number; board: string; window: Window; period: string; rank: number; prev_rank: number | null }

export interface NotificationPort {
  onUserNotification(listener: (n: UserNotification) => void): () => void
  /** Ask for notifications about this user (ref-counted; rank_changed is computed only for watched users). Returns the release. */
  watchUser(userId: string): () => void
}

export type PublishResult =
  | { status: "accepted"; event_id: string; seq: number }
  | { status: "duplicate"; event_id: string; seq: number }
  | { status: "rejected"; event_id: string | null; error: { code: string; message: string; details: ReadonlyArray<Issue> } }

/** POST /v1/events: validate then publish to ARENA_XP with Nats-Msg-Id (bounded acks in flight). */
export interface IngestPort {
  publish(items: ReadonlyArray<unknown>): Promise<ReadonlyArray<PublishResult>>
}

export interface Readiness {
  readonly ready: boolean
  /** Not ready for a reason no retry fixes: an operator must act (the reasons say what). */
  readonly fatal?: boolean
  readonly reasons: ReadonlyArray<string>
  readonly details: Readonly<Record<string, unknown>>
}

export interface HealthPort {
  readiness(): Readiness
  /** Prometheus text exposition of every metric. */
  metrics(): string
}
