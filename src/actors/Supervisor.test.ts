// The supervisor says why no pipeline runs in one sentence — for a start that fails (a NATS error
// here) and for an actor defect — and that sentence is what /readyz reports, never a Cause dump.
import { Deferred, Effect, Exit, Schedule, Scope } from "effect"
import { describe, expect, it } from "vitest"
import { readiness } from "../observability/Readiness.js"
import type { PortFailure } from "../ports/Failure.js"
import { actorDefect } from "./Actor.js"
import type { FailureLatch } from "./Actor.js"
import { LiveBoards } from "./LiveBoards.js"
import type { Pipeline } from "./Pipeline.js"
import { supervisePipeline } from "./Supervisor.js"
import type { SupervisedPipeline } from "./Supervisor.js"

const quiet = { error: () => {}, warn: () => {} }
const natsDown: PortFailure = { _tag: "NatsError", retryable: true, message: "reading stream ARENA_XP: connection refused" }

const reasonsOf = (s: SupervisedPipeline) =>
  readiness({ pipeline: s.current, pipelineError: s.lastError, pipelineFatal: s.fatal, natsConnected: () => true, analytics: () => null, now: Date.now }).reasons

const until = async (f: () => boolean) => {
  for (let i = 0; i < 500 && !f(); i++) await new Promise((r) => setTimeout(r, 5))
  expect(f()).toBe(true)
}

const noCauseDump = (reasons: ReadonlyArray<string>) => {
  for (const r of reasons) {
    expect(r).not.toMatch(/Cause\(|Fail\(|Die\(|\n|\bat /)
  }
}

describe("supervisePipeline", () => {
  it("reports a failed start as the failure's sentence", async () => {
    const scope = Effect.runSync(Scope.make())
    const s = await Effect.runPromise(supervisePipeline({ start: () => Effect.fail(natsDown), boards: new LiveBoards(), log: quiet }).pipe(Scope.provide(scope)))
    await until(() => s.lastError() !== null)
    expect(reasonsOf(s)).toEqual(["pipeline not running: reading stream ARENA_XP: connection refused"])
    noCauseDump(reasonsOf(s))
    await Effect.runPromise(Scope.close(scope, Exit.void))
  })

  it("reports an actor defect as `actor <name> failed: <what it threw>`", async () => {
    const scope = Effect.runSync(Scope.make())
    let latch: FailureLatch | null = null
    const fake = { boards: null, drainAndSnapshot: Effect.void } as unknown as Pipeline
    const s = await Effect.runPromise(supervisePipeline({
      start: (l) => Effect.sync(() => { latch = l; return fake }),
      boards: new LiveBoards(),
      log: quiet
    }).pipe(Scope.provide(scope)))
    await until(() => latch !== null && s.current() === fake)
    const boom = Effect.runSync(Effect.exit(Effect.die(new Error("board index corrupt\n    at somewhere (file.ts:1:1)"))))
    if (boom._tag !== "Failure") throw new Error("expected a failure")
    Effect.runSync(Deferred.fail(latch!, actorDefect("board global|all|all", boom.cause)))
    await until(() => s.lastError() !== null)
    expect(s.lastError()).toBe("actor board global|all|all failed: board index corrupt")
    noCauseDump(reasonsOf(s))
    await Effect.runPromise(Scope.close(scope, Exit.void))
  })

  it("stops retrying on a failure no retry fixes, and says so as fatal", async () => {
    const scope = Effect.runSync(Scope.make())
    let starts = 0
    const mismatch: PortFailure = { _tag: "SnapshotMismatch", retryable: false, message: "the snapshot in Postgres belongs to another stream" }
    const s = await Effect.runPromise(supervisePipeline({
      start: () => Effect.suspend(() => { starts++; return Effect.fail(mismatch) }),
      boards: new LiveBoards(),
      log: quiet,
      restart: Schedule.spaced(1)
    }).pipe(Scope.provide(scope)))
    await until(() => s.fatal() !== null)
    await new Promise((r) => setTimeout(r, 50))
    expect(starts).toBe(1)
    const r = readiness({ pipeline: s.current, pipelineError: s.lastError, pipelineFatal: s.fatal, natsConnected: () => true, analytics: () => null, now: Date.now })
    expect([r.ready, r.fatal, r.reasons]).toEqual([false, true, ["fatal, not retried: the snapshot in Postgres belongs to another stream"]])
    await Effect.runPromise(Scope.close(scope, Exit.void))
  })

  it("restart: drains and snapshots the running pipeline, runs `between` while none runs, starts again and answers once it has", async () => {
    const scope = Effect.runSync(Scope.make())
    const events: Array<string> = []
    let n = 0
    const s = await Effect.runPromise(supervisePipeline({
      start: () => Effect.sync(() => {
        const id = ++n
        events.push(`start ${id}`)
        return { boards: null, drainAndSnapshot: Effect.sync(() => { events.push(`snapshot ${id}`) }) } as unknown as Pipeline
      }),
      boards: new LiveBoards(),
      log: quiet
    }).pipe(Scope.provide(scope)))
    await until(() => s.current() !== null)
    const value = await Effect.runPromise(s.restart("test", Effect.sync(() => { events.push(`between (running: ${s.current() !== null})`); return 42 })))
    expect(value).toBe(42)
    expect(events).toEqual(["start 1", "snapshot 1", "between (running: false)", "start 2"])
    expect(s.current()).not.toBeNull()
    // A failing `between` fails the caller; the pipeline starts again all the same.
    const failed = await Effect.runPromise(Effect.flip(s.restart("test", Effect.fail("refused"))))
    expect(failed).toBe("refused")
    await until(() => s.current() !== null && n === 3)
    await Effect.runPromise(Scope.close(scope, Exit.void))
  })

  it("restart is refused with a sentence while no pipeline runs", async () => {
    const scope = Effect.runSync(Scope.make())
    const s = await Effect.runPromise(supervisePipeline({ start: () => Effect.fail(natsDown), boards: new LiveBoards(), log: quiet }).pipe(Scope.provide(scope)))
    await until(() => s.lastError() !== null)
    const e = await Effect.runPromise(Effect.flip(s.restart("test", Effect.void)))
    expect(e).toMatchObject({ _tag: "RestartRefused", message: "reading stream ARENA_XP: connection refused" })
    await Effect.runPromise(Scope.close(scope, Exit.void))
  })
})
