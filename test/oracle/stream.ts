// Reads a JetStream stream back, in order, as the oracle's input: each stored message with its
// sequence, JetStream timestamp (ms) and Nats-Msg-Id — the facts the service decides by. Messages
// erased (§11) are not there to read, the last ones included: the read ends when the consumer has
// nothing pending, and then holds every message the stream still stores.
import type { JetStreamClient, JetStreamManager } from "@nats-io/jetstream"
import { DeliverPolicy } from "@nats-io/jetstream"
import type { StoredMessage } from "./Oracle.js"
import { nextStoredOn } from "../../src/adapters/nats/EventSource.js"

export const readStream = async (js: JetStreamClient, jsm: JetStreamManager, stream: string, fromSeq = 1): Promise<Array<StoredMessage>> => {
  const last = (await jsm.streams.info(stream)).state.last_seq
  const out: Array<StoredMessage> = []
  // Nothing stored from fromSeq on (also when the stream's last messages were erased: last_seq stays): a consumer would wait forever.
  if (last < fromSeq || (await nextStoredOn(jsm, stream)(fromSeq)) === null) return out
  const consumer = await js.consumers.get(stream, { deliver_policy: DeliverPolicy.StartSequence, opt_start_seq: fromSeq })
  const messages = await consumer.consume({ max_messages: 4096 })
  const deadline = setTimeout(() => void messages.close(), 300_000)
  try {
    for await (const m of messages) {
      out.push({
        seq: m.info.streamSequence,
        streamMs: Number(m.timestampNanos / 1_000_000n), // exact: the double in m.info can floor to the wrong ms
        msgId: m.headers?.get("Nats-Msg-Id") || undefined,
        data: m.data,
        subject: m.subject
      })
      if (m.info.streamSequence >= last || m.info.pending === 0) break
    }
  } finally {
    clearTimeout(deadline)
    await messages.close()
  }
  if (out[out.length - 1]?.seq !== last) {
    // The stream's last messages were erased: what it stores from fromSeq on must all have been read.
    const st = (await jsm.streams.info(stream)).state
    if (fromSeq > st.first_seq || st.last_seq !== last || out.length !== st.messages) {
      throw new Error(`read ${stream} up to ${out[out.length - 1]?.seq ?? 0} (${out.length} messages), expected ${last} (${st.messages} stored)`)
    }
  }
  return out
}
