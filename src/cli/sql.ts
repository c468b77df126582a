// `arena sql "SELECT ..."`: an analyst's read-only query against the configured ClickHouse.
import type { ArenaConfig } from "../Config.js"

export const sqlCommand = async (_config: ArenaConfig, query: string): Promise<number> => {
  if (query.trim() === "") { process.stderr.write("arena sql: give a query, e.g. arena sql \"SELECT count() FROM awards\"\n"); return 2 }
  process.stderr.write("arena sql: the ClickHouse analytics module is not part of this build yet\n")
  return 1
}
