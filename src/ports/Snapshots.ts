// Snapshots: the checkpoint (last applied seq), the users' states, and closed periods' archives.
// The Postgres adapter implements it (adapters/postgres/SnapshotStore.ts); a write is one
// transaction — a consistent cut or nothing.
import type { Effect } from "effect"
import type { PortFailure } from "./Failure.js"

export interface Checkpoint {
  readonly stream: string
  readonly streamCreated: string
  readonly seq: number
  readonly streamTimeMs: number
  readonly rulesVersion: string
  readonly users: number
  /** Bytes of the last base and of the deltas written since (when the next base pays off). */
  readonly baseBytes: number
  readonly deltaBytes: number
  /**
   * The projection (§10 re-projection) the snapshot belongs to. A write names the projection its
   * pipeline scores; the store refuses it once another projection is current (a switch happened).
   */
  readonly projection?: number
}

/** One closed period's final ranking, in rank order. */
export interface PeriodArchive {
  readonly board: string
  readonly window: string
  readonly period: string
  readonly closedAtSeq: number
  readonly entries: ReadonlyArray<{ userId: string; username: string; xp: number; seq: number; level: number }>
}

export interface SnapshotWrite {
  /** users = every user held at the cut; baseBytes/deltaBytes as they stand after this write. */
  readonly checkpoint: Checkpoint
  /**
   * Users as binary chunks (domain/state/SnapshotCodec.ts): a base holds every user and replaces
   * every stored chunk; a delta holds the users changed since the last cut and adds to them.
   */
  readonly chunks: ReadonlyArray<Uint8Array>
  readonly base: boolean
  /** Users written in these chunks. */
  readonly users: number
  readonly archives: ReadonlyArray<PeriodArchive>
}

/** Where a row stands in a ranking: its score and the seq that set it (§4's order key). */
export interface ArchiveKey { readonly xp: number; readonly seq: number }

/**
 * Rows of an archived period by their place in §4's order rather than by rank: the first `limit`
 * ranked after `after` (null: from the top), or the `limit` ranked just before (better than)
 * `before`, in rank order. A keyset page, and the neighbours of a key (merged reads, around-me).
 */
export type ArchiveKeyRead =
  | { readonly after: ArchiveKey | null; readonly limit: number }
  | { readonly before: ArchiveKey; readonly limit: number }

/** A page of a closed period's archived ranking. */
export interface ArchivedBoard {
  readonly entries: number
  readonly rows: ReadonlyArray<{ rank: number; user_id: string; username: string; xp: number; level: number; reached_seq: number }>
}

export interface SnapshotStore {
  /** The last committed checkpoint, null before the first snapshot. */
  readonly readCheckpoint: Effect.Effect<Checkpoint | null, PortFailure>
  /** Every stored chunk, oldest first, one at a time (bounded memory); returns how many and their bytes. */
  loadChunks(onChunk: (bytes: Uint8Array) => void): Effect.Effect<{ readonly chunks: number; readonly bytes: number }, PortFailure>
  /**
   * User states written before chunks existed (one JSON document each), in batches; read before
   * the chunks, which are newer. None once a base has been written.
   */
  loadLegacyUsers(onBatch: (states: ReadonlyArray<string>) => void): Effect.Effect<number, PortFailure>
  /** Chunks, archives and checkpoint in one transaction. */
  write(w: SnapshotWrite): Effect.Effect<void, PortFailure>
  /** A closed period's archived ranking page (null if that period was never archived). */
  readArchive(board: string, window: string, period: string, offset: number, limit: number): Effect.Effect<ArchivedBoard | null, PortFailure>
  /**
   * The archived rows of `userIds` (at most 10,000: a group's members) on a closed period, in rank
   * order (`entries`: how many); null when the period was never archived. A closed group board.
   */
  readArchiveOf(board: string, window: string, period: string, userIds: ReadonlyArray<string>): Effect.Effect<ArchivedBoard | null, PortFailure>
  /** A closed period's archived rows by key (`entries`: the period's size); null if that period was never archived. */
  readArchiveByKey(board: string, window: string, period: string, read: ArchiveKeyRead): Effect.Effect<ArchivedBoard | null, PortFailure>
}
