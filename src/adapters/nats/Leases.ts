// Leases on NATS JetStream with fencing tokens (ARCHITECTURE §9, shared/notes/scaleout.md §1.6):
// who owns partition k (`p.<k>`), who coordinates, who merges a board. One R3 stream, one subject
// per lease, at most one message per subject, max_age = TTL (the KV pattern, without the KV client):
//   acquire = publish with Nats-Expected-Last-Subject-Sequence: 0   (only when nobody holds it)
//   renew   = publish with Nats-Expected-Last-Subject-Sequence: <my revision>
//   release = purge the subject up to my revision (a newer holder's message survives)
//   expiry  = max_age removes an unrenewed message, so the next acquire succeeds.
// The revision (the stream sequence of the lease message) only grows: it is the fencing token a
// store compares (adapters/postgres/PartitionFence.ts), so a paused ex-holder can never commit.
//
// nats-server < 2.9.21 checks an expected subject sequence > 0 only when the leader proposes the
// write, not when it applies it (fixed by nats-server commit 244dda8, "race around check for last
// sequence per subject"); `0` is checked at apply time. So a renew racing an expiry plus a fresh
// acquire can both be acked. After every acquire and renew the holder therefore reads the
// subject's last message back: if it is not its own, it has lost. Two holders may still believe
// for one renew period that they hold; the fence, not the lease, is what keeps data safe.
import type { JetStreamClient, JetStreamManager, StreamConfig } from "@nats-io/jetstream"
import { DiscardPolicy, RetentionPolicy, StorageType } from "@nats-io/jetstream"
import { Clock, Effect } from "effect"
import { ensureStream, isSettling } from "./ClusterOps.js"
import { NatsError, classifyNats } from "./NatsError.js"

export interface LeaseSettings {
  /** The lease stream, e.g. ARENA_LEASES. */
  readonly stream: string
  /** Subject prefix; a lease `name` lives on `<prefix>.<name>`. */
  readonly prefix: string
  /** Lease time to live (the stream's max_age): 10 s in production, 3 s in tests. */
  readonly ttlMs: number
  readonly replicas: number
}

/** A lease this member holds: `token` is the fencing token; act on it only before `validUntil`. */
export interface Held {
  readonly name: string
  readonly holder: string
  readonly token: number
  /** Local clock (ms): the send time of the last successful acquire/renew + TTL − margin. */
  readonly validUntil: number
}

/** Who holds a lease, as the stream says. */
export interface LeaseRecord {
  readonly holder: string
  readonly token: number
  readonly writtenAt: number
  /** Identifies the write (holder, time, counter, random), so a holder recognises its own message. */
  readonly nonce: string
}

export type AcquireResult =
  | { readonly _tag: "Acquired"; readonly held: Held }
  | { readonly _tag: "Taken"; readonly by: LeaseRecord | null }

const LEASE_NAME = /^[A-Za-z0-9_:=~-]+(\.[A-Za-z0-9_:=~-]+)*$/

export const leaseStreamConfig = (s: LeaseSettings): Partial<StreamConfig> & { name: string } => ({
  name: s.stream,
  subjects: [`${s.prefix}.>`],
  retention: RetentionPolicy.Limits,
  storage: StorageType.File,
  discard: DiscardPolicy.Old,
  max_msgs_per_subject: 1,
  max_age: s.ttlMs * 1_000_000,
  num_replicas: s.replicas,
  // Lease writes must not be deduplicated away: each carries a unique body, and no msg id.
  duplicate_window: Math.min(s.ttlMs, 120_000) * 1_000_000
})

/** The wrong-last-sequence answer (JetStream error 10071): someone else wrote, or the lease expired. */
const isWrongLast = (e: unknown): boolean => {
  const x = e as { code?: unknown; api_error?: { err_code?: number }; message?: string }
  return x?.api_error?.err_code === 10071 || /wrong last sequence/i.test(x?.message ?? "")
}

export class Leases {
  /** Margin kept from the TTL for clock rate and delivery delays (a fifth of the TTL). */
  readonly marginMs: number
  private readonly enc = new TextEncoder()
  private writes = 0

  constructor(
    readonly settings: LeaseSettings,
    private readonly js: JetStreamClient,
    private readonly jsm: JetStreamManager,
    private readonly requestTimeoutMs = Math.max(500, Math.floor(settings.ttlMs / 4))
  ) {
    this.marginMs = Math.floor(settings.ttlMs / 5)
  }

  /** Creates the lease stream (idempotent; a lost create reply is retried). */
  provision(): Effect.Effect<void, NatsError> {
    return ensureStream(this.jsm, leaseStreamConfig(this.settings)).pipe(Effect.asVoid)
  }

  subject(name: string): string {
    if (!LEASE_NAME.test(name)) throw new Error(`lease name ${JSON.stringify(name)} must be dot-separated tokens of [A-Za-z0-9_:=~-]`)
    return `${this.settings.prefix}.${name}`
  }

  /** The current holder, or null when nobody holds the lease. */
  read(name: string): Effect.Effect<LeaseRecord | null, NatsError> {
    const subject = this.subject(name)
    return Effect.tryPromise({
      try: async () => {
        const m = await this.jsm.streams.getMessage(this.settings.stream, { last_by_subj: subject })
        if (m === null) return null
        const body = m.json<{ holder?: string; nonce?: string }>()
        return { holder: String(body.holder ?? ""), token: m.seq, writtenAt: m.timestamp ? Date.parse(m.timestamp) : 0, nonce: String(body.nonce ?? "") }
      },
      catch: (e) => classifyNats(e, `reading lease ${name}`)
    })
  }

  /** The names of the leases held now under `namePrefix` (e.g. "member" lists `member.<id>`). */
  held(namePrefix: string): Effect.Effect<Array<string>, NatsError> {
    const base = `${this.subject(namePrefix)}.`
    return Effect.tryPromise({
      try: async () => {
        const info = await this.jsm.streams.info(this.settings.stream, { subjects_filter: `${base}>` })
        return Object.keys(info.state.subjects ?? {}).filter((s) => s.startsWith(base)).map((s) => s.slice(base.length)).sort()
      },
      catch: (e) => classifyNats(e, `listing leases ${namePrefix}.*`)
    })
  }

  /** Takes the lease when nobody holds it. */
  acquire(name: string, holder: string): Effect.Effect<AcquireResult, NatsError> {
    return this.write(name, holder, 0).pipe(
      Effect.flatMap((held) => held === null
        ? this.read(name).pipe(Effect.map((by): AcquireResult => ({ _tag: "Taken", by })))
        : Effect.succeed<AcquireResult>({ _tag: "Acquired", held }))
    )
  }

  /** Extends a held lease; null means it is lost (expired and maybe taken): stop acting on it. */
  renew(held: Held): Effect.Effect<Held | null, NatsError> {
    return this.write(held.name, held.holder, held.token)
  }

  /** Gives the lease up (only the message at or below `held.token`: a newer holder is untouched). */
  release(held: Held): Effect.Effect<void, NatsError> {
    const subject = this.subject(held.name)
    return Effect.tryPromise({
      try: () => this.jsm.streams.purge(this.settings.stream, { filter: subject, seq: held.token + 1 }),
      catch: (e) => classifyNats(e, `releasing lease ${held.name}`)
    }).pipe(Effect.asVoid)
  }

  /**
   * Publishes the lease expecting `expected` as the subject's last sequence, then reads the subject
   * back and keeps the lease only if the last message is this write (its nonce): that catches the
   * 2.9 race above, and a write whose ack was lost but which landed. null: refused or overtaken.
   * Settling answers are retried while the lease could still be valid; NatsErrors after that.
   */
  private write(name: string, holder: string, expected: number): Effect.Effect<Held | null, NatsError> {
    const subject = this.subject(name)
    const { stream, ttlMs } = this.settings
    const { js, enc, marginMs, requestTimeoutMs } = this
    const readBack = this.read(name)
    const n = (this.writes++).toString(36)
    return Effect.gen(function*() {
      const sentAt = yield* Clock.currentTimeMillis
      const deadline = sentAt + ttlMs - marginMs
      const nonce = `${holder}/${sentAt}/${n}/${Math.random().toString(36).slice(2, 10)}`
      const body = enc.encode(JSON.stringify({ holder, nonce, ttl_ms: ttlMs }))
      const refused = yield* Effect.tryPromise({
        try: async () => {
          let delay = 50
          for (;;) {
            try {
              await js.publish(subject, body, { expect: { lastSubjectSequence: expected, streamName: stream }, timeout: requestTimeoutMs })
              return false
            } catch (e) {
              if (isWrongLast(e)) return true
              if (!isSettling(e) || Date.now() + delay >= deadline) throw e
              await new Promise((r) => setTimeout(r, delay))
              delay = Math.min(delay * 2, 500)
            }
          }
        },
        catch: (e) => classifyNats(e, `writing lease ${name}`)
      })
      const last = yield* readBack
      // A refusal after a retried publish may be our own first attempt, acked too late: the nonce says.
      if (last === null || last.nonce !== nonce) return null
      if (refused && expected !== 0 && last.token <= expected) return null
      return { name, holder, token: last.token, validUntil: deadline }
    })
  }
}

export const makeLeases = (settings: LeaseSettings, js: JetStreamClient, jsm: JetStreamManager): Leases => {
  if (!Number.isInteger(settings.ttlMs) || settings.ttlMs < 1_000) throw new NatsError({ reason: "api", retryable: false, message: `lease TTL must be at least 1000 ms, got ${settings.ttlMs}` })
  return new Leases(settings, js, jsm)
}
