// Why the embedded engine runs in a child process: the same 100k-row inserts, through the same
// @clickhouse/client API, with chDB inside this process and in the child. Prints the event-loop
// stall (perf_hooks.monitorEventLoopDelay) and rows/s of both, and of the whole sink; asserts
// only that every row arrived (timings are reported, never asserted). In this process, the
// RowBinary bodies go through the same routine as in the child (ChdbBinaryInsert.mjs).
import { afterAll, describe, expect, it } from "vitest"
import { createClient } from "@clickhouse/client"
import type { ClickHouseClient } from "@clickhouse/client"
import { createChdbConnection } from "chdb/connection"
import * as os from "node:os"
import * as path from "node:path"
import { Readable } from "node:stream"
import { insertBinary } from "../../src/adapters/clickhouse/ChdbBinaryInsert.mjs"
import { monitorEventLoopDelay } from "node:perf_hooks"
import { blocksOf, encodeRecord, insertBlock } from "../../src/adapters/clickhouse/ClickHouseAnalyticsStore.js"
import { openClickHouse } from "../../src/adapters/clickhouse/ClickHouseClient.js"
import { migrateClickHouse } from "../../src/adapters/clickhouse/Migrations.js"
import type { AnalyticsRecord } from "../../src/ports/Analytics.js"
import { fingerprint, expectedFingerprint, freshDir, generate, scalar, startSink, submitRange } from "./records.js"

const N = 100_000
const REPS = 3
const g = generate(Math.ceil(N / 0.85) + 500, 5000, 11, 20) // ≥ 100k awards over 20 days (one month)
const awards = g.all.filter((r) => r.kind === "award").slice(0, N)
const report: string[] = []

interface Measured { ms: number; maxStallMs: number; p99StallMs: number }
const measure = async (f: () => Promise<void>): Promise<Measured> => {
  const h = monitorEventLoopDelay({ resolution: 5 })
  h.enable()
  const t0 = performance.now()
  await f()
  const ms = performance.now() - t0
  h.disable()
  return { ms, maxStallMs: h.max / 1e6, p99StallMs: h.percentile(99) / 1e6 }
}
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!
const summarize = (what: string, rows: number, ms: Measured[]) =>
  `${what.padEnd(42)} ${rows} rows × ${ms.length}: ${ms.map((m) => (rows / (m.ms / 1000)).toFixed(0)).join(" / ")} rows/s; ` +
  `loop stall max ${ms.map((m) => m.maxStallMs.toFixed(0)).join(" / ")} ms (median ${median(ms.map((m) => m.maxStallMs)).toFixed(0)}), ` +
  `p99 median ${median(ms.map((m) => m.p99StallMs)).toFixed(0)} ms`

/** Rep `k` inserts the same rows under seqs shifted by k million (so a new deduplication token). */
const insertAll = async (client: ClickHouseClient, k: number) => {
  const shifted: AnalyticsRecord[] = awards.map((r) => (r.kind === "award" ? { kind: "award", entry: { ...r.entry, seq: r.entry.seq + k * 1_000_000 } } : r))
  for (const b of blocksOf(shifted.map(encodeRecord))) await insertBlock(client, b)
}

afterAll(() => {
  console.log([`machine: ${os.cpus().length} × ${os.cpus()[0]?.model ?? "?"}, node ${process.version} (shared with other work: expect noise)`, ...report].join("\n"))
})

describe("event-loop stall of a large insert: in-process chDB vs the child process", () => {
  it("in this process (baseline): all rows arrive", async () => {
    expect(awards.length).toBe(N)
    const dir = freshDir("inproc")
    const inner = createChdbConnection({ path: dir })
    // chDB's own connection sends a body as text after the SQL; binary bodies take the child's route.
    let n = 0
    const connection: typeof inner = Object.assign(Object.create(null) as typeof inner, {
      ping: inner.ping.bind(inner), query: inner.query.bind(inner), command: inner.command.bind(inner), insert: inner.insert.bind(inner), close: inner.close.bind(inner),
      exec: async (p: Parameters<typeof inner.exec>[0]) => {
        if (p.values === undefined || typeof p.values === "string") return inner.exec(p)
        const parts: Buffer[] = []
        for await (const c of p.values as AsyncIterable<Uint8Array>) parts.push(Buffer.from(c))
        await insertBinary(inner, { query: p.query, body: Buffer.concat(parts), settings: p.clickhouse_settings, dir: path.join(dir, "arena-insert-tmp"), name: String(n++) })
        return { stream: Readable.from([]), query_id: "", response_headers: {}, http_status_code: 200 }
      }
    })
    const client = createClient({ connection })
    await client.command({ query: "CREATE DATABASE IF NOT EXISTS arena" })
    await client.command({ query: "USE arena" })
    await migrateClickHouse(client)
    const ms: Measured[] = []
    for (let k = 0; k < REPS; k++) ms.push(await measure(() => insertAll(client, k)))
    report.push(summarize("chDB in the service process (baseline)", N, ms))
    expect(await scalar({ client } as Parameters<typeof scalar>[0], "SELECT count() FROM awards")).toBe(REPS * N)
    await client.close()
  })

  it("in the child process: all rows arrive, one part per insert", async () => {
    const h = openClickHouse({ kind: "embedded", path: freshDir("child"), database: "arena" })
    await migrateClickHouse(h.client)
    const ms: Measured[] = []
    for (let k = 0; k < REPS; k++) ms.push(await measure(() => insertAll(h.client, k)))
    report.push(summarize("chDB in its child process", N, ms))
    expect(await scalar(h, "SELECT count() FROM awards")).toBe(REPS * N)
    // One insert of one month is one part (atomic): what the watermark design relies on.
    expect(await scalar(h, "SELECT uniqExact(_part) FROM awards WHERE seq < 1000000")).toBe(blocksOf(awards.map(encodeRecord)).length)
    await h.close()
  })

  it("the whole sink (submit → durable) with the child process: exact counts", async () => {
    const env = await startSink(freshDir("sinkperf"))
    const m = await measure(async () => {
      await submitRange(env, g, 1, g.lastSeq, 2000)
      await env.run(env.sink.awaitDurable(g.lastSeq))
    })
    report.push(summarize("sink: submit → durable, all four tables", g.all.length, [m]))
    expect(await fingerprint(env.handle)).toEqual(expectedFingerprint(g.all))
    await env.close()
  })
})
