// A lean acked JetStream publisher for the HTTP ingest hot path.
//
// What nats.js `js.publish` does per message (3.4): a `RequestOne` on the shared mux inbox with its own
// timer, three Error objects built up front for their stack traces (request context, timeout, the
// mux's), a header object, a Promise chain, a `TextDecoder` per ack. At ~10k publishes/s that was ~20%
// of the service's CPU. This does the same protocol with less:
//
// * one wildcard subscription on our own inbox (`<inbox>.*`); each message is a core NATS `HPUB` with
//   reply `<inbox>.<token>` and the `Nats-Msg-Id` header (JetStream dedupes on it), exactly what a
//   JetStream publish is on the wire;
// * the PubAck JSON is parsed here: `{stream, seq[, duplicate]}` or `{error: {code, err_code,
//   description}}`; an empty reply with status 503 is "no responders" (no stream captures the subject);
// * one timer per batch, not per message, and a bounded number of publishes awaiting their ack across
//   all batches (the rest wait their turn, in order);
// * no retries: an outcome is reported for every message, and a message is reported stored only when
//   its PubAck said so. A timed-out message may still have been stored: retrying it with the same
//   `Nats-Msg-Id` is safe (the duplicate window dedupes it).
import { createInbox } from "@nats-io/transport-node"
import type { Msg, MsgHdrs, NatsConnection, Subscription } from "@nats-io/transport-node"

export interface PubItem {
  /** Sent as `Nats-Msg-Id`; must not contain CR or LF. */
  readonly msgId: string
  readonly data: string | Uint8Array
  /** This message's subject when it is not the batch's (partitioned ingest: each event to its user's subject). */
  readonly subject?: string
}

export type PubFailure =
  /** No PubAck within the batch's timeout (the message may still have been stored). */
  | "timeout"
  /** No stream captures the subject (or JetStream is not enabled): the server answered 503. */
  | "no_responders"
  /** JetStream answered with an error (size limit, resource limits, …). */
  | "stream_error"
  /** The connection is closed or draining. */
  | "closed"
  /** The client refused to send it (e.g. bigger than the server's max_payload, bad header). */
  | "invalid"

export type PubOutcome =
  | { readonly ok: true; readonly stream: string; readonly seq: number; readonly duplicate: boolean }
  | { readonly ok: false; readonly failure: PubFailure; readonly retryable: boolean; readonly message: string; readonly errCode?: number }

export interface JetStreamPublisherOptions {
  /** Publishes awaiting their PubAck, across all batches. */
  readonly maxInFlight?: number
  /** Default per-batch timeout: every message of a batch not acked by then fails with "timeout". */
  readonly timeoutMs?: number
  /** Use `nc.publish` per message instead of writing the frames of a pump in one go (tests, fallback). */
  readonly perMessagePublish?: boolean
}

export const DEFAULT_MAX_IN_FLIGHT = 2048
export const DEFAULT_PUBLISH_TIMEOUT_MS = 10_000

interface Batch {
  readonly subject: string
  readonly items: ReadonlyArray<PubItem>
  readonly out: Array<PubOutcome | undefined>
  /** Index of the next item to send. */
  next: number
  /** Items without an outcome yet. */
  open: number
  /** Tokens of sent items still awaiting their ack (to drop them on timeout). */
  readonly tokens: Array<string | undefined>
  timer: ReturnType<typeof setTimeout> | undefined
  readonly timeoutMs: number
  readonly resolve: (r: PubOutcome[]) => void
}

interface Pending {
  readonly batch: Batch
  readonly index: number
}

/** The part of nats-core's protocol handler used to write frames (`nc.publish` ends in it too). */
interface Frames {
  sendCommand(cmd: string | Uint8Array, ...payloads: Uint8Array[]): void
}

/**
 * nats-core 3.x keeps its protocol handler on the connection (`nc.protocol`); `nc.publish` checks the
 * connection, encodes the `HPUB` line, the headers and the payload separately and hands them to
 * `protocol.sendCommand`, which buffers them (while disconnected too) and flushes once per tick. Writing
 * a pump's frames as one buffer there is the same bytes in the same order. Not part of the typed API:
 * when it is missing, fall back to `nc.publish`.
 */
const framesOf = (nc: NatsConnection): Frames | null => {
  const p = (nc as unknown as { protocol?: Partial<Frames> }).protocol
  return p !== undefined && typeof p.sendCommand === "function" ? (p as Frames) : null
}

const CRLF = new Uint8Array([13, 10])
const encoder = new TextEncoder()
const decoder = new TextDecoder()
const HDR_PREFIX = "NATS/1.0\r\nNats-Msg-Id: "
const HDR_SUFFIX = "\r\n\r\n"

/**
 * The header block for one message, in the form nats.js's own `MsgHdrs.encode()` produces. The
 * connection only ever calls `encode()` on the headers it is given (nats-core 3.4 `publish`), so this
 * skips building a header map per message; the integration tests prove the server sees the header
 * (duplicates are detected).
 */
const msgIdHeader = (msgId: string): MsgHdrs => {
  const bytes = encoder.encode(HDR_PREFIX + msgId + HDR_SUFFIX)
  return { encode: () => bytes } as unknown as MsgHdrs
}

const timeoutMessage = (ms: number) =>
  `JetStream did not acknowledge the publish within ${ms / 1000} s; it may or may not be stored (retrying with the same id is safe)`

export class JetStreamPublisher {
  private readonly maxInFlight: number
  private readonly timeoutMs: number
  private readonly inbox: string
  private readonly pending = new Map<string, Pending>()
  /** Batches with items not yet sent, oldest first. */
  private readonly waiting: Batch[] = []
  private sub: Subscription | null = null
  private counter = 0
  private inFlight = 0
  private pumpScheduled = false
  /** The connection's protocol writer when usable (nats-core 3.x), else null: then `nc.publish` per message. */
  private readonly frames: Frames | null
  private closedReason: string | null = null
  /** Acks that arrived after their batch timed out (or for unknown tokens). */
  lateAcks = 0

  constructor(private readonly nc: NatsConnection, opts: JetStreamPublisherOptions = {}) {
    this.maxInFlight = Math.max(1, opts.maxInFlight ?? DEFAULT_MAX_IN_FLIGHT)
    this.timeoutMs = Math.max(1, opts.timeoutMs ?? DEFAULT_PUBLISH_TIMEOUT_MS)
    this.frames = opts.perMessagePublish === true ? null : framesOf(nc)
    this.inbox = createInbox((nc as unknown as { options?: { inboxPrefix?: string } }).options?.inboxPrefix)
    void nc.closed().then(() => this.close("the NATS connection is closed"))
  }

  /** Messages sent and awaiting their ack right now (for tests and metrics). */
  get inFlightCount(): number {
    return this.inFlight
  }

  /**
   * Publishes every item to `subject` (or its own `item.subject`) and resolves with one outcome per item, in order. Never rejects.
   * `timeoutMs` bounds the whole batch, including time spent waiting for room in the in-flight window.
   */
  publishBatch(subject: string, items: ReadonlyArray<PubItem>, timeoutMs = this.timeoutMs): Promise<PubOutcome[]> {
    if (items.length === 0) return Promise.resolve([])
    return new Promise<PubOutcome[]>((resolve) => {
      const batch: Batch = {
        subject, items, out: new Array(items.length), next: 0, open: items.length,
        tokens: new Array(items.length), timer: undefined, timeoutMs, resolve
      }
      if (this.closedReason !== null) {
        for (let i = 0; i < items.length; i++) this.settle(batch, i, this.closedOutcome())
        return
      }
      this.ensureSubscribed()
      batch.timer = setTimeout(() => this.expire(batch), timeoutMs)
      this.waiting.push(batch)
      this.pump()
    })
  }

  /** Fails every open publish (used when the connection closes); later batches fail at once. */
  close(reason = "the publisher is closed"): void {
    if (this.closedReason !== null) return
    this.closedReason = reason
    for (const b of this.waiting.splice(0)) for (let i = b.next; i < b.items.length; i++) this.settle(b, i, this.closedOutcome())
    const open = [...this.pending.values()]
    this.pending.clear()
    this.inFlight = 0
    for (const p of open) this.settle(p.batch, p.index, this.closedOutcome())
    try { this.sub?.unsubscribe() } catch { /* closed already */ }
    this.sub = null
  }

  private closedOutcome(): PubOutcome {
    return { ok: false, failure: "closed", retryable: true, message: `not published: ${this.closedReason ?? "closed"}` }
  }

  private ensureSubscribed(): void {
    if (this.sub !== null) return
    this.sub = this.nc.subscribe(`${this.inbox}.*`, { callback: (err, msg) => this.onReply(err, msg) })
  }

  private pump(): void {
    this.pumpScheduled = false
    if (this.waiting.length === 0 || this.inFlight >= this.maxInFlight) return
    const frames = this.frames
    let text = ""
    while (this.inFlight < this.maxInFlight && this.waiting.length > 0) {
      const b = this.waiting[0] as Batch
      const i = b.next++
      if (b.next >= b.items.length) this.waiting.shift()
      if (frames === null) this.send(b, i)
      else text = this.frame(frames, b, i, text)
    }
    if (frames !== null && text.length > 0) frames.sendCommand(Buffer.from(text, "utf8"))
  }

  /** After acks: send what they made room for once the reply chunk is processed (one write). */
  private schedulePump(): void {
    if (this.pumpScheduled) return
    this.pumpScheduled = true
    queueMicrotask(() => this.pump())
  }

  /** Why a message cannot be sent now, or null. Checked per message, as `nc.publish` does. */
  private refusal(b: Batch, item: PubItem): PubOutcome | null {
    if (this.nc.isClosed() || this.nc.isDraining()) return { ok: false, failure: "closed", retryable: true, message: `not published: the NATS connection is ${this.nc.isClosed() ? "closed" : "draining"}` }
    const subject = item.subject ?? b.subject
    if (subject.length === 0 || /\s/.test(subject)) return { ok: false, failure: "invalid", retryable: false, message: `not published: invalid subject "${subject}"` }
    if (item.msgId.length === 0 || /[\r\n]/.test(item.msgId)) return { ok: false, failure: "invalid", retryable: false, message: "not published: the message id is empty or contains a line break" }
    return null
  }

  /**
   * Appends message `i` of `b` as an `HPUB` frame to `text` (the pending protocol text of this pump),
   * or sends it on its own when its payload is bytes. Same frame as `nc.publish(subject, data,
   * { reply, headers })` writes, without its three UTF-8 encodes per message.
   */
  private frame(frames: Frames, b: Batch, i: number, text: string): string {
    const item = b.items[i] as PubItem
    const no = this.refusal(b, item)
    if (no !== null) {
      this.settle(b, i, no)
      return text
    }
    const hdr = HDR_PREFIX + item.msgId + HDR_SUFFIX
    const hlen = Buffer.byteLength(hdr, "utf8")
    const data = item.data
    const dlen = typeof data === "string" ? Buffer.byteLength(data, "utf8") : data.length
    const max = (this.nc.info?.max_payload ?? Number.POSITIVE_INFINITY)
    if (hlen + dlen > max) {
      this.settle(b, i, { ok: false, failure: "invalid", retryable: false, message: `not published: ${hlen + dlen} bytes exceed the server's max_payload of ${max}` })
      return text
    }
    const token = (this.counter++).toString(36)
    const line = `HPUB ${item.subject ?? b.subject} ${this.inbox}.${token} ${hlen} ${hlen + dlen}\r\n${hdr}`
    if (typeof data === "string") {
      text += line + data + "\r\n"
    } else {
      if (text.length > 0) frames.sendCommand(Buffer.from(text, "utf8"))
      text = ""
      frames.sendCommand(Buffer.from(line, "utf8"), data, CRLF)
    }
    this.pending.set(token, { batch: b, index: i })
    b.tokens[i] = token
    this.inFlight++
    return text
  }

  /** The portable path: one `nc.publish` per message. */
  private send(b: Batch, i: number): void {
    const item = b.items[i] as PubItem
    const no = this.refusal(b, item)
    if (no !== null) {
      this.settle(b, i, no)
      return
    }
    const token = (this.counter++).toString(36)
    try {
      this.nc.publish(item.subject ?? b.subject, item.data, { reply: `${this.inbox}.${token}`, headers: msgIdHeader(item.msgId) })
    } catch (e) {
      const m = e instanceof Error ? e.message : String(e)
      const closed = this.nc.isClosed() || /clos|drain/i.test(`${(e as { name?: string }).name ?? ""} ${m}`)
      this.settle(b, i, closed
        ? { ok: false, failure: "closed", retryable: true, message: `not published: ${m}` }
        : { ok: false, failure: "invalid", retryable: false, message: `not published: ${m}` })
      return
    }
    this.pending.set(token, { batch: b, index: i })
    b.tokens[i] = token
    this.inFlight++
  }

  private onReply(err: Error | null, msg: Msg): void {
    if (err !== null) {
      // The inbox subscription itself failed (e.g. a permissions violation): nothing will be acked.
      this.close(`the reply subscription failed: ${err.message}`)
      return
    }
    const token = msg.subject.slice(this.inbox.length + 1)
    const p = this.pending.get(token)
    if (p === undefined) {
      this.lateAcks++
      return
    }
    this.pending.delete(token)
    this.inFlight--
    p.batch.tokens[p.index] = undefined
    this.settle(p.batch, p.index, parseAck(msg, (p.batch.items[p.index] as PubItem).subject ?? p.batch.subject))
    this.schedulePump()
  }

  private expire(b: Batch): void {
    b.timer = undefined
    const w = this.waiting.indexOf(b)
    if (w >= 0) this.waiting.splice(w, 1)
    const msg = timeoutMessage(b.timeoutMs)
    for (let i = 0; i < b.items.length; i++) {
      if (b.out[i] !== undefined) continue
      const t = b.tokens[i]
      if (t !== undefined) {
        this.pending.delete(t)
        this.inFlight--
        b.tokens[i] = undefined
        this.settle(b, i, { ok: false, failure: "timeout", retryable: true, message: msg })
      } else {
        this.settle(b, i, { ok: false, failure: "timeout", retryable: true, message: `not published: no room among the ${this.maxInFlight} publishes in flight within ${b.timeoutMs / 1000} s` })
      }
    }
    this.pump()
  }

  private settle(b: Batch, i: number, o: PubOutcome): void {
    if (b.out[i] !== undefined) return
    b.out[i] = o
    if (--b.open === 0) {
      if (b.timer !== undefined) clearTimeout(b.timer)
      b.timer = undefined
      b.resolve(b.out as PubOutcome[])
    }
  }
}

/** A PubAck (or the error JetStream sent instead) as an outcome. Exported for unit tests. */
export const parseAck = (msg: Pick<Msg, "data" | "headers">, subject: string): PubOutcome => {
  const data = msg.data
  if (data.length === 0) {
    const code = msg.headers?.code ?? 0
    if (code === 503) {
      return { ok: false, failure: "no_responders", retryable: true, message: `no JetStream stream answered for subject ${subject} (no responders: the stream is missing or JetStream is unavailable)` }
    }
    return { ok: false, failure: "stream_error", retryable: true, message: `JetStream sent an empty reply${code ? ` (status ${code} ${msg.headers?.description ?? ""})` : ""}` }
  }
  const fast = fastAck(data)
  if (fast !== null) return fast
  let v: { stream?: unknown; seq?: unknown; duplicate?: unknown; error?: { code?: unknown; err_code?: unknown; description?: unknown } }
  try {
    v = JSON.parse(decoder.decode(data)) as typeof v
  } catch {
    return { ok: false, failure: "stream_error", retryable: false, message: "JetStream sent a reply that is not JSON" }
  }
  if (v !== null && typeof v === "object" && v.error !== undefined && v.error !== null) {
    const code = typeof v.error.code === "number" ? v.error.code : 0
    const errCode = typeof v.error.err_code === "number" ? v.error.err_code : undefined
    const description = typeof v.error.description === "string" ? v.error.description : "unknown error"
    return {
      ok: false, failure: "stream_error", retryable: code === 503 || code >= 500, errCode,
      message: `JetStream refused the message: ${description}${errCode !== undefined ? ` (err_code ${errCode})` : ""}`
    }
  }
  if (v === null || typeof v !== "object" || typeof v.stream !== "string" || v.stream === "" || typeof v.seq !== "number") {
    return { ok: false, failure: "stream_error", retryable: false, message: "JetStream sent an invalid PubAck" }
  }
  return { ok: true, stream: v.stream, seq: v.seq, duplicate: v.duplicate === true }
}

const ACK_HEAD = [...'{"stream":"'].map((c) => c.charCodeAt(0))
const ACK_SEQ = [...'"seq":'].map((c) => c.charCodeAt(0))
const ACK_DUP = [...'"duplicate":'].map((c) => c.charCodeAt(0))
const ACK_TRUE = [..."true}"].map((c) => c.charCodeAt(0))
let lastStream = ""

const bytesAt = (d: Uint8Array, at: number, want: ReadonlyArray<number>): boolean => {
  if (at + want.length > d.length) return false
  for (let k = 0; k < want.length; k++) if (d[at + k] !== want[k]) return false
  return true
}
const spaces = (d: Uint8Array, at: number): number => {
  while (at < d.length && d[at] === 0x20) at++
  return at
}

/**
 * The PubAck as nats-server writes it — `{"stream":"S", "seq":N}` or
 * `{"stream":"S", "seq":N,"duplicate": true}` (2.9; spaces after `,` and `:` optional) — read without
 * decoding or JSON.parse; null for anything else (errors, a domain field, escapes, …), which the JSON
 * path then reads. Exported for the unit test that checks it against JSON.parse.
 */
export const fastAck = (d: Uint8Array): PubOutcome | null => {
  if (!bytesAt(d, 0, ACK_HEAD)) return null
  let j = ACK_HEAD.length
  const nameAt = j
  for (; j < d.length; j++) {
    const c = d[j] as number
    if (c === 0x22) break
    if (c === 0x5c || c < 0x20 || c >= 0x80) return null
  }
  const nameLen = j - nameAt
  if (j >= d.length || nameLen === 0) return null
  j++
  if (d[j] !== 0x2c) return null
  j = spaces(d, j + 1)
  if (!bytesAt(d, j, ACK_SEQ)) return null
  j = spaces(d, j + ACK_SEQ.length)
  const digitsAt = j
  let seq = 0
  for (; j < d.length; j++) {
    const c = d[j] as number
    if (c < 0x30 || c > 0x39) break
    seq = seq * 10 + (c - 0x30)
  }
  const digits = j - digitsAt
  if (digits === 0 || digits > 15 || (digits > 1 && d[digitsAt] === 0x30)) return null
  let duplicate = false
  if (d[j] === 0x2c) {
    j = spaces(d, j + 1)
    if (!bytesAt(d, j, ACK_DUP)) return null
    j = spaces(d, j + ACK_DUP.length)
    if (!bytesAt(d, j, ACK_TRUE)) return null
    j += ACK_TRUE.length - 1
    duplicate = true
  }
  if (j !== d.length - 1 || d[j] !== 0x7d) return null
  let same = lastStream.length === nameLen
  for (let k = 0; same && k < nameLen; k++) same = lastStream.charCodeAt(k) === d[nameAt + k]
  if (!same) lastStream = String.fromCharCode(...d.subarray(nameAt, nameAt + nameLen))
  return { ok: true, stream: lastStream, seq, duplicate }
}
