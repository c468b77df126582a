// The lease-held coordinator (src/adapters/nats/Coordinator.ts) on a real 3-node nats-server 2.9.10
// cluster from scripts/cluster.sh: with two candidates, one writes the single assignment every
// member follows; a member leaving hands over only its own partitions; when the coordinator goes,
// the other candidate takes over and continues the epoch from the stored assignment. Members and
// candidates are fibers of this test process (each with its own leases, as separate processes
// would have), not separate processes.
import { jetstream, jetstreamManager } from "@nats-io/jetstream"
import { connect } from "@nats-io/transport-node"
import type { NatsConnection } from "@nats-io/transport-node"
import { Effect, Exit, Fiber, Scope } from "effect"
import { afterAll, beforeAll, expect, it } from "vitest"
import { COORDINATOR_LEASE, Coordinator, coordinate, memberLease } from "../../src/adapters/nats/Coordinator.js"
import type { StoredAssignment } from "../../src/adapters/nats/Coordinator.js"
import { keepLease } from "../../src/adapters/nats/LeaseKeeper.js"
import { makeLeases } from "../../src/adapters/nats/Leases.js"
import type { Leases } from "../../src/adapters/nats/Leases.js"
import { moves, partitionsOf } from "../../src/domain/Assignment.js"
import type { Assignment } from "../../src/domain/Assignment.js"
import { testCluster } from "../support/natsCluster.js"

const P = 8
const cluster = testCluster({ clientPort: 4351, partitions: P })
const id = Math.random().toString(36).slice(2, 8)
let nc: NatsConnection
let leases: Leases
let coordinator: Coordinator
const scopes: Array<Scope.Closeable> = []
const run = <A, E>(e: Effect.Effect<A, E>) => Effect.runPromise(e)

beforeAll(async () => {
  const r = await cluster.run("start")
  if (r.code !== 0) throw new Error(r.out)
  nc = await connect({ servers: [...cluster.urls], pingInterval: 500, maxPingOut: 2, maxReconnectAttempts: -1, reconnectTimeWait: 200 })
  const js = jetstream(nc)
  const jsm = await jetstreamManager(nc)
  leases = makeLeases({ stream: `LEASES_${id}`, prefix: `t${id}.lease`, ttlMs: 3_000, replicas: 3 }, js, jsm)
  await run(leases.provision())
  coordinator = new Coordinator({ stream: `ASSIGN_${id}`, subject: `t${id}.assignment`, replicas: 3 }, P, leases, js, jsm)
  await run(coordinator.provision())
})

afterAll(async () => {
  for (const s of scopes) await run(Scope.close(s, Exit.void))
  await nc?.close()
  await cluster.destroy()
})

/** A member: keeps its `member.<id>` lease until its scope closes (then releases it). */
const member = async (name: string): Promise<Scope.Closeable> => {
  const r = await run(leases.acquire(memberLease(name), name))
  if (r._tag !== "Acquired") throw new Error(`member ${name} could not join: ${JSON.stringify(r)}`)
  const scope = await run(Scope.make())
  scopes.push(scope)
  await run(Scope.provide(keepLease(leases, r.held), scope))
  return scope
}

/** A coordinator candidate running until interrupted. */
const candidate = (name: string) => Effect.runFork(coordinate(leases, coordinator, name, 200))

const waitAssignment = async (what: string, ok: (a: Assignment) => boolean): Promise<StoredAssignment> => {
  const end = Date.now() + 60_000
  for (;;) {
    const s = await run(coordinator.read())
    if (s !== null && ok(s.assignment)) return s
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}; last ${JSON.stringify(s)}`)
    await new Promise((r) => setTimeout(r, 50))
  }
}

it("one coordinator assigns, a leaving member hands over only its partitions, a new coordinator continues the epoch", async () => {
  await member("A")
  await member("B")
  const c = await member("C")
  const fa = candidate("A")
  const fb = candidate("B")
  const first = await waitAssignment("A, B and C assigned", (a) => a.members.join() === "A,B,C")
  expect(first.assignment.owners).toHaveLength(P)
  expect(first.assignment.members.map((m) => partitionsOf(first.assignment, m).length).sort()).toEqual([2, 3, 3])

  // C leaves (its scope closes: its member lease is released).
  await run(Scope.close(c, Exit.void))
  const second = await waitAssignment("C gone", (a) => a.members.join() === "A,B")
  expect(second.assignment.epoch).toBeGreaterThan(first.assignment.epoch)
  expect(moves(first.assignment, second.assignment)).toBe(partitionsOf(first.assignment, "C").length)

  // The coordinator goes; the other candidate takes over and continues from the stored epoch.
  const holder = (await run(leases.read(COORDINATOR_LEASE)))!.holder
  await run(Fiber.interrupt(holder === "A" ? fa : fb))
  await member("D")
  const third = await waitAssignment("D assigned by the new coordinator", (a) => a.members.join() === "A,B,D")
  expect(third.assignment.epoch).toBeGreaterThan(second.assignment.epoch)
  expect((await run(leases.read(COORDINATOR_LEASE)))!.holder).toBe(holder === "A" ? "B" : "A")
  // Balanced again, and D got its share from the others without reshuffling the rest.
  expect(["A", "B", "D"].map((m) => partitionsOf(third.assignment, m).length).sort()).toEqual([2, 3, 3])
  expect(moves(second.assignment, third.assignment)).toBe(partitionsOf(third.assignment, "D").length)
  await run(Fiber.interrupt(holder === "A" ? fb : fa))
})
