// Everything the engine reads and writes, made empty: the user table, the boards and the name
// tables that per-user entries key by; and how this run scores voids (not part of a snapshot).
import { BoardRegistry } from "../ranking/BoardRegistry.js"
import { NameTable } from "../state/NameTable.js"
import { UserTable } from "../state/UserTable.js"

/**
 * How a run scores voids across re-projections (§10; engine/Corrections.ts). `projection`: the
 * projection this state is (0 until a re-projection switched): a void that carries another one is
 * refused. `worth`: only in a fold from seq 1 that re-scores history (a shadow build) — the seqs of
 * the events voided in its range, pre-filled with 0; each such event's award under this run's rules
 * is recorded as it is scored, and its void takes back that instead of what it carries.
 */
export interface VoidScoring {
  readonly projection: number
  readonly worth: Map<number, number> | null
}

export const LIVE_VOIDS: VoidScoring = { projection: 0, worth: null }

export interface EngineState {
  readonly users: UserTable
  readonly boards: BoardRegistry
  readonly agents: NameTable
  readonly actions: NameTable
  readonly achievements: NameTable
  readonly voids: VoidScoring
}

/** `graceMs`: how long after its end a period still takes late events (the rules' period grace). */
export const newEngineState = (graceMs: number, voids: VoidScoring = LIVE_VOIDS): EngineState => {
  const agents = new NameTable()
  return { users: new UserTable(), agents, actions: new NameTable(), achievements: new NameTable(), boards: new BoardRegistry((i) => agents.nameOf(i), graceMs), voids }
}
