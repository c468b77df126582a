// Wiring of partitioned mode (ARCHITECTURE §9, docs/scaling.md), `ARENA_PARTITIONS` set:
//   processor: keeps a `member.<id>` lease, campaigns for the one coordinator lease (Coordinator.ts
//     writes the assignment every member follows), and for each partition the assignment gives it
//     acquires the partition's lease, claims the Postgres fence with the lease revision, and runs
//     the single-process pipeline over that partition's subjects only, from the partition's
//     checkpoint, with every snapshot committed under the fence. Once caught up it answers the
//     partition's queries (PartitionReads over request/reply). A partition the assignment moves
//     away is handed over: queries stop, the pipeline drains, a final snapshot, the lease is released.
//   gateway: a stateless HTTP server answering board reads by scatter-gather (MergedReads), and
//     POST /v1/events: the single process's checks, each event published to its user's
//     `arena.xp.events.<user token>` (never the bare `arena.xp.events`, which no stream captures here).
// Not built yet (docs/scaling.md): ClickHouse analytics (records are dropped: no ledgers), live
// WebSocket boards and the merger, corrections/settings/erasures, ticks across partitions.
import { Deferred, Effect, Exit, Fiber } from "effect"
import * as os from "node:os"
import type { ArenaConfig } from "./Config.js"
import { causeSentence } from "./actors/Actor.js"
import type { ActorDefect } from "./actors/Actor.js"
import { establishRulesHistory } from "./actors/EstablishRulesHistory.js"
import { partitionReads } from "./actors/PartitionReads.js"
import { startPipeline } from "./actors/Pipeline.js"
import type { Pipeline } from "./actors/Pipeline.js"
import { Coordinator, coordinate, memberLease } from "./adapters/nats/Coordinator.js"
import { DeadLetters } from "./adapters/nats/DeadLetters.js"
import { makeEventSource } from "./adapters/nats/EventSource.js"
import { keepLease } from "./adapters/nats/LeaseKeeper.js"
import { makeLeases } from "./adapters/nats/Leases.js"
import type { Leases } from "./adapters/nats/Leases.js"
import { makeMergedReads } from "./adapters/nats/MergedReads.js"
import { openNats } from "./adapters/nats/Nats.js"
import type { NatsHandle } from "./adapters/nats/Nats.js"
import { servePartition } from "./adapters/nats/PartitionQueries.js"
import { streamNames } from "./adapters/nats/Streams.js"
import type { Sql } from "./adapters/postgres/Db.js"
import { claimPartition } from "./adapters/postgres/PartitionFence.js"
import { makePartitionSnapshotStore } from "./adapters/postgres/PartitionSnapshotStore.js"
import { makeRulesStore } from "./adapters/postgres/RulesStore.js"
import { makeIngest } from "./adapters/nats/Publisher.js"
import { openInfrastructure, loadRules, loadRulesCandidate } from "./App.js"
import { partitionsOf } from "./domain/Assignment.js"
import { kindSubjects } from "./domain/MessageKind.js"
import { ingestSubject, partitionFilter } from "./domain/Partition.js"
import { checkForPublish } from "./domain/PublishCheck.js"
import type { RulesHistory } from "./domain/RulesHistory.js"
import { startMergedGateway } from "./gateway/MergedGateway.js"
import { Authenticator } from "./gateway/auth/Auth.js"
import { checkGatewayConfig, gatewayConfig } from "./gateway/GatewayConfig.js"
import { RateLimiter } from "./gateway/limits/RateLimiter.js"
import type { Log } from "./observability/Log.js"
import type { AnalyticsSink } from "./ports/Analytics.js"
import type { LiveFeedSink } from "./ports/LiveFeed.js"

/** The request/reply prefix of partition queries: `arena.q.p.<k>.<op>`. */
export const QUERY_PREFIX = "arena"
export const LEASE_STREAM = "ARENA_LEASES"
export const LEASE_PREFIX = "arena.lease"
export const ASSIGNMENT_STREAM = "ARENA_ASSIGNMENT"
export const ASSIGNMENT_SUBJECT = "arena.assignment"
/** The lease of partition k: `p.<k>`. */
export const partitionLease = (k: number): string => `p.${k}`

export type PartitionedRole = "all" | "processor" | "gateway"

const LIVENESS = { pingIntervalMs: 1_000, maxPingOut: 2 }

/** Analytics in partitioned mode are not built: records are dropped, snapshots wait on nothing. */
const noAnalytics: AnalyticsSink = { submit: () => Effect.void, awaitDurable: () => Effect.void }
/** Live views in partitioned mode are not built (no merger): a partition's boards publish nowhere. */
const noFeed: LiveFeedSink = { emitView: () => undefined, emitRollover: () => undefined, notify: () => undefined, watchedUsers: new Set() }

const sleep = (ms: number) => Effect.sleep(ms)

interface ProcessorContext {
  readonly config: ArenaConfig
  readonly log: Log
  readonly sql: Sql
  readonly nats: NatsHandle
  readonly leases: Leases
  readonly member: string
  readonly history: RulesHistory
}

/**
 * One owned partition, in its own scope: lease, fence, pipeline, queries. Returns when the lease
 * is lost, when `stop` is done (after the handover: drain, final snapshot), or fails when the
 * pipeline fails. Closing the scope releases the lease.
 */
const ownPartition = (c: ProcessorContext, k: number, stop: Deferred.Deferred<void>) =>
  Effect.gen(function*() {
    const got = yield* c.leases.acquire(partitionLease(k), c.member)
    // Still held by the previous owner (handing over, or dead until its lease expires).
    if (got._tag !== "Acquired") return "waiting" as const
    const kept = yield* keepLease(c.leases, got.held)
    const token = got.held.token
    const claimed = yield* claimPartition(c.sql, k, token, c.member)
    const names = streamNames(c.config)
    const latch = yield* Deferred.make<never, ActorDefect>()
    const pipeline: Pipeline = yield* startPipeline({
      events: makeEventSource(c.nats, names.events, [], { filterSubject: partitionFilter(k) }),
      snapshots: makePartitionSnapshotStore(c.sql, k, token),
      openDeadLetters: () => new DeadLetters(c.nats.js, names.dlqSubject, { maxPayload: () => c.nats.nc.info?.max_payload ?? 1024 * 1024 }),
      analytics: noAnalytics,
      feed: noFeed,
      history: c.history,
      batchMax: c.config.batchMax,
      snapshotIntervalMs: c.config.snapshotIntervalMs,
      latch,
      log: (l) => c.log.info(`partition ${k}: ${l}`),
      partition: { partitions: c.config.partitions!, owned: k }
    })
    c.log.info(`partition ${k}: owned with fencing token ${token} (from seq ${claimed.seq})`)
    let sub: { unsubscribe: () => void } | null = null
    yield* Effect.addFinalizer(() => Effect.sync(() => sub?.unsubscribe()))
    for (;;) {
      if (yield* Deferred.isDone(latch)) {
        const exit = yield* Effect.exit(Deferred.await(latch))
        return yield* Effect.fail(new Error(`partition ${k}: pipeline failed: ${Exit.isFailure(exit) ? causeSentence(exit.cause) : "?"}`))
      }
      if (kept.current() === null) {
        c.log.warn(`partition ${k}: lease lost (${kept.lostReason() ?? "?"}): stopping without a snapshot; the new owner resumes from the last committed one`)
        return "lost" as const
      }
      if (yield* Deferred.isDone(stop)) {
        sub?.unsubscribe()
        sub = null
        // The handover: apply what is in flight, one final snapshot under the fence, then release.
        const drained = yield* pipeline.drainAndSnapshot.pipe(
          Effect.raceFirst(Deferred.await(latch)),
          Effect.timeout(c.config.leaseTtlMs * 2),
          Effect.exit
        )
        c.log.info(`partition ${k}: handed over (${Exit.isSuccess(drained) ? `final snapshot at seq ${pipeline.status.snapshot.lastSeq}` : "no final snapshot"})`)
        return "released" as const
      }
      if (sub === null && pipeline.status.phase === "ready") {
        sub = servePartition(c.nats.nc, QUERY_PREFIX, k, partitionReads(k, pipeline))
        c.log.info(`partition ${k}: caught up at seq ${pipeline.status.ingest.applied}, answering queries`)
      }
      yield* sleep(50)
    }
  })

/** Runs partition k until `stop`: re-acquires after a lost lease or a failure, with back-off. */
const runPartition = (c: ProcessorContext, k: number, stop: Deferred.Deferred<void>) =>
  Effect.gen(function*() {
    let delay = 100
    while (!(yield* Deferred.isDone(stop))) {
      const r = yield* Effect.exit(Effect.scoped(ownPartition(c, k, stop)))
      if (Exit.isSuccess(r) && r.value === "released") return
      if (Exit.isFailure(r)) c.log.warn(`partition ${k}: ${causeSentence(r.cause)}; retrying`)
      yield* sleep(delay)
      delay = Exit.isSuccess(r) && r.value === "waiting" ? 200 : Math.min(delay * 2, 5_000)
    }
  })

/** Keeps this member's `member.<id>` lease for as long as the scope lives (re-acquired if lost). */
const keepMember = (leases: Leases, member: string) =>
  Effect.forever(Effect.scoped(Effect.gen(function*() {
    const r = yield* leases.acquire(memberLease(member), member)
    if (r._tag !== "Acquired") return yield* sleep(Math.floor(leases.settings.ttlMs / 3))
    const kept = yield* keepLease(leases, r.held)
    while (kept.current() !== null) yield* sleep(100)
  })).pipe(Effect.catch(() => sleep(500))))

const openLeases = (config: ArenaConfig, nats: NatsHandle) => {
  const replicas = nats.nc.info?.cluster === undefined ? 1 : 3
  const leases = makeLeases({ stream: LEASE_STREAM, prefix: LEASE_PREFIX, ttlMs: config.leaseTtlMs, replicas }, nats.js, nats.jsm)
  const coordinator = new Coordinator({ stream: ASSIGNMENT_STREAM, subject: ASSIGNMENT_SUBJECT, replicas }, config.partitions!, leases, nats.js, nats.jsm)
  return { leases, coordinator }
}

/** The processor role: follows the coordinator's assignment until the scope closes (then hands every partition over). */
export const startProcessor = (config: ArenaConfig, log: Log) =>
  Effect.gen(function*() {
    const member = process.env.ARENA_MEMBER_ID ?? `${os.hostname()}-${process.pid}-${Math.random().toString(36).slice(2, 6)}`
    // A frozen or dead server is noticed within seconds (the client moves to another node), not
    // after the default two-minute ping: partition leases last only ARENA_LEASE_TTL.
    const { sql, nats } = yield* openInfrastructure(config, log, LIVENESS)
    const { leases, coordinator } = openLeases(config, nats)
    yield* leases.provision()
    yield* coordinator.provision()
    const names = streamNames(config)
    const { history } = yield* establishRulesHistory({
      candidate: loadRulesCandidate(config),
      events: makeEventSource(nats, names.events, kindSubjects(config.subjectPrefix)),
      store: makeRulesStore(sql),
      log: (l) => log.info(l)
    })
    const c: ProcessorContext = { config, log, sql, nats, leases, member, history }
    yield* Effect.forkScoped(keepMember(leases, member))
    const periodMs = Math.max(250, Math.min(1_000, Math.floor(config.leaseTtlMs / 3)))
    yield* Effect.forkScoped(coordinate(leases, coordinator, member, periodMs))
    const running = new Map<number, { readonly stop: Deferred.Deferred<void>; readonly fiber: Fiber.Fiber<void> }>()
    const follow = Effect.gen(function*() {
      let epoch = -1
      for (;;) {
        const stored = yield* coordinator.read().pipe(Effect.orElseSucceed(() => null))
        const a = stored?.assignment
        if (a !== undefined && a.epoch !== epoch) {
          epoch = a.epoch
          log.info(`assignment epoch ${a.epoch}: ${a.members.length} member(s); this member (${member}) owns ${a.members.includes(member) ? partitionsOf(a, member).join(", ") || "none" : "none (not a member yet)"}`)
        }
        const want = new Set(a !== undefined && a.members.includes(member) ? partitionsOf(a, member) : [])
        for (const [k, r] of running) {
          if (want.has(k)) continue
          yield* Deferred.succeed(r.stop, undefined)
          if (r.fiber.pollUnsafe() !== undefined) running.delete(k)
        }
        for (const k of want) {
          const r = running.get(k)
          if (r !== undefined && r.fiber.pollUnsafe() === undefined && !(yield* Deferred.isDone(r.stop))) continue
          if (r !== undefined && r.fiber.pollUnsafe() === undefined) continue // still handing over: start again once done
          const stop = yield* Deferred.make<void>()
          const fiber = yield* Effect.forkDetach(runPartition(c, k, stop))
          running.set(k, { stop, fiber })
        }
        yield* sleep(200)
      }
    })
    const follower = yield* Effect.forkScoped(follow)
    // Shutdown: stop following, hand every partition over (final snapshots), then the rest closes.
    yield* Effect.addFinalizer(() => Effect.gen(function*() {
      yield* Fiber.interrupt(follower)
      for (const r of running.values()) yield* Deferred.succeed(r.stop, undefined)
      for (const r of running.values()) yield* Fiber.await(r.fiber)
      log.info(`processor ${member}: every partition handed over`)
    }))
    log.info(`processor ${member}: ${config.partitions} partitions, lease TTL ${config.leaseTtlMs} ms, following the coordinator's assignment`)
    return { member, running: () => [...running.keys()].sort((a, b) => a - b) }
  })

/** The gateway role: exact board reads over every partition, on config.host:config.port. */
export const startPartitionedGateway = (config: ArenaConfig, log: Log) =>
  Effect.gen(function*() {
    // Auth as the single process has it (production refuses ARENA_AUTH=off and weak secrets).
    const gc = gatewayConfig(config)
    yield* Effect.try({ try: () => checkGatewayConfig(gc), catch: (e) => new Error(`partitioned gateway: ${e instanceof Error ? e.message : String(e)}`) })
    const nats = yield* openNats(config.natsUrl, "arena-gateway", LIVENESS)
    const reads = makeMergedReads(nats.nc, QUERY_PREFIX, config.partitions!)
    // HTTP ingest: the rules file's rules and the server's clock, as in the single process (App.ts);
    // each valid event goes to its user's subject, which the servers' mapping puts on its partition.
    const rules = loadRules(config)
    const ingest = {
      port: makeIngest(nats.js, ingestSubject, (item) => checkForPublish(item, rules, Date.now())),
      auth: new Authenticator(gc.authEnabled, gc.jwtSecret),
      bodyLimitBytes: gc.bodyLimitBytes,
      ipLimiter: new RateLimiter(gc.rateLimit.perIp, gc.rateLimit.windowMs, gc.rateLimit.maxKeys),
      tokenLimiter: new RateLimiter(gc.rateLimit.perToken, gc.rateLimit.windowMs, gc.rateLimit.maxKeys),
      trustProxy: gc.trustProxy
    }
    const gw = yield* Effect.acquireRelease(
      Effect.tryPromise({
        try: () => startMergedGateway({ reads, ingest, host: config.host, port: config.port, retryAfterS: Math.ceil(config.leaseTtlMs / 1000), log: { warn: (m) => log.warn(m) } }),
        catch: (e) => new Error(`partitioned gateway: ${e instanceof Error ? e.message : String(e)}`)
      }),
      (g) => Effect.promise(() => g.close())
    )
    log.info(`arena gateway (partitioned, P = ${config.partitions}) listening on http://${config.host}:${gw.port}`)
    return { port: gw.port }
  })

/** `arena serve` in partitioned mode: the role's parts in one scope. */
export const startPartitioned = (config: ArenaConfig, log: Log, role: PartitionedRole) =>
  Effect.gen(function*() {
    if (role !== "gateway") yield* startProcessor(config, log)
    if (role !== "processor") yield* startPartitionedGateway(config, log)
  })
