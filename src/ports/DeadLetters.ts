// Dead letters: where events that cannot be applied go, with their reason (implemented by the NATS
// adapter: ARENA_XP_DLQ, Nats-Msg-Id dlq:<seq> so a replay never dead-letters twice).
import type { Effect } from "effect"
import type { RejectReason } from "../domain/Model.js"
import type { PortFailure } from "./Failure.js"

export interface DeadLetterPort {
  /** Publishes in the background (retried); never blocks the pipeline. */
  publish(seq: number, reason: RejectReason, message: string, data: Uint8Array): void
  /** Succeeds once every letter published so far is stored; fails if one could not be after retries. */
  readonly settled: Effect.Effect<void, PortFailure>
}
