#!/usr/bin/env node
// Entry only: parse the command line and run one command (`arena serve | migrate | produce | token | sql | backfill | rules`).
import { parseArgs } from "node:util"
import { decodeConfig } from "./Config.js"
import { setPeriodZone } from "./domain/Periods.js"
import { makeLog } from "./observability/Log.js"

const USAGE = `usage: arena <command> [options]

  serve [--role all|processor|gateway]
                            run the service (migrations, streams, pipeline, gateway); roles other
                            than all need ARENA_PARTITIONS (partitioned mode: not implemented yet)
  migrate                   create the database if missing and apply migrations (Postgres, ClickHouse)
  produce [--demo] [--count N] [--rate N] [--users N] [--agents N] [--seed N]
                            publish synthetic XP events (--demo: ~20 events/s forever)
  token --sub ID [--scope "events:write admin"] [--ttl SECONDS]
                            mint a JWT for the API (needs ARENA_JWT_SECRET)
  sql "SELECT ..."          run a read-only analyst query against ClickHouse
  backfill                  rebuild the ClickHouse tables from the stream
  rules diff <file> [--json] [--progress-json]
                            dry run of a rules change: score the whole stream under <file> beside
                            the rules in force and report what would change (nothing is written)
  rules apply <file> [--retroactive] [--json]
                            put <file> in force in the running service (ARENA_URL, default
                            http://127.0.0.1:$PORT): from the stream head + 1, or with --retroactive
                            re-score every event in a shadow state, then switch once (README
                            "Changing rules safely")

Configuration comes from the environment (see README: NATS_URL, DATABASE_URL, CLICKHOUSE_URL, PORT, ...).`

const main = async (): Promise<number> => {
  const [command, ...rest] = process.argv.slice(2)
  if (command === undefined || command === "help" || command === "--help" || command === "-h") {
    process.stdout.write(USAGE + "\n")
    return command === undefined ? 2 : 0
  }
  let config
  try {
    config = decodeConfig()
    setPeriodZone(config.periodTz) // before anything scores an event or names a period
  } catch (e) {
    process.stderr.write(`arena: ${(e as Error).message}\n`)
    return 2
  }
  const log = makeLog(config.logLevel)
  const { values, positionals } = parseArgs({
    args: rest,
    allowPositionals: true,
    strict: false,
    options: {
      demo: { type: "boolean" }, count: { type: "string" }, rate: { type: "string" }, users: { type: "string" },
      agents: { type: "string" }, seed: { type: "string" }, sub: { type: "string" }, scope: { type: "string" }, ttl: { type: "string" },
      json: { type: "boolean" }, "progress-json": { type: "boolean" }, role: { type: "string" }, retroactive: { type: "boolean" }
    }
  })
  switch (command) {
    case "serve": return (await import("./cli/serveCommand.js")).serve(config, log, values.role)
    case "migrate": return (await import("./cli/migrateCommand.js")).migrateAll(config, log)
    case "produce": return (await import("./cli/produceCommand.js")).produceCommand(config, log, values)
    case "token": return (await import("./cli/tokenCommand.js")).tokenCommand(config, values)
    case "sql": return (await import("./cli/sqlCommand.js")).sqlCommand(config, rest.filter((a) => !a.startsWith("--")).join(" "))
    case "backfill": return (await import("./cli/backfillCommand.js")).backfillCommand(config, log)
    case "rules": return (await import("./cli/rulesCommand.js")).rulesCommand(config, log, positionals, values)
    default:
      process.stderr.write(`arena: unknown command ${JSON.stringify(command)}\n\n${USAGE}\n`)
      return 2
  }
}

main().then((code) => { if (code !== 0 || process.argv[2] !== "serve") process.exit(code) }, (e: unknown) => {
  process.stderr.write(`arena: ${e instanceof Error ? e.message : String(e)}\n`)
  process.exit(1)
})
