// `node dist/adapters/clickhouse/StandInMain.js --path DIR [--port 8123] [--host 127.0.0.1] [--database arena]`:
// the ClickHouse STAND-IN (ClickHouseStandIn.ts: ClickHouse's HTTP interface over one embedded chDB)
// as a process, for scripts/cluster.sh. Not a ClickHouse server; see ClickHouseStandIn.ts.
import { startClickHouseStandIn } from "./ClickHouseStandIn.js"

const arg = (name: string): string | undefined => {
  const i = process.argv.indexOf(`--${name}`)
  return i < 0 ? undefined : process.argv[i + 1]
}
const path = arg("path")
if (path === undefined) {
  process.stderr.write("usage: StandInMain.js --path <chDB data dir> [--port 8123] [--host 127.0.0.1] [--database arena]\n")
  process.exit(2)
}
const s = await startClickHouseStandIn({
  path,
  database: arg("database") ?? "arena",
  host: arg("host") ?? "127.0.0.1",
  port: Number(arg("port") ?? "8123"),
  log: (l) => process.stdout.write(`${l}\n`)
})
const stop = () => void s.close().then(() => process.exit(0), () => process.exit(1))
process.on("SIGTERM", stop)
process.on("SIGINT", stop)
