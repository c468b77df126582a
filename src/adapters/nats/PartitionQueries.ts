// Scatter-gather over NATS request/reply (ARCHITECTURE §9): the owner of partition k answers
// `<prefix>.q.p.<k>.<op>` while it holds k's lease and has caught up; a reader asks every
// partition at once and merges the answers (domain/MergedBoard.ts). No owner means no responders:
// the partitions are named in a PartitionUnavailable error, which the gateway maps to
// 503 partition_unavailable with Retry-After (about the lease TTL). No metadata service: NATS
// interest is the routing table.
import type { NatsConnection, Subscription } from "@nats-io/transport-node"
import { Data, Effect } from "effect"

export class PartitionUnavailable extends Data.TaggedError("PartitionUnavailable")<{
  readonly partitions: ReadonlyArray<number>
  readonly message: string
}> {}

export class PartitionQueryFailed extends Data.TaggedError("PartitionQueryFailed")<{
  readonly partition: number
  readonly message: string
}> {}

export const querySubject = (prefix: string, partition: number, op: string): string => `${prefix}.q.p.${partition}.${op}`

/** An answer, or a promise of one (the correction door reads Postgres: actors/PartitionDoor.ts). */
export type QueryHandler = (op: string, body: unknown) => unknown

const enc = new TextEncoder()
const dec = new TextDecoder()

/** Answers partition `k`'s queries with `handler` until the subscription is closed. */
export const servePartition = (nc: NatsConnection, prefix: string, partition: number, handler: QueryHandler): Subscription => {
  const base = `${prefix}.q.p.${partition}.`
  return nc.subscribe(`${base}*`, {
    callback: (_e, m) => {
      const op = m.subject.slice(base.length)
      const fail = (e: unknown) => ({ error: e instanceof Error ? e.message : String(e) })
      let reply: unknown
      try {
        const body: unknown = m.data.length === 0 ? null : JSON.parse(dec.decode(m.data))
        reply = { ok: handler(op, body) }
      } catch (e) {
        reply = fail(e)
      }
      const ok = (reply as { ok?: unknown }).ok
      if (ok instanceof Promise) {
        ok.then((v: unknown) => m.respond(enc.encode(JSON.stringify({ ok: v }))), (e: unknown) => m.respond(enc.encode(JSON.stringify(fail(e)))))
        return
      }
      m.respond(enc.encode(JSON.stringify(reply)))
    }
  })
}

const isNoResponders = (e: unknown): boolean => {
  const x = e as { name?: string; code?: unknown; message?: string } | undefined
  return x?.name === "NoRespondersError" || String(x?.code ?? "") === "503" || /no responders/i.test(x?.message ?? "")
}
const isTimeout = (e: unknown): boolean => {
  const x = e as { name?: string; code?: unknown; message?: string } | undefined
  return x?.name === "TimeoutError" || /timeout/i.test(x?.message ?? "")
}

/** A body for every partition, or each partition's own (a group's members of that partition, say). */
export type GatherBody = { readonly each: (partition: number) => unknown } | { readonly all: unknown }

/** Asks every partition 0..P-1 at once; answers in partition order. */
export const gather = <A>(nc: NatsConnection, prefix: string, partitions: number, op: string, body: unknown, timeoutMs = 2_000) =>
  gatherEach<A>(nc, prefix, partitions, op, { all: body }, timeoutMs)

/** As `gather`, with a body per partition when `body` is `{ each }`. */
export const gatherEach = <A>(nc: NatsConnection, prefix: string, partitions: number, op: string, body: GatherBody, timeoutMs = 2_000) =>
  gatherSome<A>(nc, prefix, partitions, Array.from({ length: partitions }, (_, k) => k), op, body, timeoutMs)

/** As `gatherEach`, asking only partitions `ks` of the P (`partitions`); answers in the order of `ks`. */
export const gatherSome = <A>(nc: NatsConnection, prefix: string, partitions: number, ks: ReadonlyArray<number>, op: string, body: GatherBody, timeoutMs = 2_000) =>
  Effect.tryPromise({
    try: async () => {
      const shared = "all" in body ? enc.encode(JSON.stringify(body.all)) : null
      const missing: Array<number> = []
      const answers = await Promise.all(ks.map(async (k) => {
        try {
          const payload = shared ?? enc.encode(JSON.stringify((body as { readonly each: (partition: number) => unknown }).each(k)))
          const m = await nc.request(querySubject(prefix, k, op), payload, { timeout: timeoutMs })
          return { k, reply: JSON.parse(dec.decode(m.data)) as { ok?: A; error?: string } }
        } catch (e) {
          if (isNoResponders(e) || isTimeout(e)) { missing.push(k); return { k, reply: null } }
          throw e
        }
      }))
      if (missing.length > 0) {
        missing.sort((a, b) => a - b)
        return new PartitionUnavailable({ partitions: missing, message: `partition${missing.length > 1 ? "s" : ""} ${missing.join(", ")} of ${partitions} have no owner answering (no responders or timeout): retry after about the lease TTL` })
      }
      const out: Array<A> = []
      for (const a of answers) {
        if (a.reply?.error !== undefined) return new PartitionQueryFailed({ partition: a.k, message: `partition ${a.k} ${op}: ${a.reply.error}` })
        out.push(a.reply!.ok as A)
      }
      return out
    },
    catch: (e) => new PartitionQueryFailed({ partition: -1, message: `${op}: ${e instanceof Error ? e.message : String(e)}` })
  }).pipe(Effect.flatMap((r) => (Array.isArray(r) ? Effect.succeed(r) : Effect.fail(r))))

/** Asks one partition (the owner of a user, say); fails PartitionUnavailable when nobody answers. */
export const askPartition = <A>(nc: NatsConnection, prefix: string, partition: number, op: string, body: unknown, timeoutMs = 2_000) =>
  Effect.tryPromise({
    try: async () => {
      try {
        const m = await nc.request(querySubject(prefix, partition, op), enc.encode(JSON.stringify(body)), { timeout: timeoutMs })
        const reply = JSON.parse(dec.decode(m.data)) as { ok?: A; error?: string }
        return reply.error !== undefined ? new PartitionQueryFailed({ partition, message: `partition ${partition} ${op}: ${reply.error}` }) : { ok: reply.ok as A }
      } catch (e) {
        if (isNoResponders(e) || isTimeout(e)) return new PartitionUnavailable({ partitions: [partition], message: `partition ${partition} has no owner answering (no responders or timeout): retry after about the lease TTL` })
        throw e
      }
    },
    catch: (e) => new PartitionQueryFailed({ partition, message: `${op}: ${e instanceof Error ? e.message : String(e)}` })
  }).pipe(Effect.flatMap((r) => ("ok" in r ? Effect.succeed(r.ok) : Effect.fail(r))))
