// The gateway across a pipeline restart (README "Any actor defect fails the pipeline's latch; the
// supervisor restarts the whole pipeline from the last snapshot (the gateway stays up)"). No outside
// fault makes the real service's actors fail (NATS outages are absorbed: natsRestart.test.ts), so
// this drives the real pieces in-process exactly as App.supervisePipeline does: live boards
// detached, a new Boards rebuilt from an older snapshot and attached, the stream replayed and
// continued — while WebSocket clients (real uWS, real LiveBoards) hold subscriptions, and one
// subscribes during the outage. Every fold stays gapless and ends equal to the truth.
import { afterAll, beforeAll, expect, it } from "vitest"
import { Boards } from "../../src/actors/Boards.js"
import { newEngineState } from "../../src/domain/engine/EngineState.js"
import { GLOBAL_ALL } from "../../src/domain/ranking/BoardRegistry.js"
import { LiveBoards } from "../../src/actors/LiveBoards.js"
import { startGateway } from "../../src/gateway/Gateway.js"
import type { RunningGateway } from "../../src/gateway/Gateway.js"
import { gatewayConfig } from "../../src/gateway/GatewayConfig.js"
import { MemoryLeaderboards, MemoryPipeline } from "../support/memoryPorts.js"
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
  const state = newEngineState(600_000)
  const pos = { applied: fromSeq, streamTimeMs: Date.now(), gaps: 0 }
  const boards = new Boards(state, pos, {
    readArchive: async () => null, committedSeq: () => 0, now: Date.now,
    feed: { emitView: live.emitView, emitRollover: live.emitRollover, watchedUsers: new Set(), notify: () => {} }
  })
  const u = state.users
  /** The user's new global score, as the engine writes it (the board entry moves with it). */
  const score = (id: string, xp: number, seq: number) => {
    const uid = u.intern(id)
    const had = u.events[uid]! > 0
    state.boards.score(GLOBAL_ALL, uid, had ? u.totalXp[uid]! : -1, had ? u.totalSeq[uid]! : 0, xp, seq)
    u.totalXp[uid] = xp
    u.totalSeq[uid] = seq
    u.events[uid] = u.events[uid]! + 1
    u.level[uid] = levelOf(xp)
    u.setUsername(uid, id.toUpperCase())
  }
  // The snapshot: every user's total at fromSeq, boards rebuilt from them.
  for (const [id, t] of totalsAt(fromSeq)) score(id, t.xp, t.seq)
  state.boards.takeChanged()
  /** Applies events (from, to] in slices of 20, then publishes, the way the pipeline does. */
  const run = async (from: number, to: number) => {
    for (let s = from + 1; s <= to; s += 20) {
      const end = Math.min(to, s + 19)
      for (let k = s; k <= end; k++) {
        const e = log[k - 1]!
        const uid = u.uidOf(e.user)
        score(e.user, (uid < 0 || u.events[uid] === 0 ? 0 : u.totalXp[uid]!) + e.add, k)
      }
      pos.applied = end
      boards.publish(state.boards.takeChanged())
      await new Promise((r) => setTimeout(r, 2)) // let views flow to the sockets
    }
  }
  return { boards, run, close: async () => {} }
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
