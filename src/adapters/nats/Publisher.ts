// Publishing into JetStream: validated events from POST /v1/events (Nats-Msg-Id = event_id, through
// the lean JetStreamPublisher with a bounded number of acks in flight). Dead letters: DeadLetters.ts.
import type { JetStreamClient } from "@nats-io/jetstream"
import type { NatsConnection } from "@nats-io/transport-node"
import type { IngestPort, PublishResult, Validate } from "../../ports/Ingest.js"
import { DEFAULT_MAX_IN_FLIGHT, DEFAULT_PUBLISH_TIMEOUT_MS, JetStreamPublisher } from "./JetStreamPublisher.js"
import type { PubItem, PubOutcome } from "./JetStreamPublisher.js"

/** Runs `task` over `items` with at most `limit` in flight, keeping input order in the result. */
export const mapBounded = async <A, B>(items: ReadonlyArray<A>, limit: number, task: (a: A, i: number) => Promise<B>): Promise<B[]> => {
  const out = new Array<B>(items.length)
  let next = 0
  const worker = async () => {
    while (next < items.length) {
      const i = next++
      out[i] = await task(items[i] as A, i)
    }
  }
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker))
  return out
}

/**
 * Where a valid event is published: one subject, or one per user (partitioned mode:
 * `arena.xp.events.<user token>`, domain/Partition.ts `ingestSubject`, which the servers' mapping
 * puts on the user's partition; never the bare subject, which no stream captures in that mode).
 */
export type IngestSubject = string | ((userId: string) => string)

/**
 * HTTP ingest: validates each item, then publishes the valid ones as one batch through the lean
 * publisher (one timer per request, at most `maxInFlight` publishes awaiting acks across requests).
 * Every item gets an outcome: accepted/duplicate only with a PubAck from the stream, else rejected
 * with the reason (`unavailable` when retrying can help, `publish_failed` when it cannot).
 */
export const makeIngest = (
  js: JetStreamClient,
  subject: IngestSubject,
  validate: Validate,
  maxInFlight = DEFAULT_MAX_IN_FLIGHT,
  timeoutMs = DEFAULT_PUBLISH_TIMEOUT_MS
): IngestPort & { readonly publisher: JetStreamPublisher } => {
  const nc = (js as unknown as { nc?: NatsConnection }).nc
  if (nc === undefined) throw new Error("makeIngest: the JetStream client does not expose its NATS connection (nats.js 3.x `js.nc`)")
  const publisher = new JetStreamPublisher(nc, { maxInFlight, timeoutMs })
  return {
    publisher,
    publish: async (items) => {
      const results = new Array<PublishResult>(items.length)
      const toSend: PubItem[] = []
      const at: number[] = []
      for (let i = 0; i < items.length; i++) {
        const v = validate(items[i])
        if (!v.ok) {
          results[i] = { status: "rejected", event_id: v.eventId, error: { code: v.reason, message: v.message, details: v.issues } }
          continue
        }
        toSend.push(typeof subject === "string" ? { msgId: v.eventId, data: v.json } : { msgId: v.eventId, data: v.json, subject: subject(v.userId) })
        at.push(i)
      }
      const outcomes = await publisher.publishBatch(typeof subject === "string" ? subject : "", toSend)
      for (let k = 0; k < outcomes.length; k++) {
        const o = outcomes[k] as PubOutcome
        const i = at[k] as number
        const eventId = (toSend[k] as PubItem).msgId
        results[i] = o.ok
          ? { status: o.duplicate ? "duplicate" : "accepted", event_id: eventId, seq: o.seq }
          : { status: "rejected", event_id: eventId, error: { code: o.retryable ? "unavailable" : "publish_failed", message: `the event was not stored: ${o.message}`, details: [] } }
      }
      return results
    }
  }
}
