// Dead letters: where events that cannot be applied go, with their reason (implemented by the NATS
// adapter: ARENA_XP_DLQ, Nats-Msg-Id dlq:<seq> so a replay never dead-letters twice). A letter is
// never dropped: it is retried until stored, and `settled` keeps failing until then, so no snapshot
// commits past it.
import type { Effect } from "effect"
import type { RejectReason } from "../domain/Model.js"
import type { PortFailure } from "./Failure.js"

/** What readiness reports of the letters not yet stored. */
export interface DeadLetterHealth {
  /** Letters published but not yet acked by the DLQ stream. */
  readonly unstored: number
  /** Failed publish rounds in a row (0 while the DLQ accepts letters). */
  readonly attempts: number
  readonly lastError: string | null
}

export interface DeadLetterPort {
  /** Publishes in the background, in seq order, retried until stored; never blocks the pipeline. */
  publish(seq: number, reason: RejectReason, message: string, data: Uint8Array): void
  /**
   * Succeeds once every letter published so far is stored. Fails (with the reason) while one of them
   * is failing to be stored, and keeps failing until it is: the caller retries.
   */
  readonly settled: Effect.Effect<void, PortFailure>
  readonly health: DeadLetterHealth
  /** Stops retrying (the pipeline run that owns these letters ended; a replay publishes them again). */
  close(): void
}
