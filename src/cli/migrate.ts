// `arena migrate`: create the database if missing, apply Postgres migrations, apply the streams.
import { Effect } from "effect"
import type { ArenaConfig } from "../Config.js"
import type { Log } from "../Log.js"
import { openInfrastructure } from "../App.js"

export const migrateAll = async (config: ArenaConfig, log: Log): Promise<number> => {
  const exit = await Effect.runPromiseExit(Effect.scoped(openInfrastructure(config, log)))
  if (exit._tag === "Failure") { log.error(String(exit.cause)); return 1 }
  return 0
}
