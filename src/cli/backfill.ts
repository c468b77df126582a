// `arena backfill`: rebuild the ClickHouse tables from the stream.
import type { ArenaConfig } from "../Config.js"
import type { Log } from "../Log.js"

export const backfillCommand = async (_config: ArenaConfig, log: Log): Promise<number> => {
  log.error("arena backfill: the ClickHouse analytics module is not part of this build yet")
  return 1
}
