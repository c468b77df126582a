// The gateway's chain-fed live boards (adapters/nats/MergedLiveBoards.ts) on a real NATS server,
// against a scripted merger: the first view is the merger's snapshot (asked by request/reply after
// a want), a delta continuing the chain is applied, a lost delta (core NATS is at-most-once) and a
// new merger's epoch each fetch a snapshot again, and every view the port hands out is the
// merger's state at that point (never a half-applied one).
import { randomBytes } from "node:crypto"
import { connect } from "@nats-io/transport-node"
import type { NatsConnection } from "@nats-io/transport-node"
import { afterAll, beforeAll, expect, it } from "vitest"
import { makeMergedLiveBoards } from "../../src/adapters/nats/MergedLiveBoards.js"
import type { ChainDelta, ChainEntry, ChainSnapshot } from "../../src/domain/LiveChain.js"
import { deltaSubject, diffTop, snapSubject, wantSubject } from "../../src/domain/LiveChain.js"
import type { BoardKey } from "../../src/domain/Model.js"
import type { BoardView } from "../../src/ports/ReadModel.js"
import { NATS_URL, sleep } from "../support/arena.js"

let nc: NatsConnection
beforeAll(async () => { nc = await connect({ servers: NATS_URL }) })
afterAll(async () => { await nc?.close() })

const top = (xp: Record<string, number>): Array<ChainEntry> =>
  Object.entries(xp).sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1))
    .map(([u, x], i) => ({ rank: i + 1, user_id: u, username: u, xp: x, level: 1 }))

it("applies the chain, and fetches a snapshot on a lost delta and on a new epoch", async () => {
  const key: BoardKey = { board: `group:t.${randomBytes(4).toString("hex")}`, window: "all", period: "all" }
  let state: ChainSnapshot = { epoch: 7, n: 0, seq: 10, total: 2, entries: top({ a: 5, b: 3 }) }
  let snapshots = 0, wants = 0
  const snaps = nc.subscribe(snapSubject(key.board, key.window, key.period), { callback: (_e, m) => { snapshots++; m.respond(JSON.stringify({ ok: state })) } })
  const wantSub = nc.subscribe(wantSubject(key.board, key.window, key.period), { callback: () => { wants++ } })
  await nc.flush()
  /** The merger's next state; its delta is published unless `lose`. */
  const step = (xp: Record<string, number>, seq: number, o: { lose?: boolean; epoch?: number } = {}) => {
    const entries = top(xp)
    const epoch = o.epoch ?? state.epoch
    const n = epoch === state.epoch ? state.n + 1 : 1
    const d = diffTop(epoch === state.epoch ? state.entries : [], entries)
    const delta: ChainDelta = { epoch, n, seq, total: entries.length, set: d.set, removed: d.removed }
    state = { epoch, n, seq, total: entries.length, entries }
    if (o.lose !== true) nc.publish(deltaSubject(key.board, key.window, key.period), JSON.stringify(delta))
  }
  const lb = makeMergedLiveBoards(nc, { warn: (m) => { throw new Error(m) } })
  const views: Array<BoardView> = []
  lb.onView((v) => views.push(v))
  const until = async (what: string, f: () => boolean) => {
    for (const end = Date.now() + 10_000; !f();) {
      if (Date.now() > end) throw new Error(`timed out: ${what}`)
      await sleep(20)
    }
  }
  const last = () => views[views.length - 1]
  const isState = () => last() !== undefined && last()!.seq === state.seq && JSON.stringify(last()!.entries) === JSON.stringify(state.entries)
  try {
    expect(lb.watch(key, 10)).toBeNull()
    await until("the first snapshot", isState)
    expect(wants).toBeGreaterThan(0)
    expect(snapshots).toBe(1)
    step({ a: 5, b: 3, c: 9 }, 12)
    await until("a delta applied", isState)
    expect(snapshots).toBe(1)
    step({ a: 11, b: 3, c: 9 }, 13, { lose: true })
    step({ a: 11, b: 4, c: 9, d: 1 }, 15)
    await until("the snapshot after a lost delta", isState)
    expect(snapshots).toBe(2)
    step({ a: 11, b: 4, c: 9, d: 2 }, 16)
    await until("the chain after the resync", isState)
    expect(snapshots).toBe(2)
    // A new merger: its chain starts from its own state, so the port starts over from a snapshot.
    step({ a: 11, b: 4, c: 9, d: 2, e: 20 }, 18, { epoch: 9 })
    await until("the snapshot of the new epoch", isState)
    expect(snapshots).toBe(3)
    expect(lb.resyncs()).toBe(3)
    // Every view was a state of the merger: entries ranked 1.. in board order, no duplicate user.
    for (const v of views) {
      expect(v.entries.map((e) => e.rank)).toEqual(v.entries.map((_, i) => i + 1))
      expect(new Set(v.entries.map((e) => e.user_id)).size).toBe(v.entries.length)
    }
    // Unwatched: no more wants, no more views.
    lb.unwatch(key, 10)
    const seen = views.length
    step({ a: 30 }, 20)
    await sleep(100)
    expect(views.length).toBe(seen)
  } finally {
    lb.close()
    snaps.unsubscribe()
    wantSub.unsubscribe()
  }
})
