// The gateway's UserPort: profiles from the user table (read between slices) with the user's
// ranks on every current board they are on; the ledger comes from the analytics store (ClickHouse).
import type { Window } from "../domain/Model.js"
import { WINDOWS } from "../domain/Model.js"
import { GLOBAL_BOARD, agentBoard } from "../domain/BoardKeys.js"
import { utcDay } from "../domain/Periods.js"
import { agentStatsOf, profileOf } from "../domain/engine/UserViews.js"
import type { LedgerPage, UserPort, UserProfile } from "../ports/ReadModel.js"
import type { Pipeline } from "./Pipeline.js"

export type LedgerReader = (userId: string, limit: number, beforeSeq: number | null) => Promise<LedgerPage>

export const makeUsers = (pipeline: () => Pipeline | null, ledger: LedgerReader): UserPort => ({
  profile: (userId) => {
    const p = pipeline()
    if (p === null) return null
    const b = p.boards
    const uid = b.state.users.uidOf(userId)
    if (uid < 0) return null
    const t = b.position.streamTimeMs
    const core = profileOf(b.state, uid, p.rules, utcDay(t > 0 ? t : Date.now()))
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
  ledger
})
