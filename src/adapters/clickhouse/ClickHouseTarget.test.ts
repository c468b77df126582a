// CLICKHOUSE_URL decoding (ARCHITECTURE §8). The HTTP path of @clickhouse/client cannot be
// exercised against a server on this machine, so its configuration is what is tested here.
import { describe, expect, it } from "vitest"
import { describeTarget, parseClickHouseTarget } from "./ClickHouseTarget.js"

describe("parseClickHouseTarget", () => {
  it("defaults to the embedded engine under $ARENA_DATA_DIR/clickhouse", () => {
    expect(parseClickHouseTarget({ dataDir: "/var/lib/arena" })).toEqual({ kind: "embedded", path: "/var/lib/arena/clickhouse", database: "arena" })
  })
  it("takes chdb:///abs/path as the embedded engine's data directory", () => {
    expect(parseClickHouseTarget({ clickhouseUrl: "chdb:///srv/ch%20data/", clickhouseDatabase: "an_1" }))
      .toEqual({ kind: "embedded", path: "/srv/ch data/", database: "an_1" })
  })
  it("rejects a relative embedded path", () => {
    expect(() => parseClickHouseTarget({ clickhouseUrl: "chdb://data/ch" })).toThrow(/absolute/)
  })
  it("takes http(s) URLs as a server, credentials from the variables over the URL, never kept in the URL", () => {
    expect(parseClickHouseTarget({ clickhouseUrl: "https://bob:secret@ch.example:8443/", clickhousePassword: "fromenv" })).toEqual({
      kind: "http", url: "https://ch.example:8443", username: "bob", password: "fromenv", database: "arena"
    })
    const t = parseClickHouseTarget({ clickhouseUrl: "http://ch:8123", clickhouseUser: "arena", clickhousePassword: "pw" })
    expect(t).toEqual({ kind: "http", url: "http://ch:8123", username: "arena", password: "pw", database: "arena" })
    expect(describeTarget(t)).not.toContain("pw")
    expect(parseClickHouseTarget({ clickhouseUrl: "http://ch:8123" })).toMatchObject({ username: "default", password: "" })
  })
  it("rejects other schemes and bad database names with the variable named", () => {
    expect(() => parseClickHouseTarget({ clickhouseUrl: "tcp://ch:9000" })).toThrow(/CLICKHOUSE_URL scheme tcp:/)
    expect(() => parseClickHouseTarget({ clickhouseUrl: "not a url" })).toThrow(/CLICKHOUSE_URL/)
    expect(() => parseClickHouseTarget({ clickhouseDatabase: "arena; DROP" })).toThrow(/CLICKHOUSE_DATABASE/)
  })
})
