// The stream side of an erasure: the erasure message goes into the event stream (on its own
// subject `<prefix>.erasures`, Nats-Msg-Id erasure/<id>: domain/Erasure.ts), and the user's
// messages (events, corrections, settings changes) come out with
// JetStream's message erase ($JS.API.STREAM.MSG.DELETE with no_erase false: the stored bytes are
// overwritten, not only marked deleted). A message already gone counts as erased. The user's
// rejected messages are found by scanning the dead-letter stream (a letter's body is the original
// message, Arena-Seq its seq; a refused void names the user in `event.user_id`); a letter whose
// body was omitted for size is not attributed. Their settings changes are found by scanning the
// settings subject of the event stream.
import { DeliverPolicy, JetStreamApiError } from "@nats-io/jetstream"
import type { JetStreamClient, JetStreamManager } from "@nats-io/jetstream"
import { encodeErasureMessage, erasureMsgId } from "../../domain/Erasure.js"
import { PARTITION_PREFIX, partitionKindSubject, userToken } from "../../domain/Partition.js"
import type { ErasureStream } from "../../ports/Erasures.js"
import { classifyNats } from "./NatsError.js"

const NO_MESSAGE_FOUND = 10037
// A message already gone: nats-server 2.9 answers a delete of an erased sequence with
// "sequence N not found" (10043). A sequence past the stream's end answers "stream store EOF"
// (10057) and stays an error.
const ALREADY_GONE = new Set([NO_MESSAGE_FOUND, 10043])

export interface ErasureStreamNames {
  readonly events: string
  readonly deadLetters: string
  /** The subject the erasure message is published on (`<prefix>.erasures`). */
  readonly subject: string
  /** The settings subject (`<prefix>.settings`), scanned for the user's settings changes. */
  readonly settingsSubject: string
}

const utf8 = new TextDecoder()

/**
 * The user a letter's body names, or null (not JSON, or naming no one): its top-level user_id
 * (events, adjusts, settings), else a void correction's `event.user_id` (a refused void, e.g. one
 * already voided, names the awarded user only there).
 */
const userOf = (data: Uint8Array): string | null => {
  let v: unknown
  try {
    v = JSON.parse(utf8.decode(data))
  } catch {
    return null
  }
  if (typeof v !== "object" || v === null) return null
  const o = v as { user_id?: unknown; kind?: unknown; event?: unknown }
  if (typeof o.user_id === "string") return o.user_id
  const e = o.event as { user_id?: unknown } | null | undefined
  return o.kind === "void" && typeof e === "object" && e !== null && typeof e.user_id === "string" ? e.user_id : null
}

/**
 * Seqs below `beforeSeq` of the messages on `subject` of `stream` that `keep` takes (by body), in
 * order. Scans that subject (an ordered read from its first message up to its last or beforeSeq).
 */
export const scanSubject = async (js: JetStreamClient, jsm: JetStreamManager, stream: string, subject: string, beforeSeq: number, keep: (data: Uint8Array) => boolean): Promise<Array<number>> => {
  const found: Array<number> = []
  try {
    let last: number
    try {
      last = (await jsm.streams.getMessage(stream, { last_by_subj: subject }))?.seq ?? 0
    } catch (e) {
      if (e instanceof JetStreamApiError && e.code === NO_MESSAGE_FOUND) return found
      throw e
    }
    if (last === 0) return found
    const consumer = await js.consumers.get(stream, { deliver_policy: DeliverPolicy.All, filter_subjects: subject })
    const msgs = await consumer.consume({ max_messages: 1024 })
    for await (const m of msgs) {
      if (m.seq < beforeSeq && keep(m.data)) found.push(m.seq)
      if (m.seq >= last || m.seq >= beforeSeq) break
    }
    await msgs.close()
  } catch (e) {
    throw classifyNats(e, `scanning ${subject} for a user's messages`)
  }
  return found
}

/** True when a message's body names `userId` (its user_id, or a void's event.user_id). */
export const namesUser = (userId: string) => (data: Uint8Array): boolean => userOf(data) === userId

export const makeErasureStream = (js: JetStreamClient, jsm: JetStreamManager, names: ErasureStreamNames): ErasureStream => ({
  async publish(m) {
    try {
      const ack = await js.publish(names.subject, encodeErasureMessage(m), { msgID: erasureMsgId(m.erasure_id), timeout: 10_000 })
      return ack.seq
    } catch (e) {
      throw classifyNats(e, `publishing erasure ${m.erasure_id}`)
    }
  },

  async rejectedOf(userId) {
    const found: Array<{ letter: number; event: number }> = []
    try {
      const info = await jsm.streams.info(names.deadLetters)
      if (info.state.messages === 0) return found
      const last = info.state.last_seq
      const consumer = await js.consumers.get(names.deadLetters, { deliver_policy: DeliverPolicy.All })
      const msgs = await consumer.consume({ max_messages: 1024 })
      for await (const m of msgs) {
        if (userOf(m.data) === userId) {
          const seq = Number(m.headers?.get("Arena-Seq"))
          found.push({ letter: m.seq, event: Number.isSafeInteger(seq) && seq > 0 ? seq : 0 })
        }
        if (m.seq >= last) break
      }
      await msgs.close()
    } catch (e) {
      throw classifyNats(e, `scanning ${names.deadLetters} for a user's letters`)
    }
    return found
  },

  settingsOf: (userId, beforeSeq) => scanSubject(js, jsm, names.events, names.settingsSubject, beforeSeq, namesUser(userId)),

  async erase(which, seqs) {
    const stream = which === "events" ? names.events : names.deadLetters
    let erased = 0
    for (const seq of seqs) {
      try {
        if (await jsm.streams.deleteMessage(stream, seq, true)) erased++
      } catch (e) {
        if (e instanceof JetStreamApiError && ALREADY_GONE.has(e.code)) continue
        throw classifyNats(e, `erasing message ${seq} of ${stream}`)
      }
    }
    return erased
  }
})

/**
 * Partitioned mode (ARCHITECTURE §9): the seqs below `beforeSeq` of a user's messages in partition
 * k — everything on the user's own subject `arena.xp.p.<k>.<user token>` (their events, rejected
 * ones included) and the corrections naming them on `arena.xp.p.<k>.$corrections` (adjusts, and
 * voids of their awards). Read from the stream itself, so it needs no ClickHouse (the single process
 * finds them through its ledger). Settings and dead letters: ErasureStream's own scans.
 */
export const partitionUserSeqs = (js: JetStreamClient, jsm: JetStreamManager, stream: string, k: number) =>
  async (userId: string, beforeSeq: number): Promise<ReadonlyArray<number>> => {
    const own = await scanSubject(js, jsm, stream, `${PARTITION_PREFIX}${k}.${userToken(userId)}`, beforeSeq, () => true)
    const corrections = await scanSubject(js, jsm, stream, partitionKindSubject(k, "corrections"), beforeSeq, namesUser(userId))
    return [...own, ...corrections].sort((a, b) => a - b)
  }
