// The ClickHouse a cluster test's members share: the ClickHouse stand-in (src/adapters/clickhouse/
// ClickHouseStandIn.ts: ClickHouse's HTTP interface over one embedded chDB, not a server) in the
// test's data directory, its credentials written into the members' env at once and its URL once it
// has started, and the test's own client on it — one set-up instead of a copy in every test.
import * as path from "node:path"
import { openClickHouse } from "../../src/adapters/clickhouse/ClickHouseClient.js"
import type { ClickHouseHandle } from "../../src/adapters/clickhouse/ClickHouseClient.js"
import { startClickHouseStandIn } from "../../src/adapters/clickhouse/ClickHouseStandIn.js"
import type { StandIn } from "../../src/adapters/clickhouse/ClickHouseStandIn.js"
import { parseClickHouseTarget } from "../../src/adapters/clickhouse/ClickHouseTarget.js"

const USER = "arena"
const PASSWORD = "pw"
const DATABASE = "arena"

export interface ClusterClickHouse {
  /** Starts the stand-in, sets `env.CLICKHOUSE_URL` (read by members started later), opens the test's client. */
  readonly start: () => Promise<ClickHouseHandle>
  /** The stand-in's URL (after start). */
  readonly url: () => string
  readonly stop: () => Promise<void>
}

export const clusterClickHouse = (dataDir: string, env: Record<string, string>): ClusterClickHouse => {
  Object.assign(env, { CLICKHOUSE_USER: USER, CLICKHOUSE_PASSWORD: PASSWORD, CLICKHOUSE_DATABASE: DATABASE })
  let standIn: StandIn | null = null
  let ch: ClickHouseHandle | null = null
  return {
    start: async () => {
      standIn = await startClickHouseStandIn({ path: path.join(dataDir, "clickhouse-stand-in"), database: DATABASE, user: USER, password: PASSWORD })
      env.CLICKHOUSE_URL = standIn.url
      ch = openClickHouse(parseClickHouseTarget({ clickhouseUrl: standIn.url, clickhouseUser: USER, clickhousePassword: PASSWORD, clickhouseDatabase: DATABASE }))
      return ch
    },
    url: () => {
      if (standIn === null) throw new Error("the ClickHouse stand-in is not started")
      return standIn.url
    },
    stop: async () => {
      await ch?.close()
      await standIn?.close()
    }
  }
}
