// The ClickHouse sink against the real embedded engine (chDB in its child process): every record
// lands exactly once — after a normal run, when the same records arrive again, when a restarted
// pipeline replays them, and when the same insert block is sent twice.
import { afterEach, describe, expect, it } from "vitest"
import { blocksOf, encodeRecord, insertBlock } from "../../src/adapters/clickhouse/ClickHouseAnalyticsStore.js"
import { AnalyticsQueries } from "../../src/adapters/clickhouse/AnalyticsQueries.js"
import { registry } from "../../src/observability/Metrics.js"
import type { LedgerEntry, LedgerItem } from "../../src/domain/Model.js"
import { eventually, expectedFingerprint, fingerprint, freshDir, generate, startSink, submitRange } from "./records.js"
import type { SinkEnv } from "./records.js"

let open: SinkEnv[] = []
afterEach(async () => {
  for (const e of open) await e.close().catch(() => {})
  open = []
})
const start = async (...a: Parameters<typeof startSink>) => {
  const e = await startSink(...a)
  open.push(e)
  return e
}

describe("analytics sink (embedded ClickHouse)", () => {
  it("writes every submitted record exactly once and reports the last seq durable", async () => {
    const g = generate(6000)
    const env = await start(freshDir("normal"))
    await submitRange(env, g, 1, g.lastSeq, 400)
    await env.run(env.sink.awaitDurable(g.lastSeq))
    expect(await fingerprint(env.handle)).toEqual(expectedFingerprint(g.all))
    const st = await env.run(env.sink.status)
    expect(st).toMatchObject({ connected: true, bufferedRecords: 0, durableSeq: g.lastSeq, submittedSeq: g.lastSeq, lastError: null })
    const metrics = registry.render()
    expect(metrics).toContain(`arena_analytics_durable_seq ${g.lastSeq}`)
    expect(metrics).toContain("arena_analytics_buffered_records 0")
    expect(registry.histogram("arena_analytics_insert_seconds", "", []).snapshot().count).toBeGreaterThan(0)
  })

  it("resolves awaitDurable for a seq that produced no record", async () => {
    const g = generate(50)
    const env = await start(freshDir("norecord"))
    await submitRange(env, g, 1, 50, 50)
    await env.run(env.sink.submit([], 57)) // seqs 51..57 were duplicates: nothing to write
    await env.run(env.sink.awaitDurable(57))
    expect(await env.run(env.sink.durableSeq)).toBe(57)
  })

  it("does not double count records submitted twice, or replayed by a restarted pipeline, or after a sink restart", async () => {
    const g = generate(3000)
    const dir = freshDir("dedupe")
    const env = await start(dir)
    await submitRange(env, g, 1, 2000)
    await env.run(env.sink.awaitDurable(2000))
    // The pipeline restarted from an older snapshot and replays 1001..3000 into the same sink.
    await submitRange(env, g, 1001, 3000, 250)
    await env.run(env.sink.awaitDurable(3000))
    expect(await fingerprint(env.handle)).toEqual(expectedFingerprint(g.all))
    await env.close()
    open = []
    // The whole service restarts: the sink reads its watermark from ClickHouse and the replay from seq 1 adds nothing.
    const env2 = await start(dir)
    await eventually("the watermark read from ClickHouse", async () => (await env2.run(env2.sink.durableSeq)) > 0)
    expect(await env2.run(env2.sink.durableSeq)).toBe(3000)
    await submitRange(env2, g, 1, 3000, 700)
    await env2.run(env2.sink.awaitDurable(3000))
    expect(await fingerprint(env2.handle)).toEqual(expectedFingerprint(g.all))
  })

  it("drops a re-inserted block in the raw table and in every rollup (block deduplication reaches the views)", async () => {
    const g = generate(1500)
    const env = await start(freshDir("token"))
    await submitRange(env, g, 1, 1500)
    await env.run(env.sink.awaitDurable(1500))
    const before = await fingerprint(env.handle)
    // The same blocks again, bypassing the sink's watermarks: only ClickHouse's dedup stands in the way.
    for (const b of blocksOf(g.all.map(encodeRecord))) await insertBlock(env.handle.client, b)
    expect(await fingerprint(env.handle)).toEqual(before)
    expect(before).toEqual(expectedFingerprint(g.all))
  })

  it("returns a user's ledger newest first, page by page, exactly as the engine wrote it", async () => {
    const g = generate(2000, 20)
    const env = await start(freshDir("ledger"))
    await submitRange(env, g, 1, 2000)
    await env.run(env.sink.awaitDurable(2000))
    const q = new AnalyticsQueries(env.handle.client)
    const mine: LedgerEntry[] = g.all.flatMap((r) => (r.kind === "award" && r.entry.user_id === "u3" ? [r.entry] : [])).reverse()
    expect(mine.length).toBeGreaterThan(40)
    const got: LedgerItem[] = []
    let before: number | null = null
    for (let pages = 0; pages < 100; pages++) {
      const page: Awaited<ReturnType<AnalyticsQueries["ledger"]>> = await q.ledger("u3", 17, before)
      got.push(...page.entries)
      before = page.nextBeforeSeq
      if (before === null) break
    }
    expect(got).toEqual(mine)
    expect((await q.ledger("nobody", 10, null))).toEqual({ entries: [], nextBeforeSeq: null })
  })
})
