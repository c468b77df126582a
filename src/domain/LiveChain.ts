// The merged live-board chain of partitioned mode (ARCHITECTURE §9, docs/scaling.md "Mergers"):
// the subjects a board's merger and the gateways talk on, the chain's messages, and the pure diff
// and apply of a top-K list. One merger per board (lease `merge.<board>`) publishes each watched
// board instance's chain on `arena.lb.delta.<board>.<window>.<period>`; a gateway folds it into a
// local view and asks `arena.lb.snap.…` (request/reply) for a snapshot on any break; gateways say
// which instances they watch on `arena.lb.want.…` (a heartbeat: the merger drops unwatched ones).
// Pure.
import type { RankedEntry, Window } from "./Model.js"

/** The largest top-K a merger keeps per board instance: the WebSocket `limit` maximum. */
export const MERGE_K = 1000

/** A board name as one subject token: group ids may hold `.`, which `~` replaces (not in their alphabet). */
export const boardToken = (board: string): string => board.replaceAll(".", "~")
export const boardOfToken = (token: string): string => token.replaceAll("~", ".")

const tail = (board: string, window: Window, period: string): string => `${boardToken(board)}.${window}.${period}`
export const deltaSubject = (board: string, window: Window, period: string): string => `arena.lb.delta.${tail(board, window, period)}`
export const snapSubject = (board: string, window: Window, period: string): string => `arena.lb.snap.${tail(board, window, period)}`
export const wantSubject = (board: string, window: Window, period: string): string => `arena.lb.want.${tail(board, window, period)}`
export const WANT_WILDCARD = "arena.lb.want.>"
/** Every instance of one board: what its merger answers snapshot requests on. */
export const snapWildcard = (board: string): string => `arena.lb.snap.${boardToken(board)}.>`
/** The lease of a board's merger. */
export const mergeLease = (board: string): string => `merge.${boardToken(board)}`

/** `<board>.<window>.<period>` of a want/snap/delta subject after its 3-token prefix, or null. */
export const instanceOfSubject = (subject: string): { board: string; window: Window; period: string } | null => {
  const parts = subject.split(".")
  if (parts.length !== 6 || parts[0] !== "arena" || parts[1] !== "lb") return null
  const window = parts[4]!
  if (window !== "all" && window !== "day" && window !== "week" && window !== "month") return null
  return { board: boardOfToken(parts[3]!), window, period: parts[5]! }
}

/** One row of a merged top-K (rank is global and exact): a board row as clients see it. */
export type ChainEntry = RankedEntry

/**
 * A merged state: the top-K at watermark `seq` (every event ≤ seq is reflected), the board's size,
 * and its place in the chain: `epoch` (the merger's lease token: a new merger is a new epoch) and
 * `n` (messages of this epoch, from 0 = the state the merger started from).
 */
export interface ChainSnapshot {
  readonly epoch: number
  readonly n: number
  readonly seq: number
  readonly total: number
  readonly entries: ReadonlyArray<ChainEntry>
}

/** The next state from the previous (`n - 1`): rows new or changed (at their new rank), users gone. */
export interface ChainDelta {
  readonly epoch: number
  readonly n: number
  readonly seq: number
  readonly total: number
  readonly set: ReadonlyArray<ChainEntry>
  readonly removed: ReadonlyArray<string>
}

const same = (a: ChainEntry, b: ChainEntry): boolean =>
  a.xp === b.xp && a.username === b.username && a.level === b.level && a.private === b.private

/**
 * What turns `prev` into `next` (both top lists, rank 1 first): the rows new to it or changed, and
 * the users gone. As the WebSocket deltas (gateway/protocol/Delta.ts): users whose row is unchanged
 * keep their order relative to each other, so their new ranks follow from the changed rows'.
 */
export const diffTop = (prev: ReadonlyArray<ChainEntry>, next: ReadonlyArray<ChainEntry>): { set: Array<ChainEntry>; removed: Array<string> } => {
  const before = new Map<string, ChainEntry>()
  for (const e of prev) before.set(e.user_id, e)
  const set: Array<ChainEntry> = []
  for (const e of next) {
    const old = before.get(e.user_id)
    if (old !== undefined) before.delete(e.user_id)
    if (old === undefined || !same(old, e)) set.push(e)
  }
  return { set, removed: [...before.keys()] }
}

/** Applies a delta: drops the removed and the changed users, puts the changed ones at their ranks, renumbers. */
export const applyTop = (entries: ReadonlyArray<ChainEntry>, d: Pick<ChainDelta, "set" | "removed">): Array<ChainEntry> => {
  const drop = new Set<string>(d.removed)
  for (const c of d.set) drop.add(c.user_id)
  const out: Array<ChainEntry> = entries.filter((e) => !drop.has(e.user_id))
  for (const c of [...d.set].sort((a, b) => a.rank - b.rank)) out.splice(c.rank - 1, 0, c)
  for (let i = 0; i < out.length; i++) if (out[i]!.rank !== i + 1) out[i] = { ...out[i]!, rank: i + 1 }
  return out
}
