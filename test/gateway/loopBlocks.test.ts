// `arena serve` with its default settings: the WebSocket threads are chosen from the core count
// (none on one core), a subscriber's deltas stay gapless, and /metrics shows how long each kind of
// main-thread work held the event loop (arena_loop_block_seconds{kind}) — pipeline slices, the
// views they publish, the hub's deltas, snapshot-cut turns, analytics flushes and GC pauses.
import * as os from "node:os"
import { afterAll, beforeAll, expect, it } from "vitest"
import { defaultWsThreads } from "../../src/Config.js"
import type { LeaderboardMessage } from "../../src/gateway/protocol/Messages.js"
import { ArenaProcess, cleanup, freshNames, natsClient, publishAll } from "../support/arena.js"
import type { Nats } from "../support/arena.js"
import { openWs, wsUrl } from "./client.js"
import { event } from "./harness.js"

const names = freshNames("blocks")
// No ARENA_WS_THREADS: the default is under test. A short snapshot interval so cuts happen.
const arena = new ArenaProcess(names, { ARENA_SNAPSHOT_INTERVAL: "1s" })
let nats: Nats

beforeAll(async () => {
  await arena.start()
  await arena.waitForSeq(0)
  nats = await natsClient()
})
afterAll(async () => {
  await nats?.nc.close()
  await arena.stop()
  await cleanup(names)
})

/** count of arena_loop_block_seconds per kind, from /metrics. */
const blockCounts = async (): Promise<Map<string, number>> => {
  const text = await (await fetch(`${arena.baseUrl}/metrics`)).text()
  return new Map([...text.matchAll(/^arena_loop_block_seconds_count\{kind="([^"]+)"\} (\d+)/gm)].map((m) => [m[1]!, Number(m[2])]))
}

it("runs the WebSocket threads the core count asks for, keeps deltas gapless, and reports main-thread blocking by kind", async () => {
  const threads = defaultWsThreads(os.availableParallelism())
  expect(arena.log).toContain(`WebSocket threads ${threads}`)
  // Each WS thread reports its sockets (every 0.5 s) as one arena_ws_thread_sockets series.
  if (threads > 0) {
    await expect.poll(async () => (await (await fetch(`${arena.baseUrl}/metrics`)).text()).match(/^arena_ws_thread_sockets\{/gm)?.length ?? 0, { timeout: 10_000 })
      .toBe(threads)
  }

  const lb = await openWs<LeaderboardMessage>(wsUrl(arena.baseUrl, "/ws/leaderboard/global?limit=10"))
  await lb.nth(0)
  let last = 0
  for (let round = 0; round < 5; round++) {
    const acks = await publishAll(nats.js, names.subject, Array.from({ length: 200 }, (_, i) => event(`u${(i * 7 + round) % 50}`)))
    last = Math.max(last, ...acks.map((a) => a.seq))
  }
  await arena.waitForSeq(last)
  await lb.until((m) => m[m.length - 1]!.seq >= last || undefined, 20_000, "a delta at the last seq")
  // Gapless: every delta chains to the message before it.
  const msgs = lb.messages
  expect(msgs[0]!.type).toBe("snapshot")
  for (let i = 1; i < msgs.length; i++) {
    const m = msgs[i]!
    expect(m.type).toBe("delta")
    if (m.type === "delta") expect(m.prev_seq).toBe(msgs[i - 1]!.seq)
  }

  // A snapshot cut is taken past the last seq (1 s interval), which flushes analytics first.
  await expect.poll(async () => (await arena.readyz()).body.details.snapshot_seq ?? 0, { timeout: 30_000, interval: 200 }).toBeGreaterThanOrEqual(last)
  const counts = await blockCounts()
  for (const kind of ["pipeline_slice", "views", "slice_output", "hub_flush", "cut_step", "analytics_flush"]) expect(counts.get(kind) ?? 0, kind).toBeGreaterThan(0)
  lb.ws.close()
})
