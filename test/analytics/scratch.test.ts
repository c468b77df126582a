import { describe, expect, it } from "vitest"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { openClickHouse } from "../../src/adapters/clickhouse/ClickHouseClient.js"
import { migrateClickHouse } from "../../src/adapters/clickhouse/Migrations.js"
import { repairRollups } from "../../src/adapters/clickhouse/Rollups.js"

describe("scratch", () => {
  it("works", async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "arena-ch-"))
    const h = openClickHouse({ kind: "embedded", path: dir, database: "arena" })
    console.log(await migrateClickHouse(h.client))
    console.log(await migrateClickHouse(h.client))
    const rs = await h.client.query({ query: "SELECT name, engine, as_select FROM system.tables WHERE database = currentDatabase()", format: "JSONEachRow" })
    console.log(await rs.json())
    console.log(await repairRollups(h.client))
    await h.close()
    expect(1).toBe(1)
  })
})
