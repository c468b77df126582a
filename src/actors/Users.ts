// The gateway's UserPort: profiles from the user table (read between slices) with the user's
// ranks on every current board they are on; the ledger comes from the analytics store (ClickHouse)
// merged with the entries the analytics sink holds but has not flushed yet, so the ledger is as
// current as the boards (/readyz `seq` promises both).
import type { LedgerItem, Window } from "../domain/Model.js"
import { WINDOWS } from "../domain/Model.js"
import { GLOBAL_BOARD, agentBoard } from "../domain/BoardKeys.js"
import { agentStatsOf, profileOf } from "../domain/engine/UserViews.js"
import type { LedgerPage, UserPort, UserProfile } from "../ports/ReadModel.js"
import type { Pipeline } from "./Pipeline.js"

export type LedgerReader = (userId: string, limit: number, beforeSeq: number | null) => Promise<LedgerPage>

/**
 * One page from the store's page and the not-yet-flushed entries (oldest first), newest first. The
 * pending entries must be read before the store is asked: an entry flushed in between is then in
 * the store's answer (and deduplicated by seq), never in neither.
 */
export const mergeLedger = (pending: ReadonlyArray<LedgerItem>, stored: LedgerPage, limit: number, beforeSeq: number | null): LedgerPage => {
  if (pending.length === 0) return stored
  const bySeq = new Map<number, LedgerItem>()
  for (const e of stored.entries) bySeq.set(e.seq, e)
  for (const e of pending) if ((beforeSeq === null || e.seq < beforeSeq) && !bySeq.has(e.seq)) bySeq.set(e.seq, e)
  const all = [...bySeq.values()].sort((a, b) => b.seq - a.seq)
  const entries = all.slice(0, limit)
  const more = all.length > limit || stored.nextBeforeSeq !== null
  return { entries, nextBeforeSeq: more && entries.length > 0 ? entries[entries.length - 1]!.seq : null }
}

export const makeUsers = (
  pipeline: () => Pipeline | null,
  readLedger: LedgerReader,
  pendingLedger: (userId: string) => ReadonlyArray<LedgerItem>,
  unavailable: () => string | null
): UserPort => ({
  unavailable,
  profile: (userId) => {
    const p = pipeline()
    if (p === null) return null
    const b = p.boards
    const uid = b.state.users.uidOf(userId)
    if (uid < 0) return null
    const t = b.position.streamTimeMs
    const core = profileOf(b.state, uid, p.rules, t > 0 ? t : Date.now(), (seq) => p.history.rulesAt(seq))
    const ranks: Array<UserProfile["ranks"][number]> = []
    const boardsOf = [GLOBAL_BOARD, ...agentStatsOf(b.state, uid).map((a) => a.agent_name).sort().map(agentBoard)]
    for (const board of boardsOf) {
      for (const window of WINDOWS as ReadonlyArray<Window>) {
        const period = b.currentPeriod(window)
        const id = b.openId({ board, window, period })
        if (id < 0) continue
        const rank = b.rankOf(id, uid)
        if (rank === undefined) continue
        let xp = 0
        b.state.boards.tree(id)!.forEachInRange(rank - 1, 1, (_u, score) => { xp = score })
        ranks.push({ board, window, period, rank, xp })
      }
    }
    return { ...core, ranks }
  },
  ledger: async (userId, limit, beforeSeq) => {
    const pending = pendingLedger(userId)
    return mergeLedger(pending, await readLedger(userId, limit, beforeSeq), limit, beforeSeq)
  }
})
