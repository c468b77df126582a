// Exact global board reads in partitioned mode (ARCHITECTURE §9): every partition's owner is asked
// at once over request/reply (PartitionQueries.ts) and the answers are merged (domain/MergedBoard.ts):
// pages by keyset merge with ranks from the partitions' counts, around-me from each partition's
// neighbours of the user's key (`aroundUser`, which the live around-me windows share:
// MergedWindows.ts). A closed period is merged the same way from each partition's archive of it
// (actors/PartitionReads.ts): seq 0 as the single process's archived period, null (the gateway's
// 404) when no partition archived it. Stateless: any gateway answers any read.
import type { NatsConnection } from "@nats-io/transport-node"
import { Effect } from "effect"
import type { PartAround, PartPage } from "../../domain/MergedBoard.js"
import { mergeAround, mergePage } from "../../domain/MergedBoard.js"
import type { BoardKey, Window } from "../../domain/Model.js"
import { partitionOfUser, usersByPartition } from "../../domain/Partition.js"
import type { MergedAround, MergedPage, MergedReadsPort, PartitionRow, PartitionState, PartitionsUnavailable } from "../../ports/MergedReads.js"
import type { BoardCursor, RankedEntry } from "../../ports/ReadModel.js"
import { GLOBAL_BOARD } from "../../domain/BoardKeys.js"
import { askPartition, gather, gatherEach, gatherSome } from "./PartitionQueries.js"

/**
 * How a partition answered for a closed period: from its archive of it (`archived`), or holding
 * none (`missing`: nobody of this partition scored that period, or it was never closed); neither:
 * a board in memory (open, current or all-time).
 */
interface PartSource { readonly archived?: true; readonly missing?: true }
interface RowsPage extends PartSource { readonly entries: ReadonlyArray<PartitionRow>; readonly throughCursor: number; readonly size: number; readonly seq: number; readonly period: string }
/**
 * A partition's part around a key (`around`, or a group board's `groupAround`), with the part's size
 * and seq; asked with `userId` instead of a key, `me` is that user's own row there (null: none).
 */
interface PartAroundAnswer extends PartSource {
  readonly better: ReadonlyArray<PartitionRow>
  readonly worse: ReadonlyArray<PartitionRow>
  readonly betterCount: number
  readonly size: number
  readonly seq: number
  readonly me?: PartitionRow | null
}

/** A user's rank and neighbours as `aroundUser` reads them. */
export interface UserAround {
  /** The lowest seq the partitions had applied when they answered (0 for a closed period: `closedSeq`). */
  readonly seq: number
  /** Every partition answered from its archive of the period (or holds none): a closed period. */
  readonly closed: boolean
  /** No partition holds the board or an archive of it (a period never archived: the single process's 404). */
  readonly missing: boolean
  readonly total: number
  /** The user's own row (null: no score on the board, or not a member of the group). */
  readonly me: PartitionRow | null
  /** The user's row and up to `radius` neighbours on each side, at their merged ranks (empty without `me`). */
  readonly entries: ReadonlyArray<RankedEntry>
}

/**
 * The low watermark (ARCHITECTURE §6 "honesty of reads", §9): the lowest seq the partitions had
 * applied when they answered, so every event ≤ seq is reflected in the answer (the highest would
 * name events a lagging partition has not applied yet). Ticks move an idle partition's seq once a second.
 */
const seqOf = (parts: ReadonlyArray<{ readonly seq: number }>): number => Math.max(0, Math.min(...parts.map((p) => p.seq)))

/**
 * The seq of a merged answer: 0 when every part came from an archive (or had none), as the single
 * process answers a closed period (Boards.archivedPage: archived rows change no more); else the
 * low watermark (a partition whose stream time has not closed the period yet answers from memory).
 */
const closedSeq = (parts: ReadonlyArray<PartSource & { readonly seq: number }>): number => (isClosed(parts) ? 0 : seqOf(parts))

/** Every part came from an archive of the period (or had none): a closed period's answer. */
const isClosed = (parts: ReadonlyArray<PartSource>): boolean => parts.every((p) => p.archived === true || p.missing === true)

/** No partition holds the period, open or archived: the single process's 404 for a period never archived. */
const noneHold = (parts: ReadonlyArray<PartSource>): boolean => parts.every((p) => p.missing === true)

/** A partition's row at its merged rank (private rows keep their mark: the gateway anonymizes them). */
export const rankedEntry = (r: PartitionRow, rank: number): RankedEntry => {
  const e: RankedEntry = { rank, user_id: r.userId, username: r.username, xp: r.xp, level: r.level }
  return r.private === true ? { ...e, private: true } : e
}

const ranked = (rows: Map<string, PartitionRow>, userId: string, rank: number): RankedEntry => rankedEntry(rows.get(userId)!, rank)

/**
 * A user's rank and neighbours on board instance `key` (an explicit period), or with `members` on
 * the group board `key` (those members ranked by their score on the global board of the window).
 * The user's own partition answers first, with `userId`: their row and its neighbours of that row
 * from one state (no read of the row and then, in another state, of the neighbours); then every
 * other partition at once, at that key (their sizes alone when the user has no row). 1 + (P - 1)
 * requests; the REST around-me reads and the live around-me windows (MergedWindows.ts) both.
 */
export const aroundUser = (nc: NatsConnection, prefix: string, partitions: number, timeoutMs: number) =>
  (key: BoardKey, userId: string, radius: number, members: ReadonlyArray<string> | null) => Effect.gen(function*() {
    const k = partitionOfUser(userId, partitions)
    const others = Array.from({ length: partitions }, (_, i) => i).filter((i) => i !== k)
    // A group board asks each partition about its own members on the global board of the window.
    const mine = members === null ? null : usersByPartition(members, partitions)
    const op = mine === null ? "around" : "groupAround"
    const ask = (i: number) => mine === null ? { ...key } : { board: GLOBAL_BOARD, window: key.window, period: key.period, members: mine[i] }
    const asked = yield* askPartition<PartAroundAnswer>(nc, prefix, k, op, { ...ask(k), userId, r: radius }, timeoutMs)
    const me = asked.me ?? null // (a partition of an older version answers no `me`: as no row)
    // The others hold no row of this user: their answers at its key cannot contain it twice.
    const rest = others.length === 0 ? [] : me !== null
      ? yield* gatherSome<PartAroundAnswer>(nc, prefix, partitions, others, op, { each: (i) => ({ ...ask(i), at: { xp: me.xp, seq: me.seq }, r: radius }) }, timeoutMs)
      : mine === null
        ? yield* gatherSome<PartSource & { seq: number; size: number }>(nc, prefix, partitions, others, "page", { each: (i) => ({ ...ask(i), at: null, limit: 0 }) }, timeoutMs)
        : yield* gatherSome<PartSource & { seq: number; size: number }>(nc, prefix, partitions, others, op, { each: (i) => ({ ...ask(i), at: null, r: 0 }) }, timeoutMs)
    const seq = closedSeq([asked, ...rest])
    const closed = isClosed([asked, ...rest])
    const missing = noneHold([asked, ...rest])
    const total = asked.size + rest.reduce((s, x) => s + x.size, 0)
    if (me === null) return { seq, closed, missing, total, me, entries: [] } satisfies UserAround
    const parts = [asked, ...(rest as ReadonlyArray<PartAroundAnswer>)]
    const rows = new Map<string, PartitionRow>([[me.userId, me]])
    for (const p of parts) for (const r of [...p.better, ...p.worse]) rows.set(r.userId, r)
    const entries = mergeAround(me, parts as ReadonlyArray<PartAround>, radius).map((e) => ranked(rows, e.userId, e.rank))
    return { seq, closed, missing, total, me, entries } satisfies UserAround
  })

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
  /** A group's members by partition: each partition is asked about its own members only. */
  const byPartition = (members: ReadonlyArray<string>): Array<Array<string>> => usersByPartition(members, partitions)
  /**
   * A keyset page merged from each partition's part, `ask`ed for a period (null: each partition's
   * current one; should they differ, a partition's stream time has not passed a rollover yet, it
   * is asked again for the latest). Null when no partition holds that period (never archived).
   */
  const mergedPage = (board: string, window: Window, period: string | null, limit: number, ask: (period: string | null) => Effect.Effect<ReadonlyArray<RowsPage>, { readonly _tag: string; readonly message: string }>) =>
    run(Effect.gen(function*() {
      let parts = yield* ask(period)
      const latest = parts.reduce((m, x) => (x.period > m ? x.period : m), parts[0]!.period)
      if (parts.some((x) => x.period !== latest)) parts = yield* ask(latest)
      const key: BoardKey = { board, window, period: latest }
      if (noneHold(parts)) return null
      const rows = new Map<string, PartitionRow>()
      for (const part of parts) for (const r of part.entries) rows.set(r.userId, r)
      const merged = mergePage(parts as ReadonlyArray<PartPage>, limit)
      const seq = closedSeq(parts)
      return {
        key, seq, total: merged.total, ...(isClosed(parts) ? { closed: true as const } : {}),
        entries: merged.entries.map((e) => ({ ...ranked(rows, e.userId, e.rank), reached_seq: e.seq }))
      } satisfies MergedPage
    }))
  const around = aroundUser(nc, prefix, partitions, timeoutMs)
  /** The REST around-me answer of `around` (the period as asked, or the latest current one). */
  const mergedAround = (board: string, window: Window, period: string | null, userId: string, radius: number, members: ReadonlyArray<string> | null) =>
    run(Effect.gen(function*() {
      const p = yield* periodOf(board, window, period)
      const key: BoardKey = { board, window, period: p.period }
      const a = yield* around(key, userId, radius, members)
      if (a.missing) return null
      return { key, seq: a.seq, total: a.total, user: a.me === null ? null : a.entries.find((e) => e.user_id === userId) ?? null, entries: a.entries } satisfies MergedAround
    }))
  return {
    partitions,
    page: (board, window, period, after: BoardCursor | null, limit) =>
      mergedPage(board, window, period, limit, (p) => all<RowsPage>("page", { board, window, period: p, at: after, limit })),
    groupPage: (board, members, window, period, after, limit) => {
      const mine = byPartition(members)
      return mergedPage(board, window, period, limit, (p) => gatherEach<RowsPage>(nc, prefix, partitions, "groupPage", { each: (k) => ({ window, period: p, members: mine[k], at: after, limit }) }, timeoutMs))
    },
    groupAround: (board, members, window, period, userId, radius) => mergedAround(board, window, period, userId, radius, members),
    around: (board, window, period, userId, radius) => mergedAround(board, window, period, userId, radius, null),
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
