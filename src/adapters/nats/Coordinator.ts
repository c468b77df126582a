// The one coordinator (ARCHITECTURE §9): whoever holds the `coordinator` lease reads the live
// members (each member keeps a `member.<id>` lease), computes the partition assignment from the
// stored one (domain/Assignment.ts: balanced, sticky, epoch rising on change) and writes it to
// the assignment stream, expecting the sequence it read. Every member follows that one record, so
// no member acts on its own view of who is alive. A deposed coordinator's write is refused (the
// expected sequence moved on); the write is read back for the nats-server < 2.9.21 race, as leases are.
import type { JetStreamClient, JetStreamManager, StreamConfig } from "@nats-io/jetstream"
import { DiscardPolicy, RetentionPolicy, StorageType } from "@nats-io/jetstream"
import { Clock, Effect } from "effect"
import type { Assignment } from "../../domain/Assignment.js"
import { assign, membershipSettle } from "../../domain/Assignment.js"
import { ensureStream } from "./ClusterOps.js"
import { keepLease } from "./LeaseKeeper.js"
import type { Held, Leases } from "./Leases.js"
import type { NatsError } from "./NatsError.js"
import { classifyNats } from "./NatsError.js"

export interface AssignmentSettings {
  /** The stream keeping the assignment (no max_age: it must outlive every lease). */
  readonly stream: string
  readonly subject: string
  readonly replicas: number
}

export interface StoredAssignment { readonly assignment: Assignment; readonly seq: number }

export const assignmentStreamConfig = (s: AssignmentSettings): Partial<StreamConfig> & { name: string } => ({
  name: s.stream,
  subjects: [s.subject],
  retention: RetentionPolicy.Limits,
  storage: StorageType.File,
  discard: DiscardPolicy.Old,
  max_msgs_per_subject: 1,
  num_replicas: s.replicas
})

export const MEMBER_PREFIX = "member"
export const COORDINATOR_LEASE = "coordinator"
export const memberLease = (id: string): string => `${MEMBER_PREFIX}.${id}`

export class Coordinator {
  private readonly enc = new TextEncoder()
  /** Whether the live members have been stable long enough to be assigned (Assignment.ts). */
  private readonly settled: ReturnType<typeof membershipSettle>
  constructor(
    private readonly settings: AssignmentSettings,
    private readonly partitions: number,
    private readonly leases: Leases,
    private readonly js: JetStreamClient,
    private readonly jsm: JetStreamManager,
    settle: { readonly settleMs?: number; readonly maxWaitMs?: number } = {}
  ) {
    this.settled = membershipSettle(settle.settleMs, settle.maxWaitMs)
  }

  provision(): Effect.Effect<void, NatsError> {
    return ensureStream(this.jsm, assignmentStreamConfig(this.settings)).pipe(Effect.asVoid)
  }

  /** The assignment every member follows (null before the first coordinator wrote one). */
  read(): Effect.Effect<StoredAssignment | null, NatsError> {
    return Effect.tryPromise({
      try: async () => {
        const m = await this.jsm.streams.getMessage(this.settings.stream, { last_by_subj: this.settings.subject })
        if (m === null) return null
        const body = m.json<{ assignment: Assignment; nonce: string }>()
        return { assignment: body.assignment, seq: m.seq, nonce: body.nonce }
      },
      catch: (e) => classifyNats(e, "reading the partition assignment")
    })
  }

  /**
   * One round, for a member that holds the coordinator lease (`held` is checked by the caller's
   * keeper): recompute from the live members and write when it changed. Returns what is in force.
   */
  round(held: Held): Effect.Effect<StoredAssignment | null, NatsError> {
    const { js, enc, partitions, settings, settled } = this
    const members = this.leases.held(MEMBER_PREFIX)
    const read = this.read()
    return Effect.gen(function*() {
      const live = yield* members
      const stored = yield* read
      const now = yield* Clock.currentTimeMillis
      if (live.length > 0 && !settled(live, stored?.assignment.members ?? null, now)) return stored
      const next = assign(partitions, live, stored?.assignment)
      if (next === null) return stored
      if (stored !== null && next.epoch === stored.assignment.epoch) return stored
      const nonce = `${held.holder}/${held.token}/${next.epoch}/${Math.random().toString(36).slice(2, 10)}`
      yield* Effect.tryPromise({
        try: () => js.publish(settings.subject, enc.encode(JSON.stringify({ assignment: next, nonce, coordinator: held.holder, token: held.token })), {
          expect: { lastSubjectSequence: stored?.seq ?? 0, streamName: settings.stream }
        }).then(() => true, (e: unknown) => {
          if (/wrong last sequence/i.test((e as Error)?.message ?? "")) return false
          throw e
        }),
        catch: (e) => classifyNats(e, "writing the partition assignment")
      })
      const after = yield* read
      return after
    })
  }
}

/**
 * Runs for as long as the caller keeps the fiber: campaigns for the coordinator lease every
 * `periodMs`; while it holds it (renewed by its keeper on its own fiber), runs a round each period,
 * and `whileHeld` (the ticker, Ticker.ts) on a fiber of its own, never behind a slow round; that
 * fiber ends when the lease is lost or released. Interrupting the fiber releases the lease, so
 * another member takes over within a period.
 */
export const coordinate = (leases: Leases, coordinator: Coordinator, member: string, periodMs: number, whileHeld: Effect.Effect<void> = Effect.void) =>
  Effect.gen(function*() {
    for (;;) {
      const r = yield* leases.acquire(COORDINATOR_LEASE, member).pipe(Effect.orElseSucceed(() => null))
      if (r !== null && r._tag === "Acquired") {
        yield* Effect.scoped(Effect.gen(function*() {
          const kept = yield* keepLease(leases, r.held)
          yield* Effect.forkScoped(whileHeld)
          for (;;) {
            const h = kept.current()
            if (h === null) return
            yield* coordinator.round(h).pipe(Effect.ignore)
            yield* Effect.sleep(periodMs)
          }
        }))
      } else {
        yield* Effect.sleep(periodMs)
      }
    }
  })
