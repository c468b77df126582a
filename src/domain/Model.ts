// The shared vocabulary of Arena's domain: events, ledger entries, rejections, score changes,
// boards and windows, and the pre-table JSON user state that upgrades read. Pure data types only.

/** A decoded, structurally valid XP event (ARCHITECTURE §5). */
export interface XpEvent {
  readonly event_id: string
  readonly user_id: string
  readonly username?: string | undefined
  readonly agent_name: string
  readonly action_type: string
  readonly base_points?: number | undefined
  readonly multipliers?: ReadonlyArray<string> | undefined
  readonly timestamp: string
  readonly metadata?: Readonly<Record<string, unknown>> | undefined
}

/** Where an event sits in the stream: its JetStream sequence and timestamp (ms since epoch). */
export interface StreamPosition {
  readonly seq: number
  readonly streamTimeMs: number
}

/** One field-level problem: `path` is a JSON path like `multipliers[2]` or `timestamp`. */
export interface Issue {
  readonly path: string
  readonly message: string
}

/** Why an event was not applied (the DLQ `Arena-Reason` header and the metric label). */
export type RejectReason =
  | "malformed_json"
  | "oversized"
  | "invalid_event"
  | "unknown_action"
  | "invalid_base_points"
  | "invalid_multiplier"
  | "future_timestamp"
  | "msg_id_mismatch"
  | "invalid_settings"
  // corrections (ARCHITECTURE §10)
  | "invalid_correction"
  | "already_voided"
  | "unknown_user"
  // a void whose award was read from a projection no longer in force (§10 re-projection)
  | "projection_changed"
  // partitioned mode (ARCHITECTURE §9): the subject's user token or partition is not the payload user's
  | "subject_user_mismatch"

export interface Rejection {
  readonly reason: RejectReason
  readonly message: string
  readonly issues: ReadonlyArray<Issue>
}

export type Window = "all" | "day" | "week" | "month"
export const WINDOWS: ReadonlyArray<Window> = ["all", "day", "week", "month"]

/** `global` or `agent:<agent_name>`. */
export type BoardName = string

/** A board instance: board × window × period (`all` for the all-time window). */
export interface BoardKey {
  readonly board: BoardName
  readonly window: Window
  readonly period: string
}


/** Per agent in a pre-table UserState: XP earned through it and events. */
export interface AgentStat {
  xp: number
  events: number
}

/** A pre-table UserState's score in one period-scoped board: `${window}:${period}` for global, `${window}:${period}:${agent}` per agent. */
export interface PeriodScore {
  xp: number
  seq: number
}

/**
 * A user as Arena stored it before the user table: one JSON document per user in
 * arena_user_state, written by the object-per-user engine (since removed). Only read now, by
 * state/LegacySnapshot.ts, so an upgrade keeps every user; the table holds users in columns.
 */
export interface UserState {
  readonly userId: string
  username: string
  totalXp: number
  /** seq of the event that last changed totalXp (ranking tie-break: lower reached first). */
  totalSeq: number
  level: number
  events: number
  /** Active UTC day numbers as disjoint, non-adjacent runs: [start0, end0, start1, end1, ...] ascending. */
  streakRuns: number[]
  /** The longest run of active days ever held (profile `streak.longest`). */
  longestStreak: number
  /** The highest streak (§3: through the event's day) an event has counted; absent in snapshots
   * written before it existed (LegacySnapshot then takes longestStreak). */
  streakReached: number
  /** Accepted events per action_type. */
  counts: Record<string, number>
  /** Achievement id → seq that unlocked it. */
  unlocked: Record<string, number>
  /** Per agent_name: XP earned through it and events. */
  agents: Record<string, AgentStat>
  /** Open-period scores (pruned when the period closes); keys as in PeriodScore. */
  periods: Record<string, PeriodScore>
  /** Agent all-time tie-break seqs: agent → seq that last changed its xp. */
  agentSeq: Record<string, number>
  lastSeq: number
}

export interface MultiplierApplied {
  readonly name: string
  /** Exact decimal, e.g. "1.5". */
  readonly factor: string
}

export interface BonusApplied {
  readonly achievement: string
  readonly xp: number
}

/** One award, explaining every number (ARCHITECTURE §3). JSON field names are public. */
export interface LedgerEntry {
  readonly event_id: string
  readonly seq: number
  readonly user_id: string
  readonly agent_name: string
  readonly action_type: string
  readonly base_points: number
  readonly multipliers: ReadonlyArray<MultiplierApplied>
  readonly streak_days: number
  readonly streak_multiplier: string
  /** Product of all multipliers before the cap, exact decimal. */
  readonly total_multiplier: string
  /** min(total_multiplier, cap), exact decimal. */
  readonly applied_multiplier: string
  /** floor(base_points × applied_multiplier). */
  readonly xp: number
  readonly bonuses: ReadonlyArray<BonusApplied>
  /** xp + sum of bonuses: what the user's totals and boards grew by. */
  readonly total_awarded: number
  readonly total_xp_after: number
  readonly level_before: number
  readonly level_after: number
  readonly rules_version: string
  /** The event's own timestamp (RFC 3339, as normalized ISO). */
  readonly event_time: string
  /** The JetStream timestamp (ISO). */
  readonly stream_time: string
}

/** One board a correction moved, and by how much (negative: down). */
export interface BoardChange {
  readonly board: BoardName
  readonly window: Window
  readonly period: string
  readonly xp: number
}

/**
 * A correction's ledger entry (ARCHITECTURE §10): it explains itself — what was asked, by whom and
 * why, and every number it moved. `kind` tells it from an award entry (which has no `kind`).
 */
export interface CorrectionEntry {
  readonly kind: "correction"
  readonly correction_id: string
  readonly correction: "void" | "adjust"
  readonly seq: number
  readonly user_id: string
  /** The agent whose boards moved (a void: the voided event's; an adjust: the one named, or null). */
  readonly agent_name: string | null
  /** A void: the voided event and its seq; null for an adjust. */
  readonly event_id: string | null
  readonly event_seq: number | null
  readonly reason: string
  /** The `sub` of the admin who asked (null when published without one). */
  readonly by: string | null
  /** What was asked: an adjust's xp, a void's minus the award. */
  readonly requested_xp: number
  /** The change of the user's total XP: the request, unless it would take the total below 0. */
  readonly xp: number
  /** Every board score moved (closed periods are not: they stay as archived). */
  readonly boards: ReadonlyArray<BoardChange>
  readonly total_xp_after: number
  readonly level_before: number
  readonly level_after: number
  readonly rules_version: string
  /** The JetStream timestamp (ISO). */
  readonly stream_time: string
}

/** A user's ledger holds awards and corrections, newest first. */
export type LedgerItem = LedgerEntry | CorrectionEntry

/** One row of a leaderboard as clients see it (ARCHITECTURE §6/§7). */
export interface RankedEntry {
  readonly rank: number
  readonly user_id: string
  readonly username: string
  readonly xp: number
  readonly level: number
  /**
   * The user chose visibility "private" (ARCHITECTURE §11). Internal: the gateway renders such a
   * row as {user_id: null, username: null, anonymous: true} to anyone but the user and admin
   * (gateway/protocol/Visibility.ts); user_id and username here stay real for that decision.
   */
  readonly private?: true
}
