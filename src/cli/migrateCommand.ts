// `arena migrate`: create the database if missing, apply Postgres migrations and the streams,
// then the ClickHouse migrations (sql/clickhouse) on the configured ClickHouse.
import { Effect } from "effect"
import type { ArenaConfig } from "../Config.js"
import type { Log } from "../observability/Log.js"
import { openInfrastructure } from "../App.js"
import { chTry, openClickHouseScoped } from "../adapters/clickhouse/ClickHouseClient.js"
import { migrateClickHouse } from "../adapters/clickhouse/Migrations.js"

export const migrateAll = async (config: ArenaConfig, log: Log): Promise<number> => {
  const program = Effect.gen(function*() {
    yield* openInfrastructure(config, log)
    const ch = yield* openClickHouseScoped(config)
    yield* chTry("ensuring the ClickHouse database", () => ch.ensureDatabase())
    const applied = yield* chTry("applying ClickHouse migrations", () => migrateClickHouse(ch.client))
    log.info(applied.length > 0 ? `clickhouse migrations applied: ${applied.join(", ")}` : "clickhouse migrations: up to date")
  })
  const exit = await Effect.runPromiseExit(Effect.scoped(program))
  if (exit._tag === "Failure") { log.error(String(exit.cause)); return 1 }
  return 0
}
