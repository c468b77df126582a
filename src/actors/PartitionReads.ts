// What a partition's owner answers over request/reply in partitioned mode (ARCHITECTURE §9): its
// partial boards (top-N, keyset pages, counts of users ranked better, around-me) and its users'
// profiles, read between slices from the partition's pipeline. A closed period's pages and
// around-me (plain and group boards) are answered from the partition's archive of it instead
// (Boards.archivedByKey / archivedRowsOf: the closing archive in memory, else Postgres), marked
// `archived`, or `missing` when this partition holds no archive of that period. The merge into
// exact global answers is domain/MergedBoard.ts; the transport is adapters/nats/PartitionQueries.ts.
import type { BoardKey, Window } from "../domain/Model.js"
import { WINDOWS } from "../domain/Model.js"
import { GLOBAL_BOARD, agentBoard } from "../domain/BoardKeys.js"
import { agentStatsOf, boardScoreOf, profileOf } from "../domain/engine/UserViews.js"
import { PRIVATE } from "../domain/state/UserTable.js"
import type { PartitionRow, PartitionState } from "../ports/MergedReads.js"
import type { ArchivedBoard } from "../ports/Snapshots.js"
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

  /** The members a group board's query names (this partition's members of the group). */
  const membersOf = (members: unknown): Array<string> => {
    if (!Array.isArray(members) || members.length > MAX_GROUP_MEMBERS) throw new Error(`members must be an array of at most ${MAX_GROUP_MEMBERS} user ids`)
    return members.map((m) => str(m, "member"))
  }
  /**
   * A group's members of this partition who have a score on global board `id`, best first (the
   * gateway sends each partition its members: ARCHITECTURE §11 groups over §9's partitions).
   */
  const memberRows = (id: number, members: unknown): Array<PartitionRow> => {
    const ms = membersOf(members)
    const out: Array<PartitionRow> = []
    if (id < 0) return out
    for (const m of ms) {
      const uid = state.users.uidOf(m)
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

  // ---- closed periods: this partition's archive of the period ---------------------------------
  const applied = (): number => boards.position.applied
  /** A period of `k` that is neither open here, all-time nor current: read from the archive. */
  const isClosed = (k: BoardKey): boolean => boards.openId(k) < 0 && k.window !== "all" && k.period !== boards.currentPeriod(k.window)
  /** An archived row as a partition row, marked private when its user is private now (as Boards.marked). */
  const archived = (r: { user_id: string; username: string; xp: number; level: number; reached_seq: number }): PartitionRow => {
    const row: PartitionRow = { userId: r.user_id, xp: r.xp, seq: r.reached_seq, username: r.username, level: r.level }
    return boards.privateNow(r.user_id) ? { ...row, private: true } : row
  }
  const rowsOf = (a: ArchivedBoard): Array<PartitionRow> => a.rows.map(archived)
  /** `page`'s answer from the archive: the first `limit` rows after `a` (ranks at or before it: the row's archived rank - 1). */
  const closedPage = async (k: BoardKey, a: At | null, limit: number) => {
    const read = await boards.archivedByKey(k, { after: a, limit: Math.max(1, limit) })
    if (read === null) return { entries: [], throughCursor: 0, size: 0, seq: applied(), period: k.period, missing: true }
    const through = a === null ? 0 : read.rows[0] === undefined ? read.entries : read.rows[0].rank - 1
    return { entries: rowsOf(read).slice(0, limit), throughCursor: through, size: read.entries, seq: applied(), period: k.period, archived: true }
  }
  /** `around`'s answer from the archive, around `a` or (with `userId`) around that user's archived row. */
  const closedAround = async (k: BoardKey, userId: string | null, a0: At | null, r: number) => {
    const missing = { better: [], worse: [], betterCount: 0, me: null, seq: applied(), size: 0, missing: true }
    let me: PartitionRow | null = null
    if (userId !== null) {
      const mine = await boards.archivedRowsOf(k, [userId])
      if (mine === null) return missing
      me = mine[0] === undefined ? null : archived(mine[0])
    }
    const a = userId === null ? a0 : me
    if (a === null) {
      const size = await boards.archivedByKey(k, { after: null, limit: 0 })
      return size === null ? missing : { better: [], worse: [], betterCount: 0, me, seq: applied(), size: size.entries, archived: true }
    }
    const [before, after] = await Promise.all([boards.archivedByKey(k, { before: a, limit: Math.max(1, r) }), boards.archivedByKey(k, { after: a, limit: r })])
    if (before === null || after === null) return missing
    const last = before.rows[before.rows.length - 1]
    return {
      better: rowsOf(before).slice(Math.max(0, before.rows.length - r)), worse: rowsOf(after), betterCount: last === undefined ? 0 : last.rank,
      me, seq: applied(), size: before.entries, archived: true
    }
  }
  /** A closed group board's part: this partition's members' rows of the global archive, best first (null: no archive here). */
  const closedMembers = async (k: BoardKey, members: unknown): Promise<Array<PartitionRow> | null> => {
    const rows = await boards.archivedRowsOf(k, membersOf(members))
    return rows === null ? null : rows.map((e) => archived(e))
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
        const k = key(b)
        const id = boards.openId(k)
        const r = int(b["r"], "r", 1_000)
        const userId = b["userId"] === undefined ? null : str(b["userId"], "userId")
        if (isClosed(k)) return closedAround(k, userId, userId === null ? at(b["at"]) : null, r)
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
        if (isClosed(k)) return closedPage(k, b["at"] === undefined || b["at"] === null ? null : at(b["at"]), limit)
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
        const a = b["at"] === undefined || b["at"] === null ? null : at(b["at"])
        const answer = (rs: ReadonlyArray<PartitionRow>, mark: object) => {
          const offset = a === null ? 0 : split(rs, a).through
          return { entries: rs.slice(offset, offset + limit), throughCursor: offset, size: rs.length, seq: pos.applied, period: k.period, ...mark }
        }
        if (isClosed(k)) return closedMembers(k, b["members"]).then((rs) => (rs === null ? answer([], { missing: true }) : answer(rs, { archived: true })))
        return answer(memberRows(boards.openId(k), b["members"]), {})
      }
      case "groupAround": {
        // A group board's part around `at` (`around`'s answer); `at` null: the part's size alone.
        // With `userId` instead of `at`: around that member's own row, answered as `me` in the same
        // read (null when not a member here or without a score), as `around` does for the live feed.
        const k = key({ ...b, board: GLOBAL_BOARD })
        const r = int(b["r"], "r", 1_000)
        const userId = b["userId"] === undefined ? null : str(b["userId"], "userId")
        const asked = b["at"] === undefined || b["at"] === null ? null : at(b["at"])
        const answer = (rs: ReadonlyArray<PartitionRow>, mark: object) => {
          const me = userId === null ? null : rs.find((x) => x.userId === userId) ?? null
          const a = userId !== null ? me : asked
          if (a === null) return { better: [], worse: [], betterCount: 0, me, seq: pos.applied, size: rs.length, period: k.period, ...mark }
          const s = split(rs, a)
          return { better: rs.slice(Math.max(0, s.better - r), s.better), worse: rs.slice(s.through, s.through + r), betterCount: s.better, me, seq: pos.applied, size: rs.length, period: k.period, ...mark }
        }
        if (isClosed(k)) return closedMembers(k, b["members"]).then((rs) => (rs === null ? answer([], { missing: true }) : answer(rs, { archived: true })))
        return answer(memberRows(boards.openId(k), b["members"]), {})
      }
      default:
        throw new Error(`unknown partition query ${op}`)
    }
  }
}
