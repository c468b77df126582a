// The read model: leaderboards, profiles and ledgers as the gateway serves them. The actors
// implement it (LiveBoards, Users); App.ts hands it to the gateway, which never sees an actor.
import type { BoardKey, LedgerItem, RankedEntry, Window } from "../domain/Model.js"

export type { RankedEntry } from "../domain/Model.js"

/** The board's top entries after the events up to `seq` (the stream sequence last reflected). */
export interface BoardView {
  readonly key: BoardKey
  readonly seq: number
  /** Top entries, at least as many as the largest watched limit (fewer if the board is smaller). */
  readonly entries: ReadonlyArray<RankedEntry>
  readonly total: number
  /**
   * Set on an around-me view (watchAround): `entries` is the window of ranks around `user_id`
   * (radius `radius` each side), starting at rank `first_rank`; null while the user has no rank.
   */
  readonly around?: AroundSpec & { readonly first_rank: number | null }
}

/** Whose window an around-me view is (`user_id`), and how many ranks each side (`radius`). */
export interface AroundSpec {
  readonly user_id: string
  readonly radius: number
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
  /**
   * Why there is no board state to read right now (the pipeline is loading its snapshot, restarting,
   * or stopped for good), as a sentence; null while reads are served. Routes answer 503 meanwhile:
   * an empty board or a 404 would pose as the truth.
   */
  unavailable(): string | null
  /** True when the user chose visibility "private" (ARCHITECTURE §11); absent: nobody is. */
  isPrivate?(userId: string): boolean
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
  /**
   * Ask for views of at least `limit` entries of `key` (ref-counted); returns the current view, or
   * null while unavailable — the first view then arrives through onView once state is back.
   */
  watch(key: BoardKey, limit: number): BoardView | null
  unwatch(key: BoardKey, limit: number): void
  /**
   * Ask for around-me views of `key` (ref-counted): after every drain that changed the board, a view
   * with `around` set for this user and radius (the hub drops those that show nothing new). Returns
   * the current window, or null while unavailable (as watch).
   */
  watchAround(key: BoardKey, around: AroundSpec): BoardView | null
  unwatchAround(key: BoardKey, around: AroundSpec): void
  /** Called after a drain changed a watched board's top entries, and on period rollover. */
  onView(listener: (view: BoardView) => void): () => void
  /** Called when a window's current period changes in stream time. */
  onRollover(listener: (window: Window, period: string) => void): () => void
  /**
   * Called when the boards' history is replaced (a retroactive re-projection switched in, §10),
   * before the new state's first views: every feed starts a new epoch and sends a fresh snapshot.
   */
  onReset?(listener: () => void): () => void
}

export interface UserProfile {
  readonly user_id: string
  readonly username: string
  readonly total_xp: number
  readonly level: { number: number; title: string; xp_into_level: number; xp_for_next: number | null }
  readonly streak: { current: number; longest: number; freezes_left: number }
  readonly time_zone: string
  readonly visibility: "public" | "private"
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
  /** Newest first: awards and corrections (which carry `kind: "correction"`). */
  readonly entries: ReadonlyArray<LedgerItem>
  /** Pass back as `beforeSeq` for the older entries; null at the end. */
  readonly nextBeforeSeq: number | null
}

export interface UserPort {
  /** As LeaderboardPort.unavailable: profiles and ledgers answer 503 while this is a sentence. */
  unavailable(): string | null
  profile(userId: string): UserProfile | null
  /** The user's ledger entries with seq < beforeSeq (all when null), newest first, at most `limit`. */
  ledger(userId: string, limit: number, beforeSeq: number | null): Promise<LedgerPage>
}

/**
 * GET /v1/rules and GET /v1/achievements: JSON-ready documents (with the rules version), or promises
 * of them (the partitioned gateway reads the recorded history from Postgres on each request).
 */
export interface RulesPort {
  rules(): unknown
  achievements(): unknown
}
