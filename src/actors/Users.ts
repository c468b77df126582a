// The gateway's UserPort: profiles from the owning user shard's state (read between drains) with
// the user's ranks from the boards; the ledger comes from the analytics store (ClickHouse).
import type { Window } from "../domain/Model.js"
import { WINDOWS } from "../domain/Model.js"
import { boardsOfUser } from "../domain/BoardKeys.js"
import { utcDay } from "../domain/Periods.js"
import { profileOf } from "../domain/Profile.js"
import type { CompiledRules } from "../domain/Rules.js"
import type { LedgerPage, UserPort, UserProfile } from "../ports/ReadModel.js"
import type { Pipeline } from "./Pipeline.js"

export type LedgerReader = (userId: string, limit: number, cursor: string | null) => Promise<LedgerPage>

export const makeUsers = (pipeline: () => Pipeline | null, rules: CompiledRules, ledger: LedgerReader): UserPort => ({
  profile: (userId) => {
    const p = pipeline()
    if (p === null) return null
    const state = p.lookup(userId)
    if (state === undefined) return null
    const now = p.boards.streamTimeMs > 0 ? p.boards.streamTimeMs : Date.now()
    const core = profileOf(state, rules, utcDay(now))
    const ranks: Array<UserProfile["ranks"][number]> = []
    for (const board of boardsOfUser(state)) {
      for (const window of WINDOWS as ReadonlyArray<Window>) {
        const period = p.boards.currentPeriod(window)
        const b = p.boards.get({ board, window, period })
        const rank = b?.index.rankOf(userId)
        const entry = b?.index.get(userId)
        if (rank !== undefined && entry !== undefined) ranks.push({ board, window, period, rank, xp: entry.score })
      }
    }
    return { ...core, ranks }
  },
  ledger
})
