// Partitioned mode (ARCHITECTURE §9): what a partition owner answers about its part of a board
// (actors/PartitionReads.ts), and the merged reads a stateless gateway serves from all partitions
// (adapters/nats/MergedReads.ts: scatter-gather + domain/MergedBoard.ts).
import type { BoardKey, Window } from "../domain/Model.js"
import type { BoardCursor, RankedEntry } from "./ReadModel.js"

/** One board entry of a partition: the merge key (xp, seq, userId) and what a row shows. */
export interface PartitionRow {
  readonly userId: string
  readonly xp: number
  readonly seq: number
  readonly username: string
  readonly level: number
  readonly private?: true
}

/** Where a partition's pipeline stands (the `state` query). */
export interface PartitionState {
  readonly partition: number
  readonly phase: string
  readonly applied: number
  readonly streamTimeMs: number
  readonly users: number
}

export interface MergedPage {
  readonly key: BoardKey
  /** The low watermark of §9: the lowest seq the answering partitions had applied. */
  readonly seq: number
  readonly total: number
  readonly entries: ReadonlyArray<RankedEntry & { readonly reached_seq: number }>
  /** Merged from the partitions' archives of a closed period (seq 0). */
  readonly closed?: true
}

export interface MergedAround {
  readonly key: BoardKey
  readonly seq: number
  readonly total: number
  readonly user: RankedEntry | null
  readonly entries: ReadonlyArray<RankedEntry>
}

/** A read that some partitions could not answer (no owner yet, or one handing over): 503 + Retry-After. */
export interface PartitionsUnavailable {
  readonly _tag: "PartitionUnavailable"
  readonly partitions: ReadonlyArray<number>
  readonly message: string
}

export const isPartitionsUnavailable = (e: unknown): e is PartitionsUnavailable =>
  typeof e === "object" && e !== null && (e as { _tag?: unknown })._tag === "PartitionUnavailable"

/** Exact global board reads over every partition (they reject with PartitionsUnavailable). */
export interface MergedReadsPort {
  readonly partitions: number
  /**
   * A keyset page; `period` null = the current period (the latest any partition reports). A closed
   * period is merged from the partitions' archives of it (seq 0, as one process answers it); null
   * when no partition holds that period (never archived: the single process's 404).
   */
  page(board: string, window: Window, period: string | null, after: BoardCursor | null, limit: number): Promise<MergedPage | null>
  /** A user's rank and neighbours (user null: no rank there); null as for `page`. */
  around(board: string, window: Window, period: string | null, userId: string, radius: number): Promise<MergedAround | null>
  /**
   * A group board (`group:<id>`, §11): its members ranked by their score on the global board of
   * the window, merged exactly across the partitions they live on; `members` as the group has them.
   */
  groupPage(board: string, members: ReadonlyArray<string>, window: Window, period: string | null, after: BoardCursor | null, limit: number): Promise<MergedPage | null>
  /** A member's rank and neighbours on a group board (user null when not a member or without a score); null as for `page`. */
  groupAround(board: string, members: ReadonlyArray<string>, window: Window, period: string | null, userId: string, radius: number): Promise<MergedAround | null>
  /** The user's profile core from its partition's owner (ranks are not merged yet), null when unknown. */
  profile(userId: string): Promise<unknown>
  states(): Promise<ReadonlyArray<PartitionState>>
}
