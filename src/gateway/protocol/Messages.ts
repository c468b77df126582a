// The WebSocket wire messages of /ws/leaderboard (ARCHITECTURE §7). Each is serialized once per
// topic and shared by every subscriber, so builders return the JSON text directly.
import type { Window } from "../../domain/Model.js"
import type { RankedEntry } from "../../ports/ReadModel.js"
import type { DeltaBody, DeltaChange } from "./Delta.js"

export interface SnapshotMessage {
  readonly type: "snapshot"
  readonly board: string
  readonly window: Window
  readonly period: string
  readonly epoch: string
  readonly seq: number
  readonly entries: ReadonlyArray<RankedEntry>
}

export interface DeltaMessage {
  readonly type: "delta"
  readonly board: string
  readonly window: Window
  readonly period: string
  readonly epoch: string
  readonly prev_seq: number
  readonly seq: number
  readonly changes: ReadonlyArray<DeltaChange>
  readonly removed: ReadonlyArray<string>
}

export type LeaderboardMessage = SnapshotMessage | DeltaMessage

/**
 * /ws/leaderboard/{board}/around/{user_id}: the same messages plus the window they describe —
 * whose window (`user_id`, `radius`) and the rank of its first entry (`first_rank`, null while the
 * user has no rank on the board and the window is empty).
 */
export interface AroundFields {
  readonly user_id: string
  readonly radius: number
  readonly first_rank: number | null
}
export type AroundSnapshotMessage = SnapshotMessage & AroundFields
export type AroundDeltaMessage = DeltaMessage & AroundFields
export type AroundMessage = AroundSnapshotMessage | AroundDeltaMessage

export interface TopicHeader {
  readonly board: string
  readonly window: Window
  readonly period: string
  readonly epoch: string
  /** Around-me topics: whose window, and its radius. */
  readonly around?: { readonly user_id: string; readonly radius: number }
}

/** The around-me fields of a message (after seq), or nothing for a top-N topic. */
const aroundPart = (h: TopicHeader, firstRank: number | null): Partial<AroundFields> =>
  h.around === undefined ? {} : { user_id: h.around.user_id, radius: h.around.radius, first_rank: firstRank }

export const snapshotJson = (h: TopicHeader, seq: number, entries: ReadonlyArray<RankedEntry>, firstRank: number | null = null): string => {
  const m: SnapshotMessage = { type: "snapshot", board: h.board, window: h.window, period: h.period, epoch: h.epoch, seq, ...aroundPart(h, firstRank), entries }
  return JSON.stringify(m)
}

export const deltaJson = (h: TopicHeader, prevSeq: number, seq: number, d: DeltaBody, firstRank: number | null = null): string => {
  const m: DeltaMessage = {
    type: "delta", board: h.board, window: h.window, period: h.period, epoch: h.epoch,
    prev_seq: prevSeq, seq, ...aroundPart(h, firstRank), changes: d.changes, removed: d.removed
  }
  return JSON.stringify(m)
}
