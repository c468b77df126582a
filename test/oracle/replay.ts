// What the oracle shows, as one plain value to compare two oracles by: every user's profile, every
// board that holds a score (ranked), the ledger, the corrections and the rejections. Two oracles
// that folded different streams are equal in this sense when no one could tell them apart through
// the service (e.g. a stream and the same stream once its erasures took their seqs out).
import type { ExpectedProfile, Oracle, RankedRow } from "./Oracle.js"

export interface OracleModel {
  readonly profiles: ReadonlyArray<ExpectedProfile | null>
  readonly boards: ReadonlyArray<readonly [string, ReadonlyArray<RankedRow>]>
  readonly ledger: Oracle["ledger"]
  readonly corrections: Oracle["corrections"]
  readonly rejections: ReadonlyArray<readonly [number, string]>
}

export const modelOf = (o: Oracle): OracleModel => ({
  profiles: [...o.users.keys()].sort().map((id) => o.profile(id)),
  boards: [...o.boards.keys()].sort().flatMap((key) => {
    const [board, window, period] = key.split("|") as [string, string, string]
    const rows = o.ranked(board, window, period)
    return rows.length === 0 ? [] : [[key, rows] as const]
  }),
  ledger: o.ledger,
  corrections: o.corrections,
  rejections: [...o.rejections.entries()].sort((a, b) => a[0] - b[0])
})
