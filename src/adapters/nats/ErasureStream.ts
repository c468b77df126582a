// The stream side of an erasure: the erasure message goes into the event stream (on the events
// subject, Nats-Msg-Id erasure/<id>: domain/Erasure.ts), and the user's messages come out with
// JetStream's message erase ($JS.API.STREAM.MSG.DELETE with no_erase false: the stored bytes are
// overwritten, not only marked deleted). A message already gone counts as erased.
import type { JetStreamClient, JetStreamManager } from "@nats-io/jetstream"
import { JetStreamApiError } from "@nats-io/jetstream"
import { encodeErasureMessage, erasureMsgId } from "../../domain/Erasure.js"
import type { ErasureStream } from "../../ports/Erasures.js"
import { classifyNats } from "./NatsError.js"

const NO_MESSAGE_FOUND = 10037

export const makeErasureStream = (js: JetStreamClient, jsm: JetStreamManager, stream: string, subject: string): ErasureStream => ({
  async publish(m) {
    try {
      const ack = await js.publish(subject, encodeErasureMessage(m), { msgID: erasureMsgId(m.erasure_id), timeout: 10_000 })
      return ack.seq
    } catch (e) {
      throw classifyNats(e, `publishing erasure ${m.erasure_id}`)
    }
  },
  async erase(seqs) {
    let erased = 0
    for (const seq of seqs) {
      try {
        if (await jsm.streams.deleteMessage(stream, seq, true)) erased++
      } catch (e) {
        if (e instanceof JetStreamApiError && e.code === NO_MESSAGE_FOUND) continue
        throw classifyNats(e, `erasing message ${seq} of ${stream}`)
      }
    }
    return erased
  }
})
