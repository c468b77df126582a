// Everything the engine reads and writes, made empty: the user table, the boards and the name
// tables that per-user entries key by.
import { BoardRegistry } from "../ranking/BoardRegistry.js"
import { NameTable } from "../state/NameTable.js"
import { UserTable } from "../state/UserTable.js"

export interface EngineState {
  readonly users: UserTable
  readonly boards: BoardRegistry
  readonly agents: NameTable
  readonly actions: NameTable
  readonly achievements: NameTable
}

/** `graceMs`: how long after its end a period still takes late events (the rules' period grace). */
export const newEngineState = (graceMs: number): EngineState => {
  const agents = new NameTable()
  return { users: new UserTable(), agents, actions: new NameTable(), achievements: new NameTable(), boards: new BoardRegistry((i) => agents.nameOf(i), graceMs) }
}
