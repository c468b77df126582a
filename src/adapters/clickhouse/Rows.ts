// Records ⇄ ClickHouse rows: column lists in table order (RowBinary.ts writes the rows in this
// order), month partitions, and the ledger entry read back exactly as the engine wrote it (times
// as ISO, decimals as strings).
import type { BoardChange, CorrectionEntry, LedgerEntry } from "../../domain/Model.js"
import { parseBoardKeyString } from "../../domain/BoardKeys.js"
import type { AnalyticsRecord } from "../../ports/Analytics.js"

/** "2026-11-26T10:00:00.123Z" → "2026-11-26 10:00:00.123" (DateTime64(3, 'UTC') text). */
export const toChTime = (iso: string): string => {
  if (iso.length === 24 && iso.charCodeAt(10) === 84 /* T */ && iso.charCodeAt(23) === 90 /* Z */) {
    return iso.slice(0, 10) + " " + iso.slice(11, 23)
  }
  const ms = Date.parse(iso)
  if (Number.isNaN(ms)) throw new Error(`not an ISO timestamp: ${JSON.stringify(iso)}`)
  const n = new Date(ms).toISOString()
  return n.slice(0, 10) + " " + n.slice(11, 23)
}

/** "2026-11-26 10:00:00.123" → "2026-11-26T10:00:00.123Z" (what Date#toISOString gives). */
export const fromChTime = (s: string): string => s.slice(0, 10) + "T" + s.slice(11, 23) + "Z"

const d = (s: string, i: number) => s.charCodeAt(i) - 48

/** The month partition of a record (YYYYMM of its stream_time, UTC); no allocation on the ISO fast path. */
export const monthOf = (iso: string): number => {
  if (iso.length === 24 && iso.charCodeAt(10) === 84 && iso.charCodeAt(23) === 90) {
    return d(iso, 0) * 100000 + d(iso, 1) * 10000 + d(iso, 2) * 1000 + d(iso, 3) * 100 + d(iso, 5) * 10 + d(iso, 6)
  }
  const t = toChTime(iso)
  return Number(t.slice(0, 4)) * 100 + Number(t.slice(5, 7))
}

export const AWARD_COLUMNS = [
  "seq", "event_id", "user_id", "agent_name", "action_type", "base_points", "multiplier_names", "multiplier_factors",
  "streak_days", "streak_multiplier", "total_multiplier", "applied_multiplier", "xp", "bonus_achievements", "bonus_xp",
  "total_awarded", "total_xp_after", "level_before", "level_after", "rules_version", "event_time", "stream_time"
] as const

/** One award row as JSONEachRow gives it (64-bit integers may arrive as strings from a server). */
export interface AwardRowJson {
  seq: number | string
  event_id: string
  user_id: string
  agent_name: string
  action_type: string
  base_points: number
  multiplier_names: string[]
  multiplier_factors: string[]
  streak_days: number
  streak_multiplier: string
  total_multiplier: string
  applied_multiplier: string
  xp: number
  bonus_achievements: string[]
  bonus_xp: number[]
  total_awarded: number
  total_xp_after: number | string
  level_before: number
  level_after: number
  rules_version: string
  event_time: string
  stream_time: string
}

export const entryOfRow = (r: AwardRowJson): LedgerEntry => ({
  event_id: r.event_id,
  seq: Number(r.seq),
  user_id: r.user_id,
  agent_name: r.agent_name,
  action_type: r.action_type,
  base_points: r.base_points,
  multipliers: r.multiplier_names.map((name, i) => ({ name, factor: r.multiplier_factors[i] ?? "" })),
  streak_days: r.streak_days,
  streak_multiplier: r.streak_multiplier,
  total_multiplier: r.total_multiplier,
  applied_multiplier: r.applied_multiplier,
  xp: r.xp,
  bonuses: r.bonus_achievements.map((achievement, i) => ({ achievement, xp: r.bonus_xp[i] ?? 0 })),
  total_awarded: r.total_awarded,
  total_xp_after: Number(r.total_xp_after),
  level_before: r.level_before,
  level_after: r.level_after,
  rules_version: r.rules_version,
  event_time: fromChTime(r.event_time),
  stream_time: fromChTime(r.stream_time)
})

export const CORRECTION_COLUMNS = [
  "seq", "correction_id", "correction", "user_id", "agent_name", "event_id", "event_seq", "reason", "requested_by", "requested_xp",
  "xp", "board_keys", "board_xp", "total_xp_after", "level_before", "level_after", "rules_version", "stream_time"
] as const

/** One corrections row as JSONEachRow gives it (64-bit integers may arrive as strings from a server). */
export interface CorrectionRowJson {
  seq: number | string
  correction_id: string
  correction: string
  user_id: string
  agent_name: string
  event_id: string
  event_seq: number | string
  reason: string
  requested_by: string
  requested_xp: number | string
  xp: number | string
  board_keys: string[]
  board_xp: Array<number | string>
  total_xp_after: number | string
  level_before: number
  level_after: number
  rules_version: string
  stream_time: string
}

export const correctionOfRow = (r: CorrectionRowJson): CorrectionEntry => ({
  kind: "correction",
  correction_id: r.correction_id,
  correction: r.correction === "void" ? "void" : "adjust",
  seq: Number(r.seq),
  user_id: r.user_id,
  agent_name: r.agent_name === "" ? null : r.agent_name,
  event_id: r.event_id === "" ? null : r.event_id,
  event_seq: Number(r.event_seq) === 0 ? null : Number(r.event_seq),
  reason: r.reason,
  by: r.requested_by === "" ? null : r.requested_by,
  requested_xp: Number(r.requested_xp),
  xp: Number(r.xp),
  boards: r.board_keys.flatMap((k, i): Array<BoardChange> => {
    const b = parseBoardKeyString(k)
    return b === null ? [] : [{ board: b.board, window: b.window, period: b.period, xp: Number(r.board_xp[i] ?? 0) }]
  }),
  total_xp_after: Number(r.total_xp_after),
  level_before: r.level_before,
  level_after: r.level_after,
  rules_version: r.rules_version,
  stream_time: fromChTime(r.stream_time)
})

export interface TableSpec {
  readonly table: string
  readonly columns: ReadonlyArray<string>
}

export const TABLES: Readonly<Record<AnalyticsRecord["kind"], TableSpec>> = {
  // metadata (0004_award_metadata.sql) is written, not read back: the ledger API has no use for it.
  // projection (0005_projections.sql), last in every row: the scoring the row belongs to; reads
  // filter on the current one (ARCHITECTURE §10 "Re-projection").
  award: { table: "awards", columns: [...AWARD_COLUMNS, "metadata", "projection"] },
  correction: { table: "corrections", columns: [...CORRECTION_COLUMNS, "projection"] },
  level_up: { table: "level_ups", columns: ["seq", "user_id", "from_level", "to_level", "stream_time", "projection"] },
  achievement: { table: "achievements", columns: ["seq", "user_id", "achievement", "bonus", "stream_time", "projection"] },
  rejection: { table: "rejections", columns: ["seq", "reason", "message", "event_id", "stream_time", "projection"] }
}

export const streamTimeOf = (r: AnalyticsRecord): string => (r.kind === "award" || r.kind === "correction" ? r.entry.stream_time : r.stream_time)
