// Reads while the pipeline restarts (ARCHITECTURE §6 "Readiness and honesty of reads", issue 11
// item 5). No outside fault makes the real service's actors fail (natsRestart.test.ts), so this runs
// the real supervisor (actors/Supervisor.ts) and the real LiveBoards behind the real gateway (uWS),
// with pipelines made of real Boards: an actor defect fails the running pipeline's latch, the
// supervisor detaches it and starts again — a start the test holds (the reload of the snapshot).
// Meanwhile boards and profiles answer 503 + Retry-After saying why (never a 404 or an empty board),
// and a WebSocket subscriber that arrives meanwhile gets the real snapshot once the state is back.
import { afterAll, beforeAll, expect, it } from "vitest"
import { Cause, Deferred, Effect, Exit, Schedule, Scope } from "effect"
import { actorDefect } from "../../src/actors/Actor.js"
import type { FailureLatch } from "../../src/actors/Actor.js"
import { Boards } from "../../src/actors/Boards.js"
import { LiveBoards } from "../../src/actors/LiveBoards.js"
import type { Pipeline } from "../../src/actors/Pipeline.js"
import { supervisePipeline } from "../../src/actors/Supervisor.js"
import { makeUsers } from "../../src/actors/Users.js"
import { newEngineState } from "../../src/domain/engine/EngineState.js"
import { GLOBAL_ALL } from "../../src/domain/ranking/BoardRegistry.js"
import { startGateway } from "../../src/gateway/Gateway.js"
import type { RunningGateway } from "../../src/gateway/Gateway.js"
import { gatewayConfig } from "../../src/gateway/GatewayConfig.js"
import type { LeaderboardMessage } from "../../src/gateway/protocol/Messages.js"
import { registry } from "../../src/observability/Metrics.js"
import { MemoryLeaderboards, MemoryPipeline } from "../support/memoryPorts.js"
import { request } from "./lib/http.js"
import type { ErrorJson } from "./lib/http.js"
import { BoardWatch } from "./lib/watch.js"

const SECRET = "restart-reads-secret-0123456789abcdef"
const live = new LiveBoards()
let gateway: RunningGateway
let baseUrl = ""
const scope = Effect.runSync(Scope.make())
const latches: Array<FailureLatch> = []
const reload = Effect.runSync(Deferred.make<void>())
let current: () => Pipeline | null = () => null

/** A pipeline whose boards hold users u0..u(n-1) with 100·(i+1) xp, at seq `seq`. */
const pipelineAt = (seq: number, n: number): Pipeline => {
  const state = newEngineState(600_000)
  const pos = { applied: seq, streamTimeMs: Date.now(), gaps: 0 }
  const boards = new Boards(state, pos, {
    readArchive: async () => null, now: Date.now,
    feed: { emitView: live.emitView, emitRollover: live.emitRollover, watchedUsers: new Set(), notify: () => {} }
  })
  for (let i = 0; i < n; i++) {
    const uid = state.users.intern(`u${i}`)
    const xp = 100 * (i + 1)
    state.boards.score(GLOBAL_ALL, uid, -1, 0, xp, i + 1)
    state.users.totalXp[uid] = xp
    state.users.totalSeq[uid] = i + 1
    state.users.events[uid] = 1
    state.users.level[uid] = 1
    state.users.setUsername(uid, `U${i}`)
  }
  state.boards.takeChanged()
  return { boards, status: { phase: "ready" }, rules: null, drainAndSnapshot: Effect.void, streamCreated: "t" } as unknown as Pipeline
}

beforeAll(async () => {
  let runs = 0
  const supervised = await Effect.runPromise(supervisePipeline({
    boards: live,
    log: { error: () => {}, warn: () => {} },
    restart: Schedule.spaced("10 millis"),
    start: (latch) => Effect.gen(function*() {
      latches.push(latch)
      if (runs++ === 0) return pipelineAt(800, 20)
      yield* Deferred.await(reload) // the restart's snapshot load, held by the test
      return pipelineAt(900, 25)
    })
  }).pipe(Scope.provide(scope)))
  current = supervised.current
  const mem = new MemoryPipeline(new MemoryLeaderboards())
  gateway = await startGateway({
    leaderboards: live,
    users: makeUsers(supervised.current, async () => ({ entries: [], nextBeforeSeq: null }), () => [], () => live.unavailable()),
    ingest: mem, health: mem, notifications: mem, rules: mem,
    shares: null as never, config: gatewayConfig({ host: "127.0.0.1", port: 0, jwtSecret: SECRET, authEnabled: true, production: false }, { rateLimit: { perIp: 100_000, perToken: 100_000 } }),
    log: { warn: () => {}, error: (m, f) => console.error(m, f) }
  })
  baseUrl = `http://127.0.0.1:${gateway.port}`
})
afterAll(async () => {
  await gateway?.close()
  await Effect.runPromise(Deferred.succeed(reload, undefined))
  await Effect.runPromise(Scope.close(scope, Exit.void))
})

const until = async (what: string, cond: () => boolean | Promise<boolean>) => {
  for (let i = 0; i < 2000; i++) { if (await cond()) return; await new Promise((r) => setTimeout(r, 5)) }
  throw new Error(`timed out: ${what}`)
}

it("answers 503 + Retry-After while the supervisor restarts the pipeline, and gives a subscriber of that moment the snapshot once state is back", async () => {
  await until("the first pipeline attached", () => current() !== null)
  const before = await request<{ seq: number; entries: Array<unknown> }>(baseUrl, "GET", "/v1/leaderboards/global?window=all&limit=10")
  expect([before.status, before.json.seq, before.json.entries.length]).toEqual([200, 800, 10])

  // An actor defect: the latch fails, the supervisor detaches the boards and starts again.
  await Effect.runPromise(Deferred.fail(latches[0]!, actorDefect("processor", Cause.die(new Error("boom")))))
  await until("the restart is under way", () => latches.length === 2 && current() === null)
  for (const path of ["/v1/leaderboards", "/v1/leaderboards/global?window=all&limit=10", "/v1/leaderboards/global/users/u3", "/v1/users/u3"]) {
    const r = await request<ErrorJson>(baseUrl, "GET", path)
    expect({ path, status: r.status, retryAfter: r.headers["retry-after"], code: r.json?.error?.code }).toEqual({ path, status: 503, retryAfter: "1", code: "unavailable" })
    expect(r.json.error.message).toMatch(/^state is not available right now: the pipeline is restarting from its last snapshot after a failure \(.*boom.*\); retry later$/)
  }

  // A subscriber of a topic nobody watched before: registered while there is no state.
  const topics = () => Number(/^arena_ws_topics (\d+)$/m.exec(registry.render())?.[1] ?? 0)
  const t0 = topics()
  const w = await BoardWatch.open(baseUrl, { board: "global", window: "all", limit: 7 })
  await until("the topic registered", () => topics() === t0 + 1)
  expect(w.reader.messages).toEqual([])

  await Effect.runPromise(Deferred.succeed(reload, undefined))
  const first = await w.reader.nth(0, 10_000) as LeaderboardMessage & { type: string; seq: number; entries: Array<{ user_id: string }> }
  expect([first.type, first.seq, first.entries.map((e) => e.user_id)]).toEqual(["snapshot", 900, ["u24", "u23", "u22", "u21", "u20", "u19", "u18"]])
  w.close()
  const after = await request<{ seq: number }>(baseUrl, "GET", "/v1/leaderboards/global?window=all&limit=10")
  expect([after.status, after.json.seq]).toEqual([200, 900])
})
