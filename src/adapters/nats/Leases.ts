// Leases on NATS JetStream with fencing tokens (ARCHITECTURE §9, shared/notes/scaleout.md §1.6):
// who owns partition k (`p.<k>`), who coordinates, who merges a board. One R3 stream, one subject
// per lease, at most one message per subject, max_age = TTL (the KV pattern, without the KV client):
//   acquire = publish with Nats-Expected-Last-Subject-Sequence: 0   (only when nobody holds it)
//   renew   = publish with Nats-Expected-Last-Subject-Sequence: <my revision>, once a read shows
//             the subject's last message is still my last write (on a recreated stream another
//             holder's message can sit at my revision)
//   release = purge the subject up to my revision (a newer holder's message survives)
//   expiry  = max_age removes an unrenewed message, so the next acquire succeeds.
// The revision (the stream sequence of the lease message) only grows: it is the fencing token a
// store compares (adapters/postgres/PartitionFence.ts), so a paused ex-holder can never commit.
// It grows only within one stream: a lease stream lost and recreated (NATS stores wiped) starts
// again at 1. So a held lease also carries its stream's identity, the creation time NATS reports
// in stream info (`created`), and the fence orders tokens of different streams by it.
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
  /** Lease time to live (the stream's max_age): ARENA_LEASE_TTL, 20 s by default (see NATS_FAILOVER_MS). */
  readonly ttlMs: number
  readonly replicas: number
}

/** A lease this member holds: `token` is the fencing token; act on it only before `validUntil`. */
export interface Held {
  readonly name: string
  readonly holder: string
  readonly token: number
  /** The lease stream that issued `token`: its creation time as NATS reports it (stream info `created`). */
  readonly streamCreated: string
  /** The nonce of the holder's last write: a renew first checks that the lease is still that message. */
  readonly nonce: string
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

/**
 * How long a 2.9 JetStream stream can be without a leader after its leader's node dies: followers
 * wait a random 4–9 s without heartbeats before they campaign (nats-server server/raft.go,
 * minElectionTimeoutDefault..maxElectionTimeoutDefault), the campaign takes up to 0.8 s, and a
 * client on the dead node reconnects within about a second. A lease must stay valid across that
 * window without a renew, or a NATS node failure takes partitions from live processors.
 */
export const NATS_FAILOVER_MS = 11_000

/** How often a held lease is renewed: a third of the TTL, at most every second and at least every 100 ms. */
export const renewEveryMs = (ttlMs: number): number => Math.max(100, Math.min(1_000, Math.floor(ttlMs / 3)))

/**
 * The longest time a held lease survives without a successful renew (its validity after the last
 * one, TTL − margin, less one renew period). The lease rides out a NATS node failure only when
 * this is at least NATS_FAILOVER_MS: 15 s at the default TTL of 20 s, 7 s at 10 s (too short).
 */
export const renewGapToleranceMs = (ttlMs: number): number => ttlMs - leaseMarginMs(ttlMs) - renewEveryMs(ttlMs)

/** The margin a holder keeps from the TTL for clock rate and delivery delays: a fifth of it. */
export const leaseMarginMs = (ttlMs: number): number => Math.floor(ttlMs / 5)

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

/** The stream is gone (10059), or nothing captures the subject (503 no responders: also a settling cluster). */
const isStreamMissing = (e: NatsError): boolean => e.reason === "no_responders" || /stream not found/i.test(e.message)

export class Leases {
  /** Margin kept from the TTL for clock rate and delivery delays (a fifth of the TTL). */
  readonly marginMs: number
  private readonly enc = new TextEncoder()
  private writes = 0
  /** The lease stream's creation time as last seen (null: not read yet). */
  private streamCreated: string | null = null

  constructor(
    readonly settings: LeaseSettings,
    private readonly js: JetStreamClient,
    private readonly jsm: JetStreamManager,
    // Short: a publish sent while the stream has no leader gets no answer at all, and is retried
    // only after this (the new leader does not see it); 2 s is ample for an ack under load.
    private readonly requestTimeoutMs = Math.max(500, Math.min(2_000, Math.floor(settings.ttlMs / 4)))
  ) {
    this.marginMs = leaseMarginMs(settings.ttlMs)
  }

  /** Creates the lease stream (idempotent; a lost create reply is retried for `budgetMs`). */
  provision(budgetMs?: number): Effect.Effect<void, NatsError> {
    return ensureStream(this.jsm, leaseStreamConfig(this.settings), budgetMs).pipe(
      Effect.tap((info) => Effect.sync(() => { this.streamCreated = info.created })),
      Effect.asVoid
    )
  }

  /** The lease stream's creation time, as NATS reports it now (its identity: a recreated stream has a later one). */
  streamIdentity(): Effect.Effect<string, NatsError> {
    return Effect.tryPromise({
      try: async () => (await this.jsm.streams.info(this.settings.stream)).created,
      catch: (e) => classifyNats(e, `reading lease stream ${this.settings.stream}`)
    }).pipe(Effect.tap((created) => Effect.sync(() => { this.streamCreated = created })))
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

  /**
   * Takes the lease when nobody holds it. The token comes with the identity of the stream that
   * issued it: the stream is read before the write (when not known yet) and after it, and a lease
   * taken while the stream was being replaced is given back (Taken, by null: try again), so a
   * token is never paired with a newer stream than its own. A missing lease stream (a NATS cluster
   * whose stores were wiped) is created again before the next attempt.
   */
  acquire(name: string, holder: string): Effect.Effect<AcquireResult, NatsError> {
    const known = this.streamCreated
    return (known === null ? this.streamIdentity() : Effect.succeed(known)).pipe(
      Effect.flatMap((before) => this.write(name, holder, 0, before)),
      Effect.flatMap((held) => held === null
        ? this.read(name).pipe(Effect.map((by): AcquireResult => ({ _tag: "Taken", by })))
        : this.streamIdentity().pipe(Effect.flatMap((after) => after === held.streamCreated
          ? Effect.succeed<AcquireResult>({ _tag: "Acquired", held })
          : this.giveBack(held).pipe(Effect.as<AcquireResult>({ _tag: "Taken", by: null }))))),
      Effect.tapError((e) => isStreamMissing(e) ? this.provision(this.settings.ttlMs).pipe(Effect.ignore) : Effect.void)
    )
  }

  /**
   * Gives back a lease whose stream identity is in doubt: purged only when the subject's last
   * message is still this write (same token and holder); a message of a newer stream at a lower
   * sequence than `held.token` belongs to someone else and stays.
   */
  private giveBack(held: Held): Effect.Effect<void> {
    return this.read(held.name).pipe(
      Effect.flatMap((now) => now !== null && now.token === held.token && now.holder === held.holder ? this.release(held) : Effect.void),
      Effect.ignore
    )
  }

  /**
   * Extends a held lease; null means it is lost (expired and maybe taken): stop acting on it.
   * The subject's last message must still be this holder's last write (its nonce) before the
   * conditional publish: on a recreated lease stream another holder's message can sit at the very
   * sequence this lease expects (sequences start again at 1), and the publish alone would take it.
   */
  renew(held: Held): Effect.Effect<Held | null, NatsError> {
    return this.read(held.name).pipe(
      Effect.flatMap((now) => now !== null && now.token === held.token && now.nonce === held.nonce
        ? this.write(held.name, held.holder, held.token, held.streamCreated)
        : Effect.succeed(null))
    )
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
  private write(name: string, holder: string, expected: number, streamCreated: string): Effect.Effect<Held | null, NatsError> {
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
      return { name, holder, token: last.token, streamCreated, nonce, validUntil: deadline }
    })
  }
}

export const makeLeases = (settings: LeaseSettings, js: JetStreamClient, jsm: JetStreamManager): Leases => {
  if (!Number.isInteger(settings.ttlMs) || settings.ttlMs < 1_000) throw new NatsError({ reason: "api", retryable: false, message: `lease TTL must be at least 1000 ms, got ${settings.ttlMs}` })
  return new Leases(settings, js, jsm)
}
