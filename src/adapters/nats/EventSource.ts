// The EventSource port on JetStream: the stream's head (streams.info), and an ordered consumer from
// a given sequence that hands batches of raw messages on: one batch per socket read (setImmediate),
// at most `batchMax`, with backpressure.
import type { JetStreamClient, JetStreamManager, JsMsg } from "@nats-io/jetstream"
import { DeliverPolicy } from "@nats-io/jetstream"
import { Effect } from "effect"
import { MSG_EVENT } from "../../domain/MessageKind.js"
import type { KindSubject, MessageKind } from "../../domain/MessageKind.js"
import type { EventSource, RawBatch, RawEvent } from "../../ports/EventSource.js"
import { classifyNats } from "./NatsError.js"
import type { NatsError } from "./NatsError.js"

/** Pending count of the message last converted (read with its delivery info, used by the consumer loop). */
let lastPending = 0

/**
 * The subjects of the non-event message kinds, as the consumer matches them: a message whose
 * subject has none of these lengths is an event after one compare per kind (events are nearly
 * every message), and bytes are compared only on a length match.
 */
export interface KindTable {
  readonly kinds: ReadonlyArray<MessageKind>
  readonly subjects: ReadonlyArray<string>
  readonly bytes: ReadonlyArray<Uint8Array>
}

export const kindTable = (ks: ReadonlyArray<KindSubject>): KindTable => ({
  kinds: ks.map((k) => k.kind),
  subjects: ks.map((k) => k.subject),
  bytes: ks.map((k) => new TextEncoder().encode(k.subject))
})

const NO_KINDS = kindTable([])

const kindOfBytes = (s: Uint8Array, t: KindTable): MessageKind => {
  const bs = t.bytes
  for (let k = 0; k < bs.length; k++) {
    const b = bs[k]!
    if (b.length !== s.length) continue
    let i = 0
    while (i < b.length && b[i] === s[i]) i++
    if (i === b.length) return t.kinds[k]!
  }
  return MSG_EVENT
}

const kindOfSubject = (s: string, t: KindTable): MessageKind => {
  const i = t.subjects.indexOf(s)
  return i < 0 ? MSG_EVENT : t.kinds[i]!
}

/** The library's way (any message shape): parses the reply subject into an info object and the headers into a map. */
const toRawSlow = (m: JsMsg, t: KindTable = NO_KINDS): RawEvent => {
  const info = m.info
  lastPending = info.pending
  return {
    seq: info.streamSequence,
    // The exact ns (a bigint from the reply's digits), not info.timestampNanos: that one is a double
    // near 1.7e18 (256 ns apart), which floors to the wrong ms within 1 µs of a ms boundary.
    streamTimeMs: Number(m.timestampNanos / 1_000_000n),
    data: m.data,
    msgId: m.headers?.get("Nats-Msg-Id") || undefined,
    kind: t.bytes.length === 0 ? MSG_EVENT : kindOfSubject(m.subject, t)
  }
}

// ---- the fast path: the same fields read straight from the message's bytes ----
// Per message the library's accessors decode the reply subject to a string, split it into 11
// strings and an info object, decode the header block and build a header map, and wrap the
// payload in a Buffer view: ~2 µs and a dozen objects that live as long as the batch. The raw
// bytes are on the core message (`msg._msg.reply`, `msg._rdata`, `msg._msg.hdr`); when they are
// not there in the expected shape, or anything is unusual, the library's way is used instead.

interface CoreMsg {
  readonly _msg?: { readonly subject?: Uint8Array; readonly reply?: Uint8Array; readonly hdr?: number }
  readonly _rdata?: Uint8Array
}

const DOT = 46
const CR = 13
const LF = 10
const COLON = 58
const MSG_ID = "Nats-Msg-Id"
const HEADER_START = "NATS/1.0\r\n"
const ACK_PREFIX = "$JS.ACK."
// Where each dot of the reply subject is: "$JS.ACK.<domain>.<hash>.<stream>.<consumer>.<delivered>.<sseq>.<dseq>.<ns>.<pending>[.<token>]"
// (or the older form without domain and hash).
const dots = new Int32Array(16)

/** The decimal integer in b[from, to), or -1 when it is not one (or is too long to be exact). */
const digits = (b: Uint8Array, from: number, to: number): number => {
  if (to <= from || to - from > 15) return -1
  let v = 0
  for (let i = from; i < to; i++) {
    const c = b[i]! - 48
    if (c < 0 || c > 9) return -1
    v = v * 10 + c
  }
  return v
}

/** JetStream's timestamp (ns since epoch, 19 digits) in b[from, to) as whole ms (exact: the digits before the last six), or -1. */
const nanosToMs = (b: Uint8Array, from: number, to: number): number => {
  if (to - from <= 6) return -1
  const ms = digits(b, from, to - 6)
  return ms < 0 || digits(b, to - 6, to) < 0 ? -1 : ms
}

/** The Nats-Msg-Id value in a header block, "" when absent, or null when the block is not plain ASCII headers. */
const msgIdOf = (h: Uint8Array): string | null => {
  const n = h.length
  if (n < HEADER_START.length) return null
  for (let i = 0; i < HEADER_START.length; i++) if (h[i] !== HEADER_START.charCodeAt(i)) return null
  let found: string | null = null
  let at = HEADER_START.length
  while (at < n) {
    let end = at
    while (end < n && h[end] !== CR) end++
    if (end + 1 >= n ? end !== n : h[end + 1] !== LF) return null
    if (end > at) {
      // A line "Key: value": every byte printable ASCII, the key non-empty without spaces.
      let colon = -1
      for (let i = at; i < end; i++) {
        const c = h[i]!
        if (c < 32 || c > 126) return null
        if (colon < 0 && c === COLON) colon = i
      }
      if (colon <= at) return null
      for (let i = at; i < colon; i++) if (h[i] === 32) return null
      if (found === null && colon - at === MSG_ID.length) {
        let same = true
        for (let i = 0; i < MSG_ID.length && same; i++) same = h[at + i] === MSG_ID.charCodeAt(i)
        if (same) {
          let from = colon + 1
          let to = end
          while (from < to && h[from] === 32) from++
          while (to > from && h[to - 1] === 32) to--
          found = String.fromCharCode.apply(null, h.subarray(from, to) as unknown as Array<number>)
        }
      }
    }
    at = end + 2
  }
  return found ?? ""
}

/** The message as the pipeline sees it, from its bytes; null when the library's way must decide. */
const toRawFast = (m: JsMsg, t: KindTable = NO_KINDS): RawEvent | null => {
  const core = (m as unknown as { readonly msg?: CoreMsg }).msg
  const reply = core?._msg?.reply
  const hdr = core?._msg?.hdr
  const rdata = core?._rdata
  if (!(reply instanceof Uint8Array) || !(rdata instanceof Uint8Array) || typeof hdr !== "number" || hdr <= 0 || hdr > rdata.length) return null
  let kind: MessageKind = MSG_EVENT
  if (t.bytes.length > 0) {
    const subject = core?._msg?.subject
    if (!(subject instanceof Uint8Array)) return null
    kind = kindOfBytes(subject, t)
  }
  let k = 0
  for (let i = 0; i < reply.length; i++) {
    if (reply[i] !== DOT) continue
    if (k === dots.length) return null
    dots[k++] = i
  }
  // 9 tokens (8 dots): the old form; 11 or 12 tokens: with domain and account hash (and a token).
  const first = k === 8 ? 3 : k === 10 || k === 11 ? 5 : -1
  if (first < 0 || dots[0] !== 3 || dots[1] !== 7) return null
  for (let i = 0; i < ACK_PREFIX.length; i++) if (reply[i] !== ACK_PREFIX.charCodeAt(i)) return null
  const tokenEnd = (t: number): number => (t < k ? dots[t]! : reply.length)
  const seq = digits(reply, dots[first + 1]! + 1, tokenEnd(first + 2))
  const ms = nanosToMs(reply, dots[first + 3]! + 1, tokenEnd(first + 4))
  const pending = digits(reply, dots[first + 4]! + 1, tokenEnd(first + 5))
  if (seq < 0 || ms < 0 || pending < 0) return null
  const id = msgIdOf(rdata.subarray(0, hdr))
  if (id === null) return null
  lastPending = pending
  return {
    seq,
    streamTimeMs: ms,
    data: new Uint8Array(rdata.buffer, rdata.byteOffset + hdr, rdata.length - hdr),
    msgId: id === "" ? undefined : id,
    kind
  }
}

/** Exported for the adapter's test: both ways must agree on every message. */
export const toRawForTest = { fast: toRawFast, slow: toRawSlow, pending: () => lastPending }

/** How often a consumer with pending > 0 and nothing to apply has its pending counted again (consumer info). */
const PENDING_RECHECK_MS = 1_000
/** How long one pull request lives (its idle heartbeat is half of it; ≥ 1 s, the library's floor). */
const PULL_EXPIRES_MS = 5_000

/**
 * How long a consumer may deliver nothing, with nothing of it being handed on, before the stream is
 * asked whether it holds a message past the consumer's position; a second answer "yes" as long after
 * the first, with still nothing delivered in between, declares the consumer stalled.
 */
const STALL_CHECK_MS = 5_000
/** A consumer start that times out is tried again for this long (consumeFrom), backing off from 250 ms to 4 s. */
const START_SETTLE_MS = 30_000
const START_RETRY_FIRST_MS = 250
const START_RETRY_MAX_MS = 4_000

/**
 * The consumer delivers nothing while the stream holds messages past its position. Seen on a
 * 3-node cluster: an ordered consumer is R1 and lives on one node; while that node does not answer
 * (SIGSTOP, or just restarted after a kill -9 and still recovering) the library's missed-heartbeat
 * handling asks the consumer's info again every pull expiry and never recreates it, so the
 * consumer waits for the node however long it takes (partitionedChaos.test: a partition stuck
 * "replaying 0/508" for over 90 s). consumeFrom then starts a new consumer (placed anew by the
 * server) from the next seq.
 */
export class ConsumerStalled extends Error {
  override readonly name = "ConsumerStalled"
}

/**
 * The stream seq of the first message at or after `fromSeq` the consumer would deliver (its filter,
 * or any subject), null when there is none: the stream leader's answer, not the consumer's.
 */
export type NextStored = (fromSeq: number) => Promise<number | null>

/** NextStored by the stream leader's message get: the first message at or after a seq on `filter` (any subject when absent). */
export const nextStoredOn = (jsm: JetStreamManager, stream: string, filter?: string): NextStored => async (fromSeq) => {
  // 2.9's message get takes a start seq with `next_by_subj` (the client's type knows only one of them).
  const m = await jsm.streams.getMessage(stream, { seq: fromSeq, next_by_subj: filter ?? ">" } as unknown as { seq: number })
  return m === null ? null : m.seq
}

/** Stall checks every STALL_CHECK_MS of quiet (exported for the adapter's test, which runs them faster). */
export interface StallWatch {
  readonly nextStored: NextStored
  readonly checkMs?: number
  /** Told each stall, before a new consumer takes over from the next seq, and each start tried again. */
  readonly onStall?: (message: string) => void
  /** How long consumer starts that time out are tried again (default START_SETTLE_MS). */
  readonly startSettleMs?: number
}

/**
 * Consume `stream` from `startSeq` until interrupted. `onBatch` is awaited before more than
 * `batchMax` further messages are buffered, so a slow pipeline slows the pull, never memory. With
 * `stall`, a consumer that stops delivering while the stream holds more is replaced by a new one
 * from the seq after the last one handed on (the caller sees every message once, in order, and
 * no failure; `onStall` is told), and a consumer start that times out while the cluster settles is
 * tried again for up to `startSettleMs` (told too) before the consume fails.
 */
export const consumeFrom = (
  js: JetStreamClient,
  stream: string,
  startSeq: number,
  batchMax: number,
  onBatch: (batch: RawBatch) => Promise<void>,
  kinds: KindTable = NO_KINDS,
  filterSubject?: string,
  stall?: StallWatch
) => {
  // A consumer is declared stalled only with nothing left to hand on (consumeOnce's watch), so the
  // last seq handed on is where its successor starts.
  let handed = startSeq - 1
  const counted = (batch: RawBatch): Promise<void> => {
    const last = batch.events[batch.events.length - 1]
    if (last !== undefined) handed = last.seq
    return onBatch(batch)
  }
  // A consumer that could not be created because the cluster is settling (a timeout, no
  // responders: its node just restarted, or is stopped and the server placed the new consumer
  // there again; "temporarily unavailable": no quorum yet) is created again here, for up to
  // START_SETTLE_MS from the first such failure, instead of failing the consume and restarting the
  // caller's pipeline (a snapshot reload, or a partition's re-acquire). Only with the stall watch (the pipelines'), and only before the
  // consumer started: a failure while consuming is the caller's, as before.
  const settleMs = stall?.startSettleMs ?? START_SETTLE_MS
  let started = false
  let settlingSince = 0
  let settleDelay = 0
  /** What the last failure decided: wait this long and start a new consumer, or (-1) fail. */
  let retryIn = -1
  const decide = (e: NatsError) => Effect.suspend(() => {
    retryIn = -1
    if (e.reason === "stalled") {
      stall?.onStall?.(`${e.message}; a new consumer takes over from seq ${handed + 1}`)
      retryIn = 0
      return Effect.void
    }
    if (stall === undefined || started || (e.reason !== "timeout" && e.reason !== "no_responders" && e.reason !== "unavailable")) return Effect.void
    const now = Date.now()
    if (settlingSince === 0) settlingSince = now
    if (now - settlingSince >= settleMs) return Effect.void
    settleDelay = settleDelay === 0 ? START_RETRY_FIRST_MS : Math.min(2 * settleDelay, START_RETRY_MAX_MS)
    retryIn = settleDelay
    stall.onStall?.(`${e.message}; the cluster may be settling: a new consumer from seq ${handed + 1} in ${retryIn} ms`)
    return Effect.sleep(retryIn)
  })
  const onStarted = (): void => {
    started = true
    settlingSince = 0
    settleDelay = 0
  }
  return Effect.suspend(() => {
    started = false
    return consumeOnce(js, stream, handed + 1, batchMax, counted, kinds, filterSubject, stall, onStarted)
  }).pipe(
    Effect.tapError(decide),
    Effect.retry({ while: () => retryIn >= 0 })
  )
}

/** One ordered consumer from `startSeq` (consumeFrom's), failing with ConsumerStalled when its watch says so. */
const consumeOnce = (
  js: JetStreamClient,
  stream: string,
  startSeq: number,
  batchMax: number,
  onBatch: (batch: RawBatch) => Promise<void>,
  kinds: KindTable,
  filterSubject: string | undefined,
  stall: StallWatch | undefined,
  onStarted: () => void = () => undefined
) =>
  Effect.acquireUseRelease(
    Effect.tryPromise({
      try: async () => {
        const consumer = await js.consumers.get(stream, {
          deliver_policy: DeliverPolicy.StartSequence,
          opt_start_seq: Math.max(1, startSeq),
          // A string, sent as 2.9's `filter_subject` (an array needs nats-server 2.10).
          ...(filterSubject === undefined ? {} : { filter_subjects: filterSubject })
        })
        // Every message the client holds is a live object graph the young-generation GC copies
        // and then promotes: hold about two batches (a pull refills long before the pipeline
        // runs dry on a local server), not eight.
        // A pull lives PULL_EXPIRES_MS (the library's default is 30 s), so the server's idle
        // heartbeats come every half of it and two missed ones make the ordered consumer start
        // again from the next seq: when the node holding the consumer dies (a NATS cluster node
        // kill), it is found gone in ~5 s instead of ~1 min (partitionedChaos.test saw one
        // partition stall 60–70 s). An idle consumer costs one pull request per 5 s.
        const messages = await consumer.consume({ max_messages: Math.max(1024, batchMax * 2), expires: PULL_EXPIRES_MS })
        onStarted()
        return { consumer, messages }
      },
      catch: (e) => classifyNats(e, `starting ordered consumer on ${stream}${filterSubject === undefined ? "" : ` (${filterSubject})`} at seq ${startSeq}`)
    }),
    ({ consumer, messages }) =>
      Effect.tryPromise({
        try: async () => {
          let pending: RawEvent[] = []
          let batchPending = 0
          let busy: Promise<void> | null = null
          let failure: unknown = null
          // `progress` counts deliveries and handed-on batches, so an answer (the recount's below,
          // the stall watch's) can tell whether anything moved since it was asked. The stall watch:
          // `position` is the last stream seq delivered.
          let position = startSeq - 1
          let progress = 0
          let quietSince = Date.now()
          let suspect = -1
          let probing = false
          const fail = (e: unknown): void => {
            if (failure !== null) return
            failure = e
            void messages.close()
          }
          const dispatch = (events: RawEvent[]): void => {
            busy = onBatch({ events, pending: batchPending })
              .catch(fail)
              .finally(() => { busy = null; progress++; quietSince = Date.now(); if (pending.length > 0) setImmediate(kick) })
          }
          const kick = (): void => {
            if (busy !== null || pending.length === 0 || failure !== null) return
            const events = pending
            pending = []
            dispatch(events)
          }
          // nats-server 2.9 can over-count a filtered consumer's pending (seen on partition
          // consumers started mid-stream: every reply said pending > 0 for minutes after the last
          // message; bench/partitioned.mjs), so a pipeline waiting for pending 0 never became
          // ready. A consumer info makes the server count again: once a second, while pending > 0
          // and nothing waits to be applied (so a real backlog, which keeps the pipeline busy, is
          // rarely asked about), ask it, and hand the pipeline the corrected count (an empty
          // batch) unless a message arrived meanwhile. Not "when idle": a partition's tick arrives
          // every second, so it is never idle for one (the routing test stalled that way).
          let asking = false
          const recount = setInterval(() => {
            if (asking || busy !== null || pending.length > 0 || batchPending === 0 || failure !== null) return
            asking = true
            const askedAt = progress
            consumer.info().then((info) => {
              if (progress !== askedAt || busy !== null || pending.length > 0 || failure !== null || info.num_pending >= batchPending) return
              batchPending = info.num_pending
              dispatch([])
            }, () => { /* no answer: the next idle second asks again */ }).finally(() => { asking = false })
          }, PENDING_RECHECK_MS)
          const checkMs = stall?.checkMs ?? STALL_CHECK_MS
          const watch = stall === undefined ? null : setInterval(() => {
            if (probing || busy !== null || pending.length > 0 || failure !== null || Date.now() - quietSince < checkMs) return
            probing = true
            const askedAt = progress
            const from = position + 1
            stall.nextStored(from).then((next) => {
              if (progress !== askedAt || failure !== null) { suspect = -1; return }
              quietSince = Date.now()
              if (next === null) { suspect = -1; return }
              if (suspect === askedAt) {
                fail(new ConsumerStalled(`nothing delivered for ${Math.round(2 * checkMs / 1000)} s while the stream holds seq ${next} past this consumer's seq ${position}`))
                return
              }
              suspect = askedAt
            }, () => { /* no answer (the cluster is settling): ask again after the next quiet spell */ quietSince = Date.now() }).finally(() => { probing = false })
          }, Math.min(1_000, checkMs))
          try {
            for await (const m of messages) {
              quietSince = Date.now()
              progress++
              const raw = toRawFast(m, kinds) ?? toRawSlow(m, kinds)
              position = raw.seq
              // A partition's consumer hands the subject on for the subject check (Partition.ts).
              pending.push(filterSubject === undefined ? raw : { ...raw, subject: m.subject })
              batchPending = lastPending
              if (pending.length === 1) setImmediate(kick)
              while (pending.length >= batchMax && busy !== null) await busy
              if (pending.length >= batchMax) kick()
            }
          } finally {
            clearInterval(recount)
            if (watch !== null) clearInterval(watch)
          }
          while (busy !== null) await busy
          if (failure !== null) throw failure
        },
        catch: (e) => classifyNats(e, `consuming ${stream}`)
      }),
    ({ messages }) => Effect.promise(() => messages.close().then(() => undefined, () => undefined))
  )

export interface EventSourceOptions {
  /**
   * Read only the messages on this subject (a wildcard allowed), e.g. partition k's
   * `arena.xp.p.<k>.>` in partitioned mode (ARCHITECTURE §9). The head's lastSeq is then the seq of
   * the last message on it (0 when there is none), so "caught up" means caught up with the filter.
   */
  readonly filterSubject?: string
  /** Told when a stalled consumer is replaced (consumeFrom's stall watch). */
  readonly log?: (message: string) => void
}

/** The seq of the last message on `subject` (wildcards allowed), 0 when the stream holds none. */
const lastSeqOn = async (jsm: JetStreamManager, stream: string, subject: string): Promise<number> => {
  try {
    const m = await jsm.streams.getMessage(stream, { last_by_subj: subject })
    return m === null ? 0 : m.seq
  } catch (e) {
    if (/no message found|not found/i.test((e as Error)?.message ?? "") && !/stream not found/i.test((e as Error)?.message ?? "")) return 0
    throw e
  }
}

/**
 * The stream `stream` as the pipeline's (and backfill's) event source; `kinds`: the subjects of
 * the non-event message kinds (domain/MessageKind.ts kindSubjects), without which every message
 * reads as an event.
 */
export const makeEventSource = (
  nats: { readonly js: JetStreamClient; readonly jsm: JetStreamManager },
  stream: string,
  kinds: ReadonlyArray<KindSubject> = [],
  options: EventSourceOptions = {}
): EventSource => {
  const table = kindTable(kinds)
  const filter = options.filterSubject
  const nextStored = nextStoredOn(nats.jsm, stream, filter)
  return {
    head: Effect.tryPromise({
      try: async () => {
        const info = await nats.jsm.streams.info(stream)
        const lastSeq = filter === undefined ? info.state.last_seq : await lastSeqOn(nats.jsm, stream, filter)
        return { name: stream, created: info.created, firstSeq: info.state.first_seq, lastSeq, messages: info.state.messages }
      },
      catch: (e) => classifyNats(e, `reading stream ${stream}${filter === undefined ? "" : ` (${filter})`}`)
    }),
    consumeFrom: (startSeq, batchMax, onBatch) => consumeFrom(nats.js, stream, startSeq, batchMax, onBatch, table, filter, { nextStored, ...(options.log === undefined ? {} : { onStall: options.log }) })
  }
}
