// The ingest actor: decodes raw stream messages in order, drops replays by sequence, dead-letters
// what cannot be decoded, and deals events to the user shards; it also starts every cut.
import { Effect } from "effect"
import type { Scope } from "effect"
import type { RawBatch } from "../ports/EventSource.js"
import { admitMessage } from "../domain/StreamMessage.js"
import { spawn } from "./Actor.js"
import type { FailureLatch, Mailbox } from "./Actor.js"
import type { SequencerMsg } from "./Sequencer.js"
import { shardOf } from "./UserShard.js"
import type { Reject, ShardItem, ShardMsg } from "./UserShard.js"

export type IngestMsg = { readonly _tag: "Raw"; readonly batch: RawBatch } | { readonly _tag: "Cut" }

export interface IngestState {
  /** Last stream sequence handed to the shards (dead letters included). */
  applied: number
  /** Latest JetStream timestamp seen. */
  streamTimeMs: number
  /** Messages pending in the stream after the last batch (consumer lag). */
  pending: number
  /** Sequence numbers skipped because the stream no longer had them (retention). */
  gaps: number
}

export const spawnIngest = (
  state: IngestState,
  shards: ReadonlyArray<Mailbox<ShardMsg>>,
  sequencer: Mailbox<SequencerMsg>,
  latch: FailureLatch,
  onBatch: (s: IngestState) => void
): Effect.Effect<Mailbox<IngestMsg>, never, Scope.Scope> => {
  let batchId = 0
  let cutId = 0
  const n = shards.length

  const ingest = (batch: RawBatch) =>
    Effect.gen(function*() {
      const items: ShardItem[][] = Array.from({ length: n }, () => [])
      const rejects: Reject[] = []
      let any = false
      for (const raw of batch.events) {
        // Redeliveries and replays below the applied sequence count once: they are skipped here.
        if (raw.seq <= state.applied) continue
        if (raw.seq > state.applied + 1) state.gaps += raw.seq - state.applied - 1
        any = true
        state.applied = raw.seq
        if (raw.streamTimeMs > state.streamTimeMs) state.streamTimeMs = raw.streamTimeMs
        const a = admitMessage(raw.data, raw.msgId)
        if (!a.ok) {
          rejects.push({ seq: raw.seq, streamTimeMs: raw.streamTimeMs, reason: a.reason, message: a.message, eventId: a.eventId, data: raw.data })
          continue
        }
        items[shardOf(a.event.user_id, n)]!.push({ seq: raw.seq, streamTimeMs: raw.streamTimeMs, event: a.event, timeMs: a.timeMs, data: raw.data })
      }
      state.pending = batch.pending
      if (any) {
        batchId++
        yield* sequencer.send({ _tag: "Ingested", batchId, endSeq: state.applied, streamTimeMs: state.streamTimeMs, rejects })
        for (let s = 0; s < n; s++) yield* shards[s]!.send({ _tag: "Batch", batchId, items: items[s]! })
      }
      onBatch(state)
    })

  const cut = Effect.gen(function*() {
    cutId++
    yield* sequencer.send({ _tag: "CutStart", cutId, seq: state.applied, streamTimeMs: state.streamTimeMs })
    for (const s of shards) yield* s.send({ _tag: "Cut", cutId, streamTimeMs: state.streamTimeMs })
  })

  return spawn<IngestMsg>("ingest", 4, latch, (msgs) =>
    Effect.forEach(msgs, (m) => (m._tag === "Raw" ? ingest(m.batch) : cut), { discard: true }))
}
