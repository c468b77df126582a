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
  readonly checkpoint: Omit<Checkpoint, "users">
  /** Users changed since the last snapshot: id, state JSON, the user's last applied seq. */
  readonly users: ReadonlyArray<{ readonly id: string; readonly json: string; readonly seq: number }>
  readonly archives: ReadonlyArray<PeriodArchive>
}

/** A page of a closed period's archived ranking. */
export interface ArchivedBoard {
  readonly entries: number
  readonly rows: ReadonlyArray<{ rank: number; user_id: string; username: string; xp: number; level: number; reached_seq: number }>
}

export interface SnapshotStore {
  /** The last committed checkpoint, null before the first snapshot. */
  readonly readCheckpoint: Effect.Effect<Checkpoint | null, PortFailure>
  /** Streams every stored user state JSON to `onChunk`, in chunks (bounded memory); returns the count. */
  loadUsers(onChunk: (states: ReadonlyArray<string>) => void): Effect.Effect<number, PortFailure>
  /** Users, archives and checkpoint in one transaction. */
  write(w: SnapshotWrite): Effect.Effect<void, PortFailure>
  /** A closed period's archived ranking page (null if that period was never archived). */
  readArchive(board: string, window: string, period: string, offset: number, limit: number): Effect.Effect<ArchivedBoard | null, PortFailure>
}
