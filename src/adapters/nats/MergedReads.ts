// Exact global board reads in partitioned mode (ARCHITECTURE §9): every partition's owner is asked
// at once over request/reply (PartitionQueries.ts) and the answers are merged (domain/MergedBoard.ts):
// pages by keyset merge with ranks from the partitions' counts, around-me from each partition's
// neighbours of the user's key. Stateless: any gateway answers any read.
import type { NatsConnection } from "@nats-io/transport-node"
import { Effect } from "effect"
import type { PartAround, PartPage } from "../../domain/MergedBoard.js"
import { mergeAround, mergePage } from "../../domain/MergedBoard.js"
import type { BoardKey, Window } from "../../domain/Model.js"
import { partitionOfUser, usersByPartition } from "../../domain/Partition.js"
import type { MergedAround, MergedPage, MergedReadsPort, PartitionRow, PartitionState, PartitionsUnavailable } from "../../ports/MergedReads.js"
import type { BoardCursor, RankedEntry } from "../../ports/ReadModel.js"
import { GLOBAL_BOARD } from "../../domain/BoardKeys.js"
import { askPartition, gather, gatherEach } from "./PartitionQueries.js"

interface RowsPage { readonly entries: ReadonlyArray<PartitionRow>; readonly throughCursor: number; readonly size: number; readonly seq: number; readonly period: string }
interface RowsAround { readonly better: ReadonlyArray<PartitionRow>; readonly worse: ReadonlyArray<PartitionRow>; readonly betterCount: number }
/** A group board's part around a member (`groupAround`): with the part's size, seq and period. */
interface GroupAround extends RowsAround { readonly size: number; readonly seq: number; readonly period: string }

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
  /** A group's members by partition: each partition is asked about its own members only. */
  const byPartition = (members: ReadonlyArray<string>): Array<Array<string>> => usersByPartition(members, partitions)
  /**
   * A keyset page merged from each partition's part, `ask`ed for a period (null: each partition's
   * current one; should they differ, a partition's stream time has not passed a rollover yet, it
   * is asked again for the latest).
   */
  const mergedPage = (board: string, window: Window, period: string | null, limit: number, ask: (period: string | null) => Effect.Effect<ReadonlyArray<RowsPage>, { readonly _tag: string; readonly message: string }>) =>
    run(Effect.gen(function*() {
      let parts = yield* ask(period)
      const latest = parts.reduce((m, x) => (x.period > m ? x.period : m), parts[0]!.period)
      if (parts.some((x) => x.period !== latest)) parts = yield* ask(latest)
      const key: BoardKey = { board, window, period: latest }
      const rows = new Map<string, PartitionRow>()
      for (const part of parts) for (const r of part.entries) rows.set(r.userId, r)
      const merged = mergePage(parts as ReadonlyArray<PartPage>, limit)
      const seq = seqOf(parts)
      return {
        key, seq, total: merged.total,
        entries: merged.entries.map((e) => ({ ...ranked(rows, e.userId, e.rank), reached_seq: e.seq }))
      } satisfies MergedPage
    }))
  /** The user's row and neighbours from each partition's part around the user's key. */
  const mergedAround = (key: BoardKey, seq: number, total: number, me: PartitionRow, parts: ReadonlyArray<RowsAround>, radius: number): MergedAround => {
    const rows = new Map<string, PartitionRow>([[me.userId, me]])
    for (const part of parts) for (const r of [...part.better, ...part.worse]) rows.set(r.userId, r)
    const entries = mergeAround(me, parts as ReadonlyArray<PartAround>, radius).map((e) => ranked(rows, e.userId, e.rank))
    return { key, seq, total, user: entries.find((e) => e.user_id === me.userId) ?? null, entries }
  }
  return {
    partitions,
    page: (board, window, period, after: BoardCursor | null, limit) =>
      mergedPage(board, window, period, limit, (p) => all<RowsPage>("page", { board, window, period: p, at: after, limit })),
    groupPage: (board, members, window, period, after, limit) => {
      const mine = byPartition(members)
      return mergedPage(board, window, period, limit, (p) => gatherEach<RowsPage>(nc, prefix, partitions, "groupPage", { each: (k) => ({ window, period: p, members: mine[k], at: after, limit }) }, timeoutMs))
    },
    groupAround: (board, members, window, period, userId, radius) => run(Effect.gen(function*() {
      const p = yield* periodOf(board, window, period)
      const mine = byPartition(members)
      // The member's key on the global board of the window (none: not a member, or no score).
      const me = members.includes(userId) ? yield* one<PartitionRow | null>(partitionOfUser(userId, partitions), "user", { board: GLOBAL_BOARD, window, period: p.period, userId }) : null
      const at = me === null ? null : { xp: me.xp, seq: me.seq }
      const parts = yield* gatherEach<GroupAround>(nc, prefix, partitions, "groupAround", { each: (k) => ({ window, period: p.period, members: mine[k], at, r: radius }) }, timeoutMs)
      const key: BoardKey = { board, window, period: p.period }
      const seq = seqOf(parts)
      const total = parts.reduce((s, x) => s + x.size, 0)
      return me === null ? { key, seq, total, user: null, entries: [] } satisfies MergedAround : mergedAround(key, seq, total, me, parts, radius)
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
      return mergedAround(key, seq, total, me, parts, radius)
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
