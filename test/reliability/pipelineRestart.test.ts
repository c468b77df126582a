// The gateway across a pipeline restart (README "Any actor defect fails the pipeline's latch; the
// supervisor restarts the whole pipeline from the last snapshot (the gateway stays up)"). No outside
// fault makes the real service's actors fail (NATS outages are absorbed: natsRestart.test.ts), so
// this drives the real pieces in-process exactly as App.supervisePipeline does: live boards
// detached, a new Boards rebuilt from an older snapshot and attached, the stream replayed and
// continued — while WebSocket clients (real uWS, real LiveBoards) hold subscriptions, and one
// subscribes during the outage. Every fold stays gapless and ends equal to the truth.
import { Deferred, Effect, Exit, Scope } from "effect"
import { afterAll, beforeAll, expect, it } from "vitest"
import type { ActorDefect } from "../../src/actors/Actor.js"
import { Boards } from "../../src/actors/Boards.js"
import { LiveBoards } from "../../src/actors/LiveBoards.js"
import { startGateway } from "../../src/gateway/Gateway.js"
import type { RunningGateway } from "../../src/gateway/Gateway.js"
import { gatewayConfig } from "../../src/gateway/GatewayConfig.js"
import { MemoryLeaderboards, MemoryPipeline } from "../support/memoryPorts.js"
import type { ScoreChange } from "../support/memoryPorts.js"
import { prng } from "../oracle/workload.js"
import { BoardWatch } from "./lib/watch.js"
import type { Entry } from "./lib/watch.js"

const SECRET = "pipeline-restart-secret-0123456789abcdef"
const USERS = 60
const live = new LiveBoards()
let gateway: RunningGateway
let baseUrl = ""

// The truth: a deterministic event log (user, xp gained) and the totals it implies at any seq.
const rnd = prng(99)
const log: Array<{ user: string; add: number }> = Array.from({ length: 1400 }, () => ({ user: `u${Math.floor(USERS * rnd() ** 1.7)}`, add: 5 + Math.floor(rnd() * 150) }))
const totalsAt = (seq: number): Map<string, { xp: number; seq: number }> => {
  const t = new Map<string, { xp: number; seq: number }>()
  for (let s = 1; s <= seq; s++) {
    const e = log[s - 1]!
    t.set(e.user, { xp: (t.get(e.user)?.xp ?? 0) + e.add, seq: s })
  }
  return t
}
const levelOf = (xp: number) => 1 + Math.floor(xp / 500)
const topAt = (seq: number, limit: number): Array<Entry> =>
  [...totalsAt(seq)].sort(([, a], [, b]) => b.xp - a.xp || a.seq - b.seq).slice(0, limit)
    .map(([id, s], i) => ({ rank: i + 1, user_id: id, username: id.toUpperCase(), xp: s.xp, level: levelOf(s.xp) }))

/** A pipeline's boards, as startPipeline builds them (optionally loaded from a snapshot at `fromSeq`). */
const makeBoards = (fromSeq: number) => {
  const scope = Effect.runSync(Scope.make())
  const latch = Effect.runSync(Deferred.make<never, ActorDefect>())
  const state = totalsAt(fromSeq)
  const boards = new Boards({
    lookup: (id) => { const s = state.get(id); return s === undefined ? undefined : { username: id.toUpperCase(), level: levelOf(s.xp) } },
    latch, periodGraceMs: 600_000, readArchive: async () => null, now: Date.now,
    emitView: live.emitView, emitRollover: live.emitRollover, watchedUsers: new Set(), notify: () => {}
  }, scope)
  const board = Effect.runSync(boards.loadBoard({ board: "global", window: "all", period: "all" }))
  for (const [id, s] of state) board.index.set(id, s.xp, s.seq)
  board.seq = fromSeq
  /** Applies events (from, to] in batches, the way the sequencer dispatches them. */
  const run = async (from: number, to: number) => {
    for (let s = from + 1; s <= to; s += 20) {
      const changes: Array<ScoreChange> = []
      const end = Math.min(to, s + 19)
      for (let k = s; k <= end; k++) {
        const e = log[k - 1]!
        const cur = state.get(e.user)
        const next = { xp: (cur?.xp ?? 0) + e.add, seq: k }
        state.set(e.user, next)
        changes.push({ board: "global", window: "all", period: "all", userId: e.user, username: e.user.toUpperCase(), xp: next.xp, seq: k, level: levelOf(next.xp) })
      }
      await Effect.runPromise(boards.dispatch(changes, end, Date.now()))
      await new Promise((r) => setTimeout(r, 2)) // let board actors drain and views flow
    }
  }
  return { boards, run, close: () => Effect.runPromise(Scope.close(scope, Exit.void)) }
}

beforeAll(async () => {
  const pipeline = new MemoryPipeline(new MemoryLeaderboards())
  gateway = await startGateway({
    leaderboards: live, users: pipeline, ingest: pipeline, health: pipeline, notifications: pipeline, rules: pipeline,
    shares: null as never, config: gatewayConfig({ host: "127.0.0.1", port: 0, jwtSecret: SECRET, authEnabled: true, production: false }, { rateLimit: { perIp: 100_000, perToken: 100_000 } }),
    log: { warn: () => {}, error: (m, f) => console.error(m, f) }
  })
  baseUrl = `http://127.0.0.1:${gateway.port}`
})
afterAll(async () => {
  await gateway?.close()
})

it("keeps every WebSocket fold gapless and exact when the pipeline restarts from an older snapshot", async () => {
  const first = makeBoards(0)
  live.attach(first.boards)
  const early = await Promise.all([{ limit: 10 }, { limit: 50 }].map((s) => BoardWatch.open(baseUrl, { board: "global", window: "all", ...s })))
  await first.run(0, 800)

  // The defect: the supervisor detaches the boards and closes the failed pipeline's scope.
  live.attach(null)
  await first.close()
  const during = await Promise.all([{ limit: 10 }, { limit: 25 }].map((s) => BoardWatch.open(baseUrl, { board: "global", window: "all", ...s })))

  // The restart: boards rebuilt from the last snapshot (seq 500), attached, the stream replayed past 800 and on.
  const second = makeBoards(500)
  live.attach(second.boards)
  await second.run(500, log.length)

  for (const w of [...early, ...during]) {
    const expected = topAt(log.length, w.sub.limit)
    const s = await w.settle(expected, 20_000) // fold() throws on a gap or an epoch change without a snapshot
    expect({ limit: w.sub.limit, entries: s.entries }).toEqual({ limit: w.sub.limit, entries: expected })
    // Never back in time: seqs only grow along the whole chain.
    const seqs = w.reader.messages.map((m) => m.seq)
    expect(seqs).toEqual([...seqs].sort((a, b) => a - b))
    w.close()
  }
  await second.close()
  console.log(`pipeline restart: ${early.length + during.length} subscriptions; messages per subscription ${[...early, ...during].map((w) => w.reader.messages.length).join(", ")}`)
})
