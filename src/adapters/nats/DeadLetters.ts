// The DeadLetterPort on JetStream: letters (Nats-Msg-Id dlq:<seq>, so a replay after a crash never
// dead-letters twice) are kept in memory until the DLQ stream acks them and retried without limit,
// so a NATS outage of any length delays snapshots but loses no letter. A letter whose original plus
// headers would not fit in one NATS message carries no body; it names the original's size, and
// Arena-Seq is where the original stays in the event stream. In partitioned mode a letter also
// names the partition whose consumer refused it (Arena-Partition).
import type { JetStreamClient } from "@nats-io/jetstream"
import { headers } from "@nats-io/transport-node"
import type { MsgHdrs } from "@nats-io/transport-node"
import { Effect, Fiber } from "effect"
import type { Schedule } from "effect"
import { backoff } from "../../domain/Backoff.js"
import type { RejectReason } from "../../domain/Model.js"
import type { DeadLetterHealth, DeadLetterPort } from "../../ports/DeadLetters.js"
import { NatsError, classifyNats } from "./NatsError.js"
import { mapBounded } from "./Publisher.js"

/** Room kept for the header block (ours ≤ ~600 B, plus Nats-Msg-Id and the framing). */
export const HEADER_ROOM = 1024
/** Letters published at once in a round; the rest wait for the next round. */
const ROUND = 256
const IN_FLIGHT = 64

interface Letter {
  readonly seq: number
  data: Uint8Array
  h: MsgHdrs
  readonly size: number
}

export interface DeadLetterOptions {
  /** The largest message NATS takes (the server's max_payload, from its INFO). */
  readonly maxPayload: () => number
  /** Between failed rounds while the DLQ refuses letters; retried without limit. */
  readonly retry?: Schedule.Schedule<unknown>
  readonly timeoutMs?: number
  /** Partitioned mode: the partition whose consumer refused the message, sent as `Arena-Partition`. */
  readonly partition?: number
}

const EMPTY = new Uint8Array(0)

/** A refusal no retry of the same bytes can fix: the message is too big for the server or stream. */
const tooBig = (e: unknown) => /max(imum)?[ _]?payload|message size exceeds|too large/i.test(String((e as Error)?.message ?? e))

export class DeadLetters implements DeadLetterPort {
  /** Unstored letters by seq, in publish (= seq) order. */
  private readonly unstored = new Map<number, Letter>()
  private attempts = 0
  private lastError: unknown = null
  private wake: (() => void) | null = null
  private closed = false
  private waiters: Array<() => void> = []
  private readonly fiber: Fiber.Fiber<void, unknown>

  constructor(private readonly js: JetStreamClient, private readonly subject: string, private readonly o: DeadLetterOptions) {
    this.fiber = Effect.runFork(this.worker())
  }

  publish(seq: number, reason: RejectReason, message: string, data: Uint8Array): void {
    if (this.unstored.has(seq)) return
    const h = headers()
    h.set("Arena-Reason", reason)
    // Header values must stay on one line: a hostile message cannot inject headers. Nor may a value
    // say "Nats-…": nats-server 2.9 finds header names inside values, and a value mentioning
    // Nats-Msg-Id makes it ignore the real one — dlq:<seq> would no longer be deduplicated.
    h.set("Arena-Message", message.replace(/[\r\n]+/g, " ").replace(/(nats)-/gi, "$1_").slice(0, 512))
    h.set("Arena-Seq", String(seq))
    if (this.o.partition !== undefined) h.set("Arena-Partition", String(this.o.partition))
    const letter: Letter = { seq, data, h, size: data.length }
    if (data.length + HEADER_ROOM > this.o.maxPayload()) omitBody(letter)
    this.unstored.set(seq, letter)
    this.wake?.()
  }

  get health(): DeadLetterHealth {
    return {
      unstored: this.unstored.size,
      attempts: this.attempts,
      lastError: this.lastError === null ? null : classifyNats(this.lastError, "storing dead letters").message
    }
  }

  readonly settled: Effect.Effect<void, NatsError> = Effect.tryPromise({
    try: async () => {
      // Every letter up to the newest published so far (the map is in seq order).
      let last = -1
      for (const s of this.unstored.keys()) last = s
      for (;;) {
        const first = this.unstored.keys().next()
        if (first.done === true || first.value > last) return
        if (this.closed) throw new NatsError({ reason: "closed", retryable: true, message: `dead letters closed with ${this.unstored.size} not stored` })
        if (this.attempts > 0) {
          throw classifyNats(this.lastError, `${this.unstored.size} dead letter(s) not stored after ${this.attempts} attempt(s), the oldest at seq ${first.value}`)
        }
        await new Promise<void>((r) => this.waiters.push(r))
      }
    },
    catch: (e) => (e instanceof NatsError ? e : classifyNats(e, "dead-lettering"))
  })

  close(): void {
    this.closed = true
    Effect.runFork(Fiber.interrupt(this.fiber))
    this.wake = null
    this.notify()
  }

  private notify(): void {
    const w = this.waiters
    this.waiters = []
    for (const r of w) r()
  }

  /** One round: publishes up to ROUND letters; fails with the first error if any was not stored. */
  private readonly round = Effect.tryPromise({
    try: async () => {
      const batch = [...take(this.unstored.values(), ROUND)]
      let err: unknown = null
      await mapBounded(batch, IN_FLIGHT, async (l) => {
        try {
          await this.js.publish(this.subject, l.data, { msgID: `dlq:${l.seq}`, headers: l.h, timeout: this.o.timeoutMs ?? 10_000 })
          this.unstored.delete(l.seq)
        } catch (e) {
          // Refused for its size (a smaller server max_payload or stream limit than expected):
          // the next round sends it without its body rather than never.
          if (tooBig(e) && l.data.length > 0) omitBody(l)
          err ??= e
        }
      })
      if (err !== null) throw err
    },
    catch: (e) => e
  })

  private worker(): Effect.Effect<void> {
    const idle = Effect.promise(() => new Promise<void>((r) => { this.wake = r }))
    const round = this.round.pipe(
      Effect.tapError((e) => Effect.sync(() => { this.attempts++; this.lastError = e; this.notify() })),
      Effect.retry(this.o.retry ?? backoff(100, 2_000)),
      Effect.orDie // unreachable: the schedule retries without limit
    )
    const stored = Effect.sync(() => { this.attempts = 0; this.lastError = null; this.notify() })
    return Effect.suspend(() => this.unstored.size === 0 ? idle : Effect.void).pipe(
      Effect.andThen(Effect.sync(() => { this.wake = null })),
      Effect.andThen(round),
      Effect.andThen(stored),
      Effect.forever
    )
  }
}

/** The letter keeps its headers and says how big the original was; Arena-Seq locates the original. */
const omitBody = (l: Letter) => {
  l.h.set("Arena-Body-Omitted", `${l.size} bytes, over the NATS max_payload with headers; the original is at Arena-Seq in the event stream`)
  l.data = EMPTY
}

function* take<A>(it: Iterable<A>, n: number): Generator<A> {
  if (n <= 0) return
  for (const a of it) {
    yield a
    if (--n === 0) return
  }
}
