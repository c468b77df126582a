// Exact global board reads in partitioned mode (ARCHITECTURE §9): every partition's owner is asked
// at once over request/reply (PartitionQueries.ts) and the answers are merged (domain/MergedBoard.ts):
// pages by keyset merge with ranks from the partitions' counts, around-me from each partition's
// neighbours of the user's key. Stateless: any gateway answers any read.
import type { NatsConnection } from "@nats-io/transport-node"
import { Effect } from "effect"
import type { PartAround, PartPage } from "../../domain/MergedBoard.js"
import { mergeAround, mergePage } from "../../domain/MergedBoard.js"
import type { BoardKey, Window } from "../../domain/Model.js"
import { partitionOfUser } from "../../domain/Partition.js"
import type { MergedAround, MergedPage, MergedReadsPort, PartitionRow, PartitionState, PartitionsUnavailable } from "../../ports/MergedReads.js"
import type { BoardCursor, RankedEntry } from "../../ports/ReadModel.js"
import { askPartition, gather } from "./PartitionQueries.js"

interface RowsPage { readonly entries: ReadonlyArray<PartitionRow>; readonly throughCursor: number; readonly size: number; readonly seq: number; readonly period: string }
interface RowsAround { readonly better: ReadonlyArray<PartitionRow>; readonly worse: ReadonlyArray<PartitionRow>; readonly betterCount: number }

/** A partition's row at its merged rank (private rows keep their mark: the gateway anonymizes them). */
export const rankedEntry = (r: PartitionRow, rank: number): RankedEntry => {
  const e: RankedEntry = { rank, user_id: r.userId, username: r.username, xp: r.xp, level: r.level }
  return r.private === true ? { ...e, private: true } : e
}

const ranked = (rows: Map<string, PartitionRow>, userId: string, rank: number): RankedEntry => rankedEntry(rows.get(userId)!, rank)

/** Rejects with the port's PartitionsUnavailable (the gateway's 503) or an Error. */
export const run = async <A>(e: Effect.Effect<A, { readonly _tag: string; readonly message: string }>): Promise<A> => {
  const r = await Effect.runPromise(e.pipe(Effect.match({ onFailure: (err) => ({ err }), onSuccess: (ok) => ({ ok }) })))
  if ("ok" in r) return r.ok
  throw r.err._tag === "PartitionUnavailable" ? (r.err as unknown as PartitionsUnavailable) : new Error(r.err.message)
}

export const makeMergedReads = (nc: NatsConnection, prefix: string, partitions: number, timeoutMs = 2_000): MergedReadsPort => {
  const all = <A>(op: string, body: unknown) => gather<A>(nc, prefix, partitions, op, body, timeoutMs)
  const one = <A>(k: number, op: string, body: unknown) => askPartition<A>(nc, prefix, k, op, body, timeoutMs)
  /** The period to read: as asked, or the latest current period any partition reports. */
  const periodOf = (board: string, window: Window, period: string | null) =>
    period !== null ? Effect.succeed({ period, seq: 0 }) : all<{ period: string; seq: number }>("top", { board, window, period: null, n: 0 }).pipe(
      Effect.map((ps) => ({ period: ps.reduce((m, p) => (p.period > m ? p.period : m), ps[0]!.period), seq: seqOf(ps) }))
    )
  const states = all<PartitionState>("state", {})
  /**
   * The low watermark (ARCHITECTURE §6 "honesty of reads", §9): the lowest seq the partitions had
   * applied when they answered, so every event ≤ seq is reflected in the answer (the highest would
   * name events a lagging partition has not applied yet). Ticks move an idle partition's seq once a second.
   */
  const seqOf = (parts: ReadonlyArray<{ readonly seq: number }>): number => Math.max(0, Math.min(...parts.map((p) => p.seq)))
  return {
    partitions,
    page: (board, window, period, after: BoardCursor | null, limit) => run(Effect.gen(function*() {
      // No period: each partition reads its current one; should they differ (a partition's stream
      // time has not passed a rollover yet), ask again for the latest.
      let parts = yield* all<RowsPage>("page", { board, window, period, at: after, limit })
      const latest = parts.reduce((m, x) => (x.period > m ? x.period : m), parts[0]!.period)
      if (parts.some((x) => x.period !== latest)) parts = yield* all<RowsPage>("page", { board, window, period: latest, at: after, limit })
      const key: BoardKey = { board, window, period: latest }
      const rows = new Map<string, PartitionRow>()
      for (const part of parts) for (const r of part.entries) rows.set(r.userId, r)
      const merged = mergePage(parts as ReadonlyArray<PartPage>, limit)
      const seq = seqOf(parts)
      return {
        key, seq, total: merged.total,
        entries: merged.entries.map((e) => ({ ...ranked(rows, e.userId, e.rank), reached_seq: e.seq }))
      } satisfies MergedPage
    })),
    around: (board, window, period, userId, radius) => run(Effect.gen(function*() {
      const p = yield* periodOf(board, window, period)
      const key: BoardKey = { board, window, period: p.period }
      const me = yield* one<PartitionRow | null>(partitionOfUser(userId, partitions), "user", { ...key, userId })
      const sizes = yield* all<RowsPage>("page", { ...key, at: null, limit: 0 })
      const total = sizes.reduce((s, x) => s + x.size, 0)
      const seq = seqOf(sizes)
      if (me === null) return { key, seq, total, user: null, entries: [] } satisfies MergedAround
      const parts = yield* all<RowsAround>("around", { ...key, at: { xp: me.xp, seq: me.seq }, r: radius })
      const rows = new Map<string, PartitionRow>([[me.userId, me]])
      for (const part of parts) for (const r of [...part.better, ...part.worse]) rows.set(r.userId, r)
      const merged = mergeAround(me, parts as ReadonlyArray<PartAround>, radius)
      const entries = merged.map((e) => ranked(rows, e.userId, e.rank))
      return { key, seq, total, user: entries.find((e) => e.user_id === userId) ?? null, entries } satisfies MergedAround
    })),
    profile: (userId) => run(Effect.gen(function*() {
      type Score = { board: string; window: Window; period: string; xp: number; seq: number }
      const p = yield* one<{ core: Record<string, unknown>; scores: Array<Score> } | null>(partitionOfUser(userId, partitions), "profile", { userId })
      if (p === null) return null
      const asks = p.scores.map((s) => ({ board: s.board, window: s.window, period: s.period, at: { xp: s.xp, seq: s.seq } }))
      const counts = asks.length === 0 ? [] : yield* all<Array<number>>("betterMany", { asks })
      const ranks = p.scores.map((s, i) => ({ board: s.board, window: s.window, period: s.period, rank: 1 + counts.reduce((n, c) => n + c[i]!, 0), xp: s.xp }))
      return { ...p.core, ranks }
    })),
    states: () => run(states)
  }
}
