// What a partition's owner answers over request/reply in partitioned mode (ARCHITECTURE §9): its
// partial boards (top-N, keyset pages, counts of users ranked better, around-me) and its users'
// profiles, read between slices from the partition's pipeline. The merge into exact global answers
// is domain/MergedBoard.ts; the transport is adapters/nats/PartitionQueries.ts.
import type { BoardKey, Window } from "../domain/Model.js"
import { WINDOWS } from "../domain/Model.js"
import { GLOBAL_BOARD, agentBoard } from "../domain/BoardKeys.js"
import { agentStatsOf, boardScoreOf, profileOf } from "../domain/engine/UserViews.js"
import { PRIVATE } from "../domain/state/UserTable.js"
import type { PartitionRow, PartitionState } from "../ports/MergedReads.js"
import { MAX_GROUP_MEMBERS } from "../ports/Groups.js"
import { compareEntries } from "../domain/MergedBoard.js"
import type { Pipeline } from "./Pipeline.js"

interface BoardAsk { readonly board?: unknown; readonly window?: unknown; readonly period?: unknown }
interface At { readonly xp: number; readonly seq: number }

const str = (v: unknown, what: string): string => {
  if (typeof v !== "string" || v.length === 0) throw new Error(`${what} must be a non-empty string`)
  return v
}
const int = (v: unknown, what: string, max: number): number => {
  if (typeof v !== "number" || !Number.isInteger(v) || v < 0 || v > max) throw new Error(`${what} must be an integer 0..${max}`)
  return v
}
const at = (v: unknown): At => {
  const a = v as Partial<At> | null
  if (a === null || typeof a !== "object" || typeof a.xp !== "number" || typeof a.seq !== "number") throw new Error("at must be {xp, seq}")
  return { xp: a.xp, seq: a.seq }
}

/** The query handler of one partition, over its running pipeline. Throws on a malformed ask (answered as an error). */
export const partitionReads = (partition: number, pipeline: Pipeline) => {
  const boards = pipeline.boards
  const state = boards.state
  const key = (b: BoardAsk): BoardKey => {
    const window = str(b.window, "window") as Window
    if (!(WINDOWS as ReadonlyArray<string>).includes(window)) throw new Error(`unknown window ${window}`)
    return { board: str(b.board, "board"), window, period: b.period === undefined || b.period === null ? boards.currentPeriod(window) : str(b.period, "period") }
  }
  const row = (uid: number, xp: number, seq: number): PartitionRow => {
    const u = state.users
    const r: PartitionRow = { userId: u.userId(uid), xp, seq, username: u.username(uid), level: u.level[uid]! }
    return (u.privacy[uid]! & PRIVATE) === 0 ? r : { ...r, private: true }
  }
  const rows = (id: number, offset: number, limit: number): Array<PartitionRow> => {
    const out: Array<PartitionRow> = []
    if (limit > 0) state.boards.tree(id)!.forEachInRange(offset, limit, (uid, xp, seq) => { out.push(row(uid, xp, seq)) })
    return out
  }
  /** Entries ranked strictly better than (xp, seq): seqs are integers and unique per board. */
  const better = (id: number, a: At): number => state.boards.tree(id)!.countThrough(a.xp, a.seq - 1)
  const through = (id: number, a: At): number => state.boards.tree(id)!.countThrough(a.xp, a.seq)

  /**
   * A group's members of this partition who have a score on global board `id`, best first (the
   * gateway sends each partition its members: ARCHITECTURE §11 groups over §9's partitions).
   */
  const memberRows = (id: number, members: unknown): Array<PartitionRow> => {
    if (!Array.isArray(members) || members.length > MAX_GROUP_MEMBERS) throw new Error(`members must be an array of at most ${MAX_GROUP_MEMBERS} user ids`)
    const out: Array<PartitionRow> = []
    if (id < 0) return out
    for (const m of members) {
      const uid = state.users.uidOf(str(m, "member"))
      const sc = uid < 0 ? undefined : boardScoreOf(state, uid, id)
      if (sc !== undefined) out.push(row(uid, sc.xp, sc.seq))
    }
    return out.sort(compareEntries)
  }
  /** How many of `rs` (best first) rank strictly better than `a`, and how many at or before it. */
  const split = (rs: ReadonlyArray<PartitionRow>, a: At): { better: number; through: number } => {
    let better = 0
    while (better < rs.length && (rs[better]!.xp > a.xp || (rs[better]!.xp === a.xp && rs[better]!.seq < a.seq))) better++
    let through = better
    while (through < rs.length && rs[through]!.xp === a.xp && rs[through]!.seq <= a.seq) through++
    return { better, through }
  }

  return (op: string, body: unknown): unknown => {
    const b = (body ?? {}) as BoardAsk & Record<string, unknown>
    const pos = boards.position
    switch (op) {
      case "state":
        return { partition, phase: pipeline.status.phase, applied: pos.applied, streamTimeMs: pos.streamTimeMs, users: state.users.size } satisfies PartitionState
      case "top": {
        const k = key(b)
        const id = boards.openId(k)
        const n = int(b["n"], "n", 10_000)
        return { period: k.period, seq: pos.applied, size: id < 0 ? 0 : state.boards.tree(id)!.size, entries: id < 0 ? [] : rows(id, 0, n) }
      }
      case "user": {
        const k = key(b)
        const id = boards.openId(k)
        const uid = state.users.uidOf(str(b["userId"], "userId"))
        if (id < 0 || uid < 0) return null
        const rank = boards.rankOf(id, uid)
        return rank === undefined ? null : rows(id, rank - 1, 1)[0] ?? null
      }
      case "better": {
        const id = boards.openId(key(b))
        return id < 0 ? 0 : better(id, at(b["at"]))
      }
      case "around": {
        // At `at`, or (with `userId` instead) at that user's own row, answered as `me` in the same
        // read: the live around-me feed (adapters/nats/MergedWindows.ts) needs the user's key and
        // its partition's neighbours from one state. `seq` and `size` say which state it was.
        const id = boards.openId(key(b))
        const r = int(b["r"], "r", 1_000)
        const userId = b["userId"] === undefined ? null : str(b["userId"], "userId")
        let me: PartitionRow | null = null
        if (userId !== null) {
          const uid = state.users.uidOf(userId)
          const rank = id < 0 || uid < 0 ? undefined : boards.rankOf(id, uid)
          me = rank === undefined ? null : rows(id, rank - 1, 1)[0] ?? null
        }
        const a = userId === null ? at(b["at"]) : me
        const size = id < 0 ? 0 : state.boards.tree(id)!.size
        if (id < 0 || a === null) return { better: [], worse: [], betterCount: 0, me, seq: pos.applied, size }
        const n = better(id, a)
        const worse = rows(id, through(id, a), r)
        return { better: rows(id, Math.max(0, n - r), Math.min(r, n)), worse, betterCount: n, me, seq: pos.applied, size }
      }
      case "visibility": {
        // Whether a user of this partition chose "private" (§11); null for an unknown user.
        const uid = state.users.uidOf(str(b["userId"], "userId"))
        return uid < 0 ? null : { private: (state.users.privacy[uid]! & PRIVATE) !== 0 }
      }
      case "page": {
        const k = key(b)
        const id = boards.openId(k)
        const limit = int(b["limit"], "limit", 10_000)
        if (id < 0) return { entries: [], throughCursor: 0, size: 0, seq: pos.applied, period: k.period }
        const offset = b["at"] === undefined || b["at"] === null ? 0 : through(id, at(b["at"]))
        return { entries: rows(id, offset, limit), throughCursor: offset, size: state.boards.tree(id)!.size, seq: pos.applied, period: k.period }
      }
      case "profile": {
        // The profile core and the user's score on each current board it is on (as Users.ts
        // lists ranks); the reader turns each into a global rank with one `betterMany` gather.
        const uid = state.users.uidOf(str(b["userId"], "userId"))
        if (uid < 0) return null
        const t = pos.streamTimeMs
        const scores: Array<{ board: string; window: Window; period: string; xp: number; seq: number }> = []
        for (const board of [GLOBAL_BOARD, ...agentStatsOf(state, uid).map((a) => a.agent_name).sort().map(agentBoard)]) {
          for (const window of WINDOWS as ReadonlyArray<Window>) {
            const period = boards.currentPeriod(window)
            const id = boards.openId({ board, window, period })
            const sc = id < 0 ? undefined : boardScoreOf(state, uid, id)
            if (sc !== undefined) scores.push({ board, window, period, xp: sc.xp, seq: sc.seq })
          }
        }
        return { core: profileOf(state, uid, pipeline.rules, t > 0 ? t : Date.now(), (seq) => pipeline.history.rulesAt(seq)), scores }
      }
      case "betterMany": {
        const asks = b["asks"]
        if (!Array.isArray(asks) || asks.length > 1_000) throw new Error("asks must be an array of at most 1000 {board, window, period, at}")
        return asks.map((x: BoardAsk & { readonly at?: unknown }) => {
          const id = boards.openId(key(x))
          return id < 0 ? 0 : better(id, at(x.at))
        })
      }
      case "groupPage": {
        // A group board's part (`page`'s answer): the members' rows on the global board of the window.
        const k = key({ ...b, board: GLOBAL_BOARD })
        const limit = int(b["limit"], "limit", 10_000)
        const rs = memberRows(boards.openId(k), b["members"])
        const offset = b["at"] === undefined || b["at"] === null ? 0 : split(rs, at(b["at"])).through
        return { entries: rs.slice(offset, offset + limit), throughCursor: offset, size: rs.length, seq: pos.applied, period: k.period }
      }
      case "groupAround": {
        // A group board's part around `at` (`around`'s answer); `at` null: the part's size alone.
        // With `userId` instead of `at`: around that member's own row, answered as `me` in the same
        // read (null when not a member here or without a score), as `around` does for the live feed.
        const k = key({ ...b, board: GLOBAL_BOARD })
        const r = int(b["r"], "r", 1_000)
        const rs = memberRows(boards.openId(k), b["members"])
        const userId = b["userId"] === undefined ? null : str(b["userId"], "userId")
        const me = userId === null ? null : rs.find((x) => x.userId === userId) ?? null
        const a = userId !== null ? me : b["at"] === undefined || b["at"] === null ? null : at(b["at"])
        if (a === null) return { better: [], worse: [], betterCount: 0, me, seq: pos.applied, size: rs.length, period: k.period }
        const s = split(rs, a)
        return { better: rs.slice(Math.max(0, s.better - r), s.better), worse: rs.slice(s.through, s.through + r), betterCount: s.better, me, seq: pos.applied, size: rs.length, period: k.period }
      }
      default:
        throw new Error(`unknown partition query ${op}`)
    }
  }
}
