// Publishing into JetStream: validated events from POST /v1/events (Nats-Msg-Id = event_id,
// a bounded number of acks in flight) and dead letters (Nats-Msg-Id = dlq:<seq>, so a replay
// after a crash never dead-letters twice).
import type { JetStreamClient } from "@nats-io/jetstream"
import { headers } from "@nats-io/transport-node"
import type { Issue, RejectReason } from "../../domain/model.js"
import type { IngestPort, PublishResult } from "../../gateway/ports.js"
import { classifyNats } from "./NatsError.js"

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

/** Decides whether one parsed item may be published: the event JSON to publish, or why not. */
export type Validate = (item: unknown) =>
  | { ok: true; eventId: string; json: string }
  | { ok: false; eventId: string | null; reason: RejectReason; message: string; issues: ReadonlyArray<Issue> }

export const makeIngest = (js: JetStreamClient, subject: string, validate: Validate, inFlight = 256): IngestPort => ({
  publish: (items) =>
    mapBounded(items, inFlight, async (item): Promise<PublishResult> => {
      const v = validate(item)
      if (!v.ok) {
        return { status: "rejected", event_id: v.eventId, error: { code: v.reason, message: v.message, details: v.issues } }
      }
      try {
        const ack = await js.publish(subject, v.json, { msgID: v.eventId, timeout: 10_000 })
        return { status: ack.duplicate ? "duplicate" : "accepted", event_id: v.eventId, seq: ack.seq }
      } catch (e) {
        const err = classifyNats(e, "publishing to JetStream")
        return {
          status: "rejected",
          event_id: v.eventId,
          error: { code: err.retryable ? "unavailable" : "publish_failed", message: "the event could not be stored; retry later", details: [] }
        }
      }
    })
})

/** Dead-letter publisher; `settled()` resolves once every letter published so far is acked. */
export class DeadLetters {
  private readonly inflight = new Set<Promise<unknown>>()
  private failure: unknown = null
  constructor(private readonly js: JetStreamClient, private readonly subject: string) {}

  publish(seq: number, reason: RejectReason, message: string, data: Uint8Array): void {
    const h = headers()
    h.set("Arena-Reason", reason)
    // Header values must stay on one line: a hostile message cannot inject headers. Nor may a value
    // say "Nats-…": nats-server 2.9 finds header names inside values, and a value mentioning
    // Nats-Msg-Id makes it ignore the real one — dlq:<seq> would no longer be deduplicated.
    h.set("Arena-Message", message.replace(/[\r\n]+/g, " ").replace(/(nats)-/gi, "$1_").slice(0, 512))
    h.set("Arena-Seq", String(seq))
    const p = this.publishWithRetry(seq, data, h)
    this.inflight.add(p)
    void p.finally(() => this.inflight.delete(p))
  }

  private async publishWithRetry(seq: number, data: Uint8Array, h: ReturnType<typeof headers>): Promise<void> {
    for (let attempt = 0; ; attempt++) {
      try {
        await this.js.publish(this.subject, data, { msgID: `dlq:${seq}`, headers: h, timeout: 10_000 })
        return
      } catch (e) {
        if (attempt >= 20) { this.failure = e; return }
        await new Promise((r) => setTimeout(r, Math.min(5_000, 100 * 2 ** attempt)))
      }
    }
  }

  /** Waits for all published letters; throws if one could not be stored after retries. */
  async settled(): Promise<void> {
    while (this.inflight.size > 0) await Promise.all([...this.inflight])
    if (this.failure !== null) {
      const f = this.failure
      this.failure = null
      throw classifyNats(f, "dead-lettering")
    }
  }
}
