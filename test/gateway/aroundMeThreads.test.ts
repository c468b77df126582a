// Around-me sockets held by WS worker threads and by the main thread, over the in-process gateway
// with a stand-in pipeline (test/support/memoryPorts.ts: MemoryLeaderboards, not the real actors;
// test/gateway/aroundMe.test.ts covers the real service): the route exists on every thread, the
// folded window equals REST, subscribers of one (user, radius) share one feed, and closing the
// sockets releases the pipeline's around-me watch.
import { describe, expect, it } from "vitest"
import type { RankedEntry } from "../../src/ports/ReadModel.js"
import type { AroundMessage } from "../../src/gateway/protocol/Messages.js"
import { api, openWs, wsUrl } from "./client.js"
import { event, startMemoryArena } from "./harness.js"
import { foldWindow } from "./wsProtocol.js"

describe.each([0, 2])("around-me (ws threads: %i)", (threads) => {
  it("folds to REST's window, shares one feed per user and radius, and releases it on close", async () => {
    const arena = await startMemoryArena({ threads, overrides: { ws: { lingerMs: 0 } } })
    try {
      await arena.publish(Array.from({ length: 30 }, (_, i) => event(`u${i % 10}`, i % 3 === 0 ? "error_resolved" : "task_completed")))
      const url = wsUrl(arena.baseUrl, "/ws/leaderboard/global/around/u4?radius=2")
      const a = await openWs<AroundMessage>(url)
      const b = await openWs<AroundMessage>(url)
      await a.nth(0)
      await b.nth(0)
      expect(arena.boards.aroundWatches.size).toBe(1)
      for (let r = 0; r < 6; r++) await arena.publish([event("u4"), event(`u${(r * 3) % 10}`, "error_resolved")])
      const want = (await api<{ entries: Array<RankedEntry> }>(arena.baseUrl, "GET", "/v1/leaderboards/global/users/u4?radius=2")).json.entries
      for (const r of [a, b]) await r.until((m) => JSON.stringify(foldWindow(m).entries) === JSON.stringify(want), 5000, "window equal to REST")
      a.close()
      b.close()
      const t0 = Date.now()
      while (arena.boards.aroundWatches.size > 0 && Date.now() - t0 < 5000) await new Promise((r) => setTimeout(r, 50))
      expect(arena.boards.aroundWatches.size).toBe(0)
    } finally {
      await arena.stop()
    }
  })
})
