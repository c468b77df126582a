// The server path (CLICKHOUSE_URL=http://…): no ClickHouse server runs on this machine, so this
// proves only what can be proven here — the client is built for the URL, and an unreachable
// server is a retryable "connect" failure that the sink turns into buffering, not a crash.
import { describe, expect, it } from "vitest"
import { Effect } from "effect"
import * as net from "node:net"
import { makeClickHouseAnalyticsStore } from "../../src/adapters/clickhouse/ClickHouseAnalyticsStore.js"
import { openClickHouse } from "../../src/adapters/clickhouse/ClickHouseClient.js"
import { parseClickHouseTarget } from "../../src/adapters/clickhouse/ClickHouseTarget.js"

/** A port nothing listens on. */
const deadPort = async (): Promise<number> => {
  const s = net.createServer()
  await new Promise<void>((r) => s.listen(0, "127.0.0.1", r))
  const port = (s.address() as net.AddressInfo).port
  await new Promise<void>((r) => s.close(() => r()))
  return port
}

describe("ClickHouse server target (no server here)", () => {
  it("reports an unreachable server as a retryable connect failure", async () => {
    const target = parseClickHouseTarget({ clickhouseUrl: `http://127.0.0.1:${await deadPort()}`, clickhouseUser: "arena", clickhousePassword: "pw" })
    const h = openClickHouse(target, { requestTimeoutMs: 2000 })
    expect(h.process).toBeNull()
    const store = makeClickHouseAnalyticsStore(h)
    const r = await Effect.runPromise(Effect.result(store.recover))
    expect(r._tag).toBe("Failure")
    if (r._tag === "Failure") expect(r.failure).toMatchObject({ _tag: "ClickHouseError", reason: "connect", retryable: true })
    expect((await h.client.ping()).success).toBe(false)
    await h.close()
  })

  it("refuses a fault hook on the server path (faults are injected on the embedded engine)", () => {
    expect(() => openClickHouse(parseClickHouseTarget({ clickhouseUrl: "http://127.0.0.1:8123" }), { fault: {} })).toThrow(/embedded/)
  })
})
