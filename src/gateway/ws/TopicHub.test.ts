// The hub's flow control towards socket hosts: a host that has not yet received MAX_IN_FLIGHT
// batches (or inFlightBytesOf bytes) gets no more; the views meanwhile coalesce into one delta per
// topic whose prev_seq chains to the last one sent, and an ack releases it.
import { afterEach, describe, expect, it, vi } from "vitest"
import type { BoardKey } from "../../domain/Model.js"
import type { BoardView, LeaderboardPort, RankedEntry } from "../../ports/ReadModel.js"
import { DEFAULT_WS } from "../GatewayConfig.js"
import type { WsConfig } from "../GatewayConfig.js"
import type { ConnSpec, HostSide } from "./HostLink.js"
import { FLUSH_REST_RATIO, MAX_IN_FLIGHT, TopicHub, inFlightBytesOf } from "./TopicHub.js"

const KEY: BoardKey = { board: "global", window: "all", period: "all" }

/** A board of `n` users whose XP all move with `seq` (every view changes every row). */
const viewAt = (seq: number, n: number, nameLength = 8): BoardView => {
  const entries: Array<RankedEntry> = Array.from({ length: n }, (_, i) => ({
    rank: i + 1, user_id: `u${i}`, username: `u${i}`.padEnd(nameLength, "x"), xp: 1_000_000 - i * 1000 + seq, level: 1
  }))
  return { key: KEY, seq, entries, total: n }
}

const setup = (n: number, cfg: WsConfig = DEFAULT_WS, nameLength = 8, onBatch: () => void = () => undefined) => {
  let listener: ((v: BoardView) => void) | null = null
  const lb: LeaderboardPort = {
    unavailable: () => null,
    currentPeriod: () => "all",
    list: () => [],
    page: () => null,
    around: () => null,
    watch: () => viewAt(0, n, nameLength),
    unwatch: () => undefined,
    watchAround: () => null,
    unwatchAround: () => undefined,
    onView: (l) => { listener = l; return () => { listener = null } },
    onRollover: () => () => undefined
  }
  const batches: Array<ReadonlyArray<readonly [string, string]>> = []
  const side: HostSide = {
    attached: () => undefined,
    resynced: () => undefined,
    moved: () => undefined,
    batch: (items) => { batches.push(items); onBatch() },
    notify: () => undefined
  }
  const hub = new TopicHub(lb, cfg)
  hub.start()
  const link = hub.addHost(side)
  const spec: ConnSpec = { board: "global", window: "all", limit: n, follow: false, period: "all", resume: null }
  link.hub.open(1, spec)
  const view = async (seq: number): Promise<void> => {
    listener!(viewAt(seq, n, nameLength))
    await Promise.resolve() // the hub flushes in a microtask
  }
  return { hub, link, batches, view }
}

const frames = (batches: Array<ReadonlyArray<readonly [string, string]>>): Array<{ prev_seq: number; seq: number }> =>
  batches.flatMap((b) => b.map(([, json]) => JSON.parse(json) as { prev_seq: number; seq: number }))

describe("TopicHub flow control", () => {
  it("sends a host at most MAX_IN_FLIGHT batches it has not received, then one coalesced delta per ack", async () => {
    const { hub, link, batches, view } = setup(3)
    for (let seq = 1; seq <= 10; seq++) await view(seq)
    expect(batches).toHaveLength(MAX_IN_FLIGHT)
    link.hub.ack()
    await Promise.resolve()
    expect(batches).toHaveLength(MAX_IN_FLIGHT + 1)
    // Views of seq MAX_IN_FLIGHT+1..10 went out as one delta, chained to the last one sent.
    const f = frames(batches)
    expect(f.map((x) => [x.prev_seq, x.seq])).toEqual([
      ...Array.from({ length: MAX_IN_FLIGHT }, (_, i) => [i, i + 1]),
      [MAX_IN_FLIGHT, 10]
    ])
    // Nothing pending: more acks send nothing.
    for (let i = 0; i < MAX_IN_FLIGHT + 1; i++) link.hub.ack()
    await Promise.resolve()
    expect(batches).toHaveLength(MAX_IN_FLIGHT + 1)
    await view(11)
    expect(frames(batches).at(-1)).toMatchObject({ prev_seq: 10, seq: 11 })
    hub.stop()
  })

  it("holds a host whose unreceived batches reach the byte bound, and always sends one batch", async () => {
    // Bound 16 KiB (the floor); each delta of 200 rows with 100-character names is larger.
    const cfg: WsConfig = { ...DEFAULT_WS, staleBytes: 64 * 1024, maxBackpressure: 64 * 1024 + 2 * 16 * 1024 }
    expect(inFlightBytesOf(cfg)).toBe(16 * 1024)
    const { hub, link, batches, view } = setup(200, cfg, 100)
    await view(1)
    expect(batches).toHaveLength(1)
    expect(batches[0]![0]![1].length).toBeGreaterThan(16 * 1024)
    await view(2)
    await view(3)
    expect(batches).toHaveLength(1)
    link.hub.ack()
    await Promise.resolve()
    expect(frames(batches).map((x) => [x.prev_seq, x.seq])).toEqual([[0, 1], [1, 3]])
    hub.stop()
  })

  it("keeps the bound within the margin up to maxBackpressure", () => {
    const b = inFlightBytesOf(DEFAULT_WS)
    expect(b).toBe((DEFAULT_WS.maxBackpressure - DEFAULT_WS.staleBytes) / 2)
    expect(DEFAULT_WS.staleBytes + b).toBeLessThan(DEFAULT_WS.maxBackpressure)
  })
})

describe("TopicHub fan-out share of its thread", () => {
  afterEach(() => { vi.useRealTimers() })

  it("a host on the hub's thread that says its writes took W ms makes the next flush wait W × FLUSH_REST_RATIO", async () => {
    vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout", "performance"] })
    const { hub, link, batches, view } = setup(3)
    await view(1)
    link.hub.ack(30)
    await view(2)
    await view(3)
    expect(batches).toHaveLength(1)
    vi.advanceTimersByTime(30 * FLUSH_REST_RATIO)
    expect(frames(batches).map((x) => [x.prev_seq, x.seq])).toEqual([[0, 1], [1, 3]])
    hub.stop()
  })

  it("a host on a WS thread (an ack without a cost) never delays the next flush, however long the last one took", async () => {
    vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout", "performance"] })
    const { hub, link, batches, view } = setup(3, DEFAULT_WS, 8, () => vi.advanceTimersByTime(20))
    for (let seq = 1; seq <= 4; seq++) {
      await view(seq)
      link.hub.ack()
    }
    expect(frames(batches).map((x) => [x.prev_seq, x.seq])).toEqual([[0, 1], [1, 2], [2, 3], [3, 4]])
    hub.stop()
  })

  it("stop() cancels a resting flush", async () => {
    vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout", "performance"] })
    const { hub, link, batches, view } = setup(3)
    await view(1)
    link.hub.ack(20)
    await view(2)
    hub.stop()
    vi.advanceTimersByTime(100)
    expect(batches).toHaveLength(1)
  })
})
