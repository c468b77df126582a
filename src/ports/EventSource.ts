// The event source: the stream as the pipeline reads it (implemented by adapters/nats/EventSource.ts
// over JetStream). The pipeline asks where the stream stands, then consumes from a sequence.
import type { Effect } from "effect"
import type { MessageKind } from "../domain/MessageKind.js"
import type { PortFailure } from "./Failure.js"

/** One stored message as the pipeline sees it. */
export interface RawEvent {
  readonly seq: number
  /** JetStream timestamp, ms since epoch: "now" for every decision about this event. */
  readonly streamTimeMs: number
  readonly data: Uint8Array
  /** The Nats-Msg-Id header (should equal the event_id, or the correction_id of a correction). */
  readonly msgId: string | undefined
  /** What the message is, by its subject (domain/MessageKind.ts); absent means an event. */
  readonly kind?: MessageKind
  /** The subject: set only by a consumer with a filter (a partition's, for the subject check). */
  readonly subject?: string
}

export interface RawBatch {
  readonly events: ReadonlyArray<RawEvent>
  /** Messages still pending in the stream after the last one of this batch (0 = caught up). */
  readonly pending: number
}

/** Where the stream stands. */
export interface StreamHead {
  readonly name: string
  /** When the stream was created: a snapshot belongs to one incarnation of the stream. */
  readonly created: string
  readonly firstSeq: number
  readonly lastSeq: number
  readonly messages: number
}

export interface EventSource {
  readonly head: Effect.Effect<StreamHead, PortFailure>
  /**
   * Consume from `startSeq` until interrupted. `onBatch` is awaited before more than `batchMax`
   * further messages are buffered, so a slow consumer slows the pull, never memory.
   */
  consumeFrom(startSeq: number, batchMax: number, onBatch: (batch: RawBatch) => Promise<void>): Effect.Effect<void, PortFailure>
}

/**
 * The void messages stored at seqs ≤ `bound`, as [the void's seq, the seq of the event it names],
 * in stream order (§10: a fold that re-scores history reads them first; adapters/nats/VoidScan.ts).
 */
export type VoidScan = (bound: number) => Effect.Effect<ReadonlyArray<readonly [number, number]>, PortFailure>
