// Every board the engine holds, ranked, against the oracle's (shared by the oracle tests that drive
// the real Processor). Returns how many of them hold a score, for the caller's "enough boards" check.
import { expect } from "vitest"
import type { EngineState } from "../../src/domain/engine/EngineState.js"
import type { Oracle } from "./Oracle.js"

export const expectBoardsAsOracle = (s: EngineState, oracle: Oracle): number => {
  let boards = 0
  for (const bid of s.boards.open()) {
    const ref = s.boards.refs[bid]!
    const rows: Array<string> = []
    s.boards.tree(bid)!.forEach((uid, xp, _seq, rank) => rows.push(`${rank}:${s.users.userId(uid)}:${xp}`))
    expect([ref, rows]).toEqual([ref, oracle.ranked(ref.board, ref.window, ref.period).map((r) => `${r.rank}:${r.user_id}:${r.xp}`)])
    if (rows.length > 0) boards++
  }
  return boards
}
