// The gateway with its sockets in WS worker threads (ARENA_WS_THREADS): the kernel spreads
// connections over the threads, every subscription still gets one unbroken delta history (kept on
// the main thread, so a resume works on whichever thread the reconnect lands), admission limits
// count across threads, and close() stops every thread and frees the port.
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import type { RankedEntry } from "../../src/ports/ReadModel.js"
import type { LeaderboardMessage } from "../../src/gateway/protocol/Messages.js"
import { api, openWs, wsUrl } from "./client.js"
import type { WsReader } from "./client.js"
import type { MemoryArena } from "./harness.js"
import { event, startMemoryArena } from "./harness.js"
import { fold } from "./wsProtocol.js"

const round = (r: number, n: number, agent = "coder"): Array<Record<string, unknown>> =>
  Array.from({ length: n }, (_, i) => event(`u${(r * 7 + i * 13) % 40}`, (r + i) % 3 === 0 ? "error_resolved" : "task_completed", agent))

const lb = (arena: MemoryArena, q: string): Promise<WsReader<LeaderboardMessage>> =>
  openWs<LeaderboardMessage>(wsUrl(arena.baseUrl, `/ws/leaderboard/${q}`))

const rest = async (arena: MemoryArena, board: string, limit: number): Promise<{ seq: number; entries: Array<RankedEntry> }> =>
  (await api<{ seq: number; entries: Array<RankedEntry> }>(arena.baseUrl, "GET", `/v1/leaderboards/${board}?limit=${limit}`)).json

const waitFor = async (cond: () => boolean, what: string): Promise<void> => {
  for (let i = 0; i < 200 && !cond(); i++) await new Promise((r) => setTimeout(r, 25))
  if (!cond()) throw new Error(`timed out waiting for ${what}`)
}

describe("WS worker threads", () => {
  let arena: MemoryArena
  beforeAll(async () => {
    arena = await startMemoryArena({ threads: 2, overrides: { ws: { maxConnectionsPerIp: 1000, maxSubscriptionsPerIp: 1000 } } })
    await arena.publish(round(0, 30))
  })
  afterAll(async () => {
    await arena.stop()
  })

  it("spreads sockets over both threads; every socket's chain is whole and folds to REST", async () => {
    const readers = await Promise.all(Array.from({ length: 40 }, (_, i) => (i % 2 === 0 ? lb(arena, "global?limit=5") : lb(arena, "agent%3Areviewer?limit=3"))))
    await waitFor(() => arena.gateway.stats().threads.every((n) => n > 0) && arena.gateway.stats().threads.reduce((a, b) => a + b, 0) === 40, "both threads reporting sockets")
    expect(arena.gateway.stats().threads).toHaveLength(2)
    for (let r = 1; r <= 30; r++) await arena.publish([...round(r, 3), ...round(r, 2, "reviewer")])
    const g = await rest(arena, "global", 5), a = await rest(arena, "agent:reviewer", 3)
    for (const [i, reader] of readers.entries()) {
      const [page, limit] = i % 2 === 0 ? [g, 5] : [a, 3]
      // A board whose top did not change in the last events sends no frame for them (nothing to
      // show): wait for the fold to equal REST, not for REST's seq (as the bursts test below).
      await reader.until((m) => m.length > 0 && JSON.stringify(fold(m, limit).entries) === JSON.stringify(page.entries), 5000, `reader ${i} at REST's top ${limit}`)
      expect(fold(reader.messages, limit).entries).toEqual(page.entries) // fold throws on any gap
      expect(fold(reader.messages, limit).seq).toBeLessThanOrEqual(page.seq)
      reader.close()
    }
  })

  it("resumes with the missed deltas whichever thread the reconnect lands on", async () => {
    const first = await lb(arena, "global?limit=6")
    const saved = fold([await first.nth(0)], 6)
    first.close()
    await first.until(() => first.closed !== null, 5000, "close")
    // 150 XP each: both climbers enter the top 6, so there are deltas to replay.
    await arena.publish([event("climber-a", "mission_analytics"), event("climber-b", "mission_analytics")])
    const page = await rest(arena, "global", 6)
    // Ten reconnects: both threads answer some of them (the history they replay is the main thread's).
    for (let i = 0; i < 10; i++) {
      const again = await lb(arena, `global?limit=6&since=${saved.seq}&epoch=${saved.epoch}`)
      await again.until((m) => m.length > 0 && m[m.length - 1]!.seq >= page.seq, 5000, "catch-up")
      expect(again.messages[0]).toMatchObject({ type: "delta", prev_seq: saved.seq })
      expect(fold(again.messages, 6, saved).entries).toEqual(page.entries)
      again.close()
    }
  })

  it("counts frames sent by the workers in /metrics", async () => {
    const reader = await lb(arena, "global?limit=4")
    await reader.nth(0)
    await arena.publish([event("climber-c", "mission_analytics")])
    await reader.nth(1)
    let text = ""
    for (let i = 0; i < 40; i++) {
      text = await (await fetch(arena.baseUrl + "/metrics")).text()
      if (/arena_ws_messages_sent_total\{type="delta"\} [1-9]/.test(text)) break
      await new Promise((r) => setTimeout(r, 50))
    }
    expect(text).toMatch(/arena_ws_messages_sent_total\{type="snapshot"\} [1-9]/)
    expect(text).toMatch(/arena_ws_messages_sent_total\{type="delta"\} [1-9]/)
    // The batch that carried that delta was timed from the hub's hand-over to its publishing.
    expect(text).toMatch(/arena_ws_handoff_seconds_count [1-9]/)
    reader.close()
  })
})

describe.each([0, 2])("bursts (ws threads: %i)", (threads) => {
  it("coalesces a burst while sockets are busy, never losing a step of any chain or the final state", async () => {
    const arena = await startMemoryArena({ threads, overrides: { ws: { maxConnectionsPerIp: 1000, maxSubscriptionsPerIp: 1000 } } })
    try {
      const subs = [["global", 10], ["global", 100], ["agent:a1", 25], ["agent:a2", 5]] as const
      const readers = await Promise.all(Array.from({ length: 40 }, (_, i) => lb(arena, `${encodeURIComponent(subs[i % 4]![0])}?limit=${subs[i % 4]![1]}`)))
      // 300 batches without waiting for the sockets: hosts stay busy, views pile up and coalesce.
      for (let r = 0; r < 300; r++) {
        void arena.publish(Array.from({ length: 20 }, (_, i) => event(`u${(r * 31 + i * 17) % 300}`, "task_completed", i % 2 ? "a1" : "a2")))
        if (r % 7 === 0) await new Promise((res) => setImmediate(res))
      }
      for (const [i, reader] of readers.entries()) {
        const [board, limit] = subs[i % 4]!
        const page = await rest(arena, board, limit)
        // The last batch may leave a top-N unchanged: wait for the fold to equal REST, not for a seq.
        await reader.until((m) => m.length > 0 && JSON.stringify(fold(m, limit).entries) === JSON.stringify(page.entries), 5000, `${board} top ${limit}`)
        expect(fold(reader.messages, limit).seq).toBeLessThanOrEqual(page.seq)
        reader.close()
      }
    } finally {
      await arena.stop()
    }
  })
})

describe("WS worker threads: limits and shutdown", () => {
  it("routes every method a worker thread forwards: share PATCH and DELETE, and 405 with the full Allow", async () => {
    const arena = await startMemoryArena({ threads: 2 })
    try {
      const t = await arena.token("thread-user", "")
      const c = await api<{ id: string }>(arena.baseUrl, "POST", "/v1/shares", { token: t, body: { title: "t", content: "c" } })
      expect(c.status).toBe(201)
      const p = await api<{ title: string }>(arena.baseUrl, "PATCH", `/v1/shares/${c.json.id}`, { token: t, body: { title: "u" } })
      expect([p.status, p.json.title]).toEqual([200, "u"])
      expect((await api(arena.baseUrl, "DELETE", `/v1/shares/${c.json.id}`, { token: t })).status).toBe(204)
      const put = await api(arena.baseUrl, "PUT", `/v1/shares/${c.json.id}`, { token: t, body: {} })
      expect([put.status, put.headers.get("allow")]).toEqual([405, "GET, PATCH, DELETE, HEAD, OPTIONS"])
    } finally {
      await arena.stop()
    }
  })

  it("counts the per-IP connection limit across threads", async () => {
    const arena = await startMemoryArena({ threads: 2, overrides: { ws: { maxConnectionsPerIp: 12, maxSubscriptionsPerIp: 12 } } })
    try {
      const open = await Promise.all(Array.from({ length: 12 }, () => lb(arena, "global?limit=5")))
      await waitFor(() => arena.gateway.stats().threads.reduce((a, b) => a + b, 0) === 12, "12 sockets reported")
      expect(arena.gateway.stats().threads.every((n) => n > 0)).toBe(true)
      const refused = await lb(arena, "global?limit=5").then(() => 101, (e: { status?: number }) => e.status)
      expect(refused).toBe(429)
      for (const r of open) r.close()
    } finally {
      await arena.stop()
    }
  })

  it("close() closes every worker's sockets and frees the port", async () => {
    const arena = await startMemoryArena({ threads: 2 })
    const readers = await Promise.all(Array.from({ length: 6 }, () => lb(arena, "global?limit=5")))
    await arena.gateway.close()
    for (const r of readers) await r.until(() => r.closed !== null, 5000, "closed by the server")
    const again = await fetch(`${arena.baseUrl}/healthz`).then(() => "answered", () => "refused")
    expect(again).toBe("refused")
    await arena.stop()
  })
})
