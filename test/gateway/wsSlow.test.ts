// Guarantee 5: a client that does not read is skipped (marked stale) and later resynced with a
// fresh snapshot; what the server holds for it stays bounded; other clients are unaffected.
import type { Socket } from "node:net"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import type { RankedEntry } from "../../src/ports/ReadModel.js"
import type { LeaderboardMessage } from "../../src/gateway/protocol/Messages.js"
import { api, openWs, wsUrl } from "./client.js"
import type { MemoryArena } from "./harness.js"
import { event, startMemoryArena } from "./harness.js"
import { fold } from "./wsProtocol.js"

const USERS = 1000
const WS = { staleBytes: 64 * 1024, maxBackpressure: 256 * 1024, resyncBytes: 8 * 1024, ringMaxBytes: 512 * 1024 }
const name = (i: number): string => `user-${String(i).padStart(4, "0")}`

// With the sockets on the main thread, and in two WS worker threads (same bounds, same resync).
describe.each([0, 2])("slow readers (ws threads: %i)", (threads) => {
  let arena: MemoryArena
  beforeAll(async () => {
    arena = await startMemoryArena({ threads, overrides: { ws: WS } })
  })
  afterAll(async () => {
    await arena.stop()
  })

  /** Every user gains XP: the whole top-1000 changes, so each delta is ~150 KB. */
  const everyoneScores = (r: number) =>
    arena.publish(Array.from({ length: USERS }, (_, i) => event(name(i), (i + r) % 5 === 0 ? "error_resolved" : "task_completed", "coder",
      { username: `${name(i)}-${"n".repeat(50)}` })))

  it("skips a reader that stops reading, keeps its buffer bounded, and resyncs it with a snapshot", async () => {
    await everyoneScores(0)
    const url = wsUrl(arena.baseUrl, "/ws/leaderboard/global?limit=1000")
    const slow = await openWs<LeaderboardMessage>(url)
    const fast = await openWs<LeaderboardMessage>(url)
    await slow.nth(0)
    await fast.nth(0)
    const socket = (slow.ws as unknown as { _socket: Socket })._socket
    socket.pause()

    // Publish until the kernel buffers are full and the gateway marks the reader stale.
    let rounds = 1
    while (arena.gateway.stats().stale === 0 && rounds < 400) {
      await everyoneScores(rounds++)
      await new Promise((r) => (threads === 0 ? setImmediate(r) : setTimeout(r, 10)))
    }
    expect(arena.gateway.stats().stale).toBe(1)
    // Keep publishing ~6 MB more: nothing accumulates for the stale socket.
    for (let i = 0; i < 40; i++) {
      await everyoneScores(rounds++)
      await new Promise((r) => setImmediate(r))
      const s = arena.gateway.stats()
      expect(s.maxBuffered).toBeLessThanOrEqual(WS.maxBackpressure)
      expect(s.ringBytes).toBeLessThanOrEqual(WS.ringMaxBytes)
    }
    const metrics = await (await fetch(arena.baseUrl + "/metrics")).text()
    expect(metrics).toMatch(/arena_ws_backpressure_skips_total [1-9]/)

    // The fast reader was never skipped: its chain is unbroken and equals REST.
    const page = (await api<{ seq: number; entries: Array<RankedEntry> }>(arena.baseUrl, "GET", "/v1/leaderboards/global?limit=1000")).json
    await fast.until((m) => m[m.length - 1]!.seq >= page.seq, 20_000, "fast reader catch-up")
    const fastState = fold(fast.messages, 1000)
    expect(fastState.snapshots).toBe(1)
    expect(fastState.entries).toEqual(page.entries)

    // Reading again: what was queued arrives (a contiguous chain), then a fresh snapshot, then deltas.
    socket.resume()
    await slow.until((m) => m.slice(1).some((x) => x.type === "snapshot"), 20_000, "resync snapshot")
    await everyoneScores(rounds++)
    const final = (await api<{ seq: number; entries: Array<RankedEntry> }>(arena.baseUrl, "GET", "/v1/leaderboards/global?limit=1000")).json
    await slow.until((m) => m[m.length - 1]!.seq >= final.seq, 20_000, "slow reader catch-up")
    const slowState = fold(slow.messages, 1000) // throws on any gap
    expect(slowState.snapshots).toBe(2)
    expect(slowState.entries).toEqual(final.entries)
    expect(slow.messages.length).toBeLessThan(fast.messages.length)
    // Worker threads report their stale count every 0.5 s.
    for (let i = 0; i < 100 && arena.gateway.stats().stale !== 0; i++) await new Promise((r) => setTimeout(r, 50))
    expect(arena.gateway.stats().stale).toBe(0)
    slow.close()
    fast.close()
  })
})
