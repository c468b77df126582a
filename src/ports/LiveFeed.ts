// The live feed: what the pipeline pushes while it runs (board views, period rollovers, per-user
// notifications) and what the gateway subscribes to. One object implements both sides
// (actors/LiveFeed.ts); App.ts makes it once, so it outlives pipeline restarts.
import type { CorrectionEntry, LedgerEntry, Window } from "../domain/Model.js"
import type { BoardView } from "./ReadModel.js"

/** Live per-user notifications for /ws/users/{user_id}. */
export type UserNotification =
  | { type: "xp_awarded"; user_id: string; seq: number; entry: LedgerEntry }
  /** A correction moved the user's XP (entry.level_after says where the level went, up or down). */
  | { type: "xp_corrected"; user_id: string; seq: number; entry: CorrectionEntry }
  | { type: "level_up"; user_id: string; seq: number; level: number; title: string; previous: number }
  | { type: "achievement_unlocked"; user_id: string; seq: number; achievement: string; bonus: number }
  | { type: "rank_changed"; user_id: string; seq: number; board: string; window: Window; period: string; rank: number; prev_rank: number | null }

/** The gateway's side: subscribe to notifications, and say which users someone listens to. */
export interface NotificationPort {
  onUserNotification(listener: (n: UserNotification) => void): () => void
  /** Ask for notifications about this user (ref-counted; rank_changed is computed only for watched users). Returns the release. */
  watchUser(userId: string): () => void
}

/**
 * The pipeline's side, as plain members (functions and a set), so the boards can take it as part
 * of their own dependencies without a wrapper.
 */
export interface LiveFeedSink {
  /** A watched board's top changed (once per drain) — to the gateway's delta feed. */
  readonly emitView: (v: BoardView) => void
  /** A window's current period changed in stream time. */
  readonly emitRollover: (w: Window, p: string) => void
  /** Notifications of one batch, in seq order. */
  readonly notify: (notes: ReadonlyArray<UserNotification>) => void
  /** Users someone listens to (/ws/users): their rank changes are reported. */
  readonly watchedUsers: ReadonlySet<string>
  /**
   * false: no rank_changed from these boards (a partition's owner in partitioned mode: its boards
   * rank its partition only, not the merged board). Absent: true.
   */
  readonly rankChanges?: boolean
}
