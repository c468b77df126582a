// Erasure (ARCHITECTURE §11 "Privacy"): the durable record of each erasure and its steps (Postgres),
// and what the erasure actor (actors/Erasures.ts) needs from the stream, the analytics store and
// the running pipeline. Every step is idempotent, so a run killed at any point resumes at its step.
import type { ErasureMessage } from "../domain/Erasure.js"

/**
 * The steps in order: publish the erasure message (its seq is recorded), wait until the pipeline
 * applied it (the user left the in-memory state), until a snapshot past it is committed (a base:
 * no stored chunk holds the user), scrub Postgres (shares, period archives), ClickHouse (rows
 * deleted, their seqs recorded first), then erase the stream messages at those seqs.
 */
export type ErasureStep = "publish" | "apply" | "snapshot" | "postgres" | "clickhouse" | "stream" | "done"
export const ERASURE_STEPS: ReadonlyArray<ErasureStep> = ["publish", "apply", "snapshot", "postgres", "clickhouse", "stream", "done"]

export interface ErasureRecord {
  readonly id: string
  /** Null once done: the record keeps no user id after the erasure. */
  readonly userId: string | null
  /** The step to run next ("done": finished). */
  readonly step: ErasureStep
  /** Seq of the erasure message in the stream (null before it is published). */
  readonly eraseSeq: number | null
  /** The user's message seqs to erase from the stream (recorded before their ClickHouse rows go). */
  readonly streamSeqs: ReadonlyArray<number> | null
  /** Seqs of the dead letters that carry the user's rejected events (in the dead-letter stream). */
  readonly letterSeqs: ReadonlyArray<number> | null
  readonly messagesErased: number
  /** sha256 of `<id>:<sub>` of whoever asked: lets them read the record without it naming them. */
  readonly requesterHash: string
  readonly requestedAt: string
  readonly completedAt: string | null
}

export interface ErasureStore {
  /** A new erasure of `userId`, or the one still running for them (one at a time per user). */
  create(userId: string, requesterSub: string): Promise<ErasureRecord>
  get(id: string): Promise<ErasureRecord | null>
  /** True when `sub` asked for this erasure (its requesterHash). */
  askedBy(r: ErasureRecord, sub: string): boolean
  /** Erasures not done, oldest first (resumed at start). */
  pending(): Promise<ReadonlyArray<ErasureRecord>>
  /** Records a finished step: the next step, and what it learned. */
  advance(id: string, next: ErasureStep, learned?: { eraseSeq?: number; streamSeqs?: ReadonlyArray<number>; letterSeqs?: ReadonlyArray<number> }): Promise<void>
  /** Removes the user from Postgres: their shares, their rows of archived period rankings (re-ranked) and, in partitioned mode, their award rows below `beforeSeq` (the erasure message). (Groups: GroupBoards.forgetUser.) */
  scrub(userId: string, beforeSeq: number): Promise<void>
  /**
   * Records that the clickhouse step is done and the stream step comes next, unless a retroactive
   * re-projection (§10) is open (pending or built) or the current projection is no longer
   * `projection`: false then, nothing changed. The stream step is the one that cannot be redone
   * (the erasure message goes too), so it never overlaps a shadow build: one that starts refuses
   * while an erasure is at it (ProjectionStore.begin, same lock).
   */
  enterStream(id: string, projection: number): Promise<boolean>
  /** The projection in force, and whether a retroactive re-projection is pending or built. */
  projections(): Promise<{ readonly current: number; readonly open: boolean }>
  /**
   * Seqs of the stream messages of erasures not done yet (their recorded seqs and the erasure
   * message): rows of a re-projection at these seqs are not loaded (§10 × §11).
   */
  erasingSeqs(): Promise<ReadonlySet<number>>
  /** Finishes: step done, user id dropped, completion time. */
  complete(id: string, messagesErased: number): Promise<void>
}

/** The stream side: the erasure message in, the user's messages out. */
export interface ErasureStream {
  /** Publishes the erasure message on `<prefix>.erasures` (Nats-Msg-Id erasure/<id>: a re-publish is a duplicate); its seq. */
  publish(m: ErasureMessage): Promise<number>
  /**
   * The user's rejected events: the dead letters whose body names them (user_id), and the event
   * stream seqs they came from (Arena-Seq). Scans the dead-letter stream.
   */
  rejectedOf(userId: string): Promise<ReadonlyArray<{ readonly letter: number; readonly event: number }>>
  /**
   * Seqs below `beforeSeq` of the user's settings messages (`<prefix>.settings` whose user_id
   * names them; settings leave no analytics row to find them by). Scans that subject.
   */
  settingsOf(userId: string, beforeSeq: number): Promise<ReadonlyArray<number>>
  /** Erases messages of the event stream or the dead-letter stream (JetStream message erase: overwritten, not only marked deleted); returns how many were still there. */
  erase(stream: "events" | "dead_letters", seqs: ReadonlyArray<number>): Promise<number>
}

/** The analytics side (ClickHouse). */
export interface ErasureAnalytics {
  /** Resolves once every record with seq ≤ seq is in the store. */
  awaitDurable(seq: number): Promise<void>
  /** Seqs of the user's awards and corrections below `beforeSeq` (the stream messages that named them). */
  userSeqs(userId: string, beforeSeq: number): Promise<ReadonlyArray<number>>
  /** Deletes every record of the messages at `seqs` from every table and rebuilds the rollups they fed. */
  deleteSeqs(seqs: ReadonlyArray<number>): Promise<void>
  /** The store's side as a wait sees it (watermarks, buffer, last error), named in the erasure's log when a step waits long. */
  describe?(): string
}

/** The running pipeline, as the erasure actor watches it (null while it loads or restarts). */
export interface ErasurePipeline {
  /** Last applied seq, or null while no pipeline runs. */
  applied(): number | null
  /** Seq of the last committed snapshot, or null while no pipeline runs. */
  snapshotSeq(): number | null
  /** Starts a snapshot cut now if none is in flight. */
  requestSnapshot(): void
}

/** What the gateway shows of an erasure (GET /v1/erasures/{id}). */
export interface ErasureView {
  readonly erasure_id: string
  readonly status: "pending" | "done"
  readonly step: ErasureStep
  readonly steps_done: ReadonlyArray<ErasureStep>
  readonly erase_seq: number | null
  readonly messages_erased: number
  readonly requested_at: string
  readonly completed_at: string | null
}

/** The gateway's port. */
export interface ErasurePort {
  /** Records the erasure (durably) and wakes the actor. */
  request(userId: string, requesterSub: string): Promise<ErasureView>
  /** The erasure if the viewer asked for it (or is admin), else null. */
  get(id: string, viewer: { readonly sub: string; readonly admin: boolean }): Promise<ErasureView | null>
}

export const erasureView = (r: ErasureRecord): ErasureView => ({
  erasure_id: r.id,
  status: r.step === "done" ? "done" : "pending",
  step: r.step,
  steps_done: ERASURE_STEPS.slice(0, ERASURE_STEPS.indexOf(r.step)),
  erase_seq: r.eraseSeq,
  messages_erased: r.messagesErased,
  requested_at: r.requestedAt,
  completed_at: r.completedAt
})
