// The EventSource port on JetStream: the stream's head (streams.info), and an ordered consumer from
// a given sequence that hands batches of raw messages on: one batch per socket read (setImmediate),
// at most `batchMax`, with backpressure.
import type { JetStreamClient, JetStreamManager, JsMsg } from "@nats-io/jetstream"
import { DeliverPolicy } from "@nats-io/jetstream"
import { Effect } from "effect"
import type { EventSource, RawBatch, RawEvent } from "../../ports/EventSource.js"
import { classifyNats } from "./NatsError.js"

const toRaw = (m: JsMsg): RawEvent => {
  const info = m.info
  return {
    seq: info.streamSequence,
    streamTimeMs: Math.floor(info.timestampNanos / 1_000_000),
    data: m.data,
    msgId: m.headers?.get("Nats-Msg-Id") || undefined,
    subject: m.subject
  }
}

/**
 * Consume `stream` from `startSeq` until interrupted. `onBatch` is awaited before more than
 * `batchMax` further messages are buffered, so a slow pipeline slows the pull, never memory.
 */
export const consumeFrom = (
  js: JetStreamClient,
  stream: string,
  startSeq: number,
  batchMax: number,
  onBatch: (batch: RawBatch) => Promise<void>
) =>
  Effect.acquireUseRelease(
    Effect.tryPromise({
      try: async () => {
        const consumer = await js.consumers.get(stream, {
          deliver_policy: DeliverPolicy.StartSequence,
          opt_start_seq: Math.max(1, startSeq)
        })
        return consumer.consume({ max_messages: Math.max(8192, batchMax * 8) })
      },
      catch: (e) => classifyNats(e, `starting ordered consumer on ${stream} at seq ${startSeq}`)
    }),
    (messages) =>
      Effect.tryPromise({
        try: async () => {
          let pending: RawEvent[] = []
          let lastPending = 0
          let busy: Promise<void> | null = null
          let failure: unknown = null
          const kick = (): void => {
            if (busy !== null || pending.length === 0 || failure !== null) return
            const events = pending
            pending = []
            busy = onBatch({ events, pending: lastPending })
              .catch((e: unknown) => { failure = e; void messages.close() })
              .finally(() => { busy = null; if (pending.length > 0) setImmediate(kick) })
          }
          for await (const m of messages) {
            pending.push(toRaw(m))
            lastPending = m.info.pending
            if (pending.length === 1) setImmediate(kick)
            while (pending.length >= batchMax && busy !== null) await busy
            if (pending.length >= batchMax) kick()
          }
          while (busy !== null) await busy
          if (failure !== null) throw failure
        },
        catch: (e) => classifyNats(e, `consuming ${stream}`)
      }),
    (messages) => Effect.promise(() => messages.close().then(() => undefined, () => undefined))
  )

/** The stream `stream` as the pipeline's (and backfill's) event source. */
export const makeEventSource = (nats: { readonly js: JetStreamClient; readonly jsm: JetStreamManager }, stream: string): EventSource => ({
  head: Effect.tryPromise({
    try: async () => {
      const info = await nats.jsm.streams.info(stream)
      return { name: stream, created: info.created, firstSeq: info.state.first_seq, lastSeq: info.state.last_seq, messages: info.state.messages }
    },
    catch: (e) => classifyNats(e, `reading stream ${stream}`)
  }),
  consumeFrom: (startSeq, batchMax, onBatch) => consumeFrom(nats.js, stream, startSeq, batchMax, onBatch)
})
