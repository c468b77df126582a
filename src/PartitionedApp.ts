// Wiring of partitioned mode (ARCHITECTURE §9, docs/scaling.md), `ARENA_PARTITIONS` set:
//   processor: keeps a `member.<id>` lease, campaigns for the one coordinator lease (Coordinator.ts
//     writes the assignment every member follows), and for each partition the assignment gives it
//     acquires the partition's lease, claims the Postgres fence with the lease revision, and runs
//     the single-process pipeline over that partition's subjects only, from the partition's
//     checkpoint, with every snapshot committed under the fence. Once caught up it answers the
//     partition's queries (PartitionReads over request/reply). A partition the assignment moves
//     away is handed over: queries stop, the pipeline drains, a final snapshot, the lease is released.
//   gateway: stateless, one uWS app with the single process's Router and WebSocket feeds
//     (MergedGateway.ts), answering board reads by scatter-gather (MergedReads), and
//     POST /v1/events: the single process's checks, each event published to its user's
//     `arena.xp.events.<user token>` (never the bare `arena.xp.events`, which no stream captures here).
//   ticks: the processor holding the coordinator lease publishes a tick into every partition once a
//     second (adapters/nats/Ticker.ts), so an idle partition's stream time, periods included, keeps up.
//   live boards: every processor runs the board mergers (BoardMergers.ts: lease `merge.<board>`,
//     one delta chain per watched board instance); the gateway serves /ws/leaderboard/{board} from
//     those chains (MergedLiveBoards.ts, ws/MergedSockets.ts), and its around-me feed and group
//     boards' feeds from views recomputed on each step of them (MergedWindows.ts, ws/MergedAroundGate.ts).
//   corrections, settings, erasures: the gateway publishes each to its user's partition subject
//     (`arena.xp.p.<k>.$corrections|$settings|$erasures`), the owner applies it in seq order; a
//     void's award is looked up in every partition (PartitionDoor; awards kept by PartitionAwards).
//   analytics: with CLICKHOUSE_URL=http(s)://… (a server every processor shares), each owned
//     partition's records go to ClickHouse with the partition's own watermarks, written only while
//     the partition's fence holds (adapters/clickhouse/PartitionAnalytics.ts); without one, only the
//     awards' facts voids need are kept.
//     The gateway serves the dashboards and admin SQL from that server.
//   user notifications (/ws/users): each owned partition's pipeline builds notifications for the
//     users gateways list as watched and publishes them on `arena.user.<k>.<user token>`
//     (PartitionUserFeed.ts); the gateway subscribes per watched user (MergedUserFeed.ts).
// Not built yet (docs/scaling.md): an erasure's steps after its apply.
import { Deferred, Effect, Exit, Fiber, Schedule } from "effect"
import * as os from "node:os"
import type { ArenaConfig } from "./Config.js"
import { causeSentence } from "./actors/Actor.js"
import type { ActorDefect } from "./actors/Actor.js"
import { fatalMessage } from "./actors/Fatal.js"
import { establishRulesHistory } from "./actors/EstablishRulesHistory.js"
import { partitionDoor } from "./actors/PartitionDoor.js"
import type { Voidable } from "./actors/PartitionDoor.js"
import { makePartitionedCorrections } from "./actors/PartitionedCorrections.js"
import { makePartitionedErasures, startPartitionErasures } from "./actors/PartitionedErasures.js"
import { partitionReads } from "./actors/PartitionReads.js"
import { startPipeline } from "./actors/Pipeline.js"
import type { Pipeline } from "./actors/Pipeline.js"
import { Coordinator, coordinate, memberLease } from "./adapters/nats/Coordinator.js"
import { DeadLetters } from "./adapters/nats/DeadLetters.js"
import { makeErasureStream, partitionUserSeqs } from "./adapters/nats/ErasureStream.js"
import { makeErasureStore } from "./adapters/postgres/ErasureStore.js"
import { makeEventSource } from "./adapters/nats/EventSource.js"
import { keepLease } from "./adapters/nats/LeaseKeeper.js"
import { NATS_FAILOVER_MS, makeLeases, renewGapToleranceMs } from "./adapters/nats/Leases.js"
import type { Leases } from "./adapters/nats/Leases.js"
import { makeMergedReads } from "./adapters/nats/MergedReads.js"
import { runMergers } from "./adapters/nats/BoardMergers.js"
import { makeMergedLiveBoards } from "./adapters/nats/MergedLiveBoards.js"
import { makeWindowQueries, withMergedWindows } from "./adapters/nats/MergedWindows.js"
import { makeMergedUserFeed } from "./adapters/nats/MergedUserFeed.js"
import type { UserRank } from "./adapters/nats/MergedUserFeed.js"
import { openPartitionUserFeed } from "./adapters/nats/PartitionUserFeed.js"
import { openNats } from "./adapters/nats/Nats.js"
import type { NatsHandle } from "./adapters/nats/Nats.js"
import { askPartition, gather, servePartition } from "./adapters/nats/PartitionQueries.js"
import type { JetStreamPublisher } from "./adapters/nats/JetStreamPublisher.js"
import { makeSettingsPublisher } from "./adapters/nats/SettingsPublisher.js"
import { streamNames } from "./adapters/nats/Streams.js"
import { jetStreamTickPublish, runTicker } from "./adapters/nats/Ticker.js"
import type { Sql } from "./adapters/postgres/Db.js"
import { claimPartition } from "./adapters/postgres/PartitionFence.js"
import { makePartitionAwards } from "./adapters/postgres/PartitionAwards.js"
import { makeAnalyticsActor } from "./actors/AnalyticsActor.js"
import { bothSinks, makeFencedPartitionStore, openPartitionedClickHouse } from "./adapters/clickhouse/PartitionAnalytics.js"
import type { PartitionedClickHouse } from "./adapters/clickhouse/PartitionAnalytics.js"
import { AnalyticsQueries } from "./adapters/clickhouse/AnalyticsQueries.js"
import { openClickHouse } from "./adapters/clickhouse/ClickHouseClient.js"
import { parseClickHouseTarget } from "./adapters/clickhouse/ClickHouseTarget.js"
import { makePartitionSnapshotStore } from "./adapters/postgres/PartitionSnapshotStore.js"
import { makeRulesStore } from "./adapters/postgres/RulesStore.js"
import { PostgresDryRunRecords } from "./adapters/postgres/DryRunStore.js"
import { DryRunJobs } from "./adapters/process/DryRunJobs.js"
import { PostgresShareStore } from "./adapters/postgres/ShareStore.js"
import { PostgresGroupStore } from "./adapters/postgres/GroupStore.js"
import { openDb } from "./adapters/postgres/Db.js"
import { makeStoredRules } from "./actors/StoredRules.js"
import { achievementCatalog } from "./domain/Rules.js"
import { rulesHistoryDocument } from "./domain/RulesHistory.js"
import { ApiError } from "./gateway/http/ApiError.js"
import type { LedgerPage, RulesPort } from "./ports/ReadModel.js"
import { makeIngest } from "./adapters/nats/Publisher.js"
import { openInfrastructure, loadRules, loadRulesCandidate } from "./App.js"
import { partitionsOf, wantedPartitions } from "./domain/Assignment.js"
import { MSG_CORRECTION, MSG_ERASURE, MSG_SETTINGS, MSG_TICK, kindSubjects } from "./domain/MessageKind.js"
import type { KindSubject } from "./domain/MessageKind.js"
import { ingestSubject, partitionFilter, partitionKindSubject, partitionOfUser, tickSubject } from "./domain/Partition.js"
import { checkForPublish } from "./domain/PublishCheck.js"
import type { RulesHistory } from "./domain/RulesHistory.js"
import { startMergedGateway } from "./gateway/MergedGateway.js"
import { Authenticator } from "./gateway/auth/Auth.js"
import { checkGatewayConfig, gatewayConfig } from "./gateway/GatewayConfig.js"
import { RateLimiter } from "./gateway/limits/RateLimiter.js"
import type { Log } from "./observability/Log.js"

/** The request/reply prefix of partition queries: `arena.q.p.<k>.<op>`. */
export const QUERY_PREFIX = "arena"
export const LEASE_STREAM = "ARENA_LEASES"
export const LEASE_PREFIX = "arena.lease"
export const ASSIGNMENT_STREAM = "ARENA_ASSIGNMENT"
export const ASSIGNMENT_SUBJECT = "arena.assignment"
/** The partition query that wakes the owner's erasure actor (an erasure of one of its users was recorded). */
const WAKE_ERASURES = "wakeErasures"
/** The lease of partition k: `p.<k>`. */
export const partitionLease = (k: number): string => `p.${k}`

export type PartitionedRole = "all" | "processor" | "gateway"

const LIVENESS = { pingIntervalMs: 1_000, maxPingOut: 2 }

/**
 * The other kinds on partition k's subjects: its tick (Ticker.ts) and its users' corrections,
 * settings and erasures (Partition.ts partitionKindSubject).
 */
const partitionKinds = (k: number): ReadonlyArray<KindSubject> => [
  { kind: MSG_TICK, subject: tickSubject(k) },
  { kind: MSG_CORRECTION, subject: partitionKindSubject(k, "corrections") },
  { kind: MSG_SETTINGS, subject: partitionKindSubject(k, "settings") },
  { kind: MSG_ERASURE, subject: partitionKindSubject(k, "erasures") }
]
const sleep = (ms: number) => Effect.sleep(ms)

interface ProcessorContext {
  readonly config: ArenaConfig
  readonly log: Log
  readonly sql: Sql
  readonly nats: NatsHandle
  readonly leases: Leases
  readonly member: string
  readonly history: RulesHistory
  /** The shared ClickHouse server (null: none configured; analytics off in this mode). */
  readonly clickhouse: PartitionedClickHouse | null
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
    // /ws/users: opened before the pipeline, so its replay from the checkpoint already knows who is
    // watched (the gateways answer the hello within a round trip; the fence claim and snapshot load take longer).
    const users = yield* Effect.acquireRelease(Effect.sync(() => openPartitionUserFeed(c.nats.nc, c.config.partitions!, k)), (u) => Effect.sync(() => u.close()))
    const lease = { token, streamCreated: got.held.streamCreated }
    const claimed = yield* claimPartition(c.sql, k, lease, c.member)
    if (claimed.reset !== null) {
      c.log.warn(`partition ${k}: fence reset: the lease stream was recreated (now created ${lease.streamCreated}, the fence's was created ${claimed.reset.streamCreated ?? "?"}); ` +
        `epoch ${claimed.reset.epoch} of the old lease stream replaced by token ${token}; tokens of the old stream are refused from now on. ` +
        `The checkpoint (seq ${claimed.seq}) is resumed only if its event stream is still the one it describes`)
    }
    const names = streamNames(c.config)
    const latch = yield* Deferred.make<never, ActorDefect>()
    // Corrections (§10): what a void needs of each award, stored before each commit (PartitionAwards.ts).
    const awards = makePartitionAwards(c.sql, k, (m) => c.log.warn(m))
    // Analytics (ARCHITECTURE §9): the partition's rows to the shared ClickHouse under this fence.
    // Closing it after a lost lease waits briefly for a flush the fence can only refuse.
    const chSink = c.clickhouse === null ? null : yield* makeAnalyticsActor(
      makeFencedPartitionStore(c.clickhouse, { partition: k, sql: c.sql, lease, leaseHeld: () => kept.current() !== null, member: c.member, graceMs: Math.min(6_000, c.config.leaseTtlMs), warn: (m) => c.log.warn(m), info: (m) => c.log.info(m) }),
      { shutdownFlushMs: Math.min(c.config.leaseTtlMs, 5_000) }
    )
    const analytics = chSink === null ? awards : bothSinks(awards, chSink)
    const pipeline: Pipeline = yield* startPipeline({
      // Besides its users' events: its own tick and its users' corrections, settings and erasures (partitionKinds).
      events: makeEventSource(c.nats, names.events, partitionKinds(k), { filterSubject: partitionFilter(k), log: (m) => c.log.warn(`partition ${k}: event consumer: ${m}`) }),
      snapshots: makePartitionSnapshotStore(c.sql, k, lease),
      openDeadLetters: () => new DeadLetters(c.nats.js, names.dlqSubject, { maxPayload: () => c.nats.nc.info?.max_payload ?? 1024 * 1024, partition: k }),
      analytics,
      feed: users.feed,
      history: c.history,
      batchMax: c.config.batchMax,
      snapshotIntervalMs: c.config.snapshotIntervalMs,
      latch,
      log: (l) => c.log.info(`partition ${k}: ${l}`),
      partition: { partitions: c.config.partitions!, owned: k }
    })
    c.log.info(`partition ${k}: owned with fencing token ${token} (from seq ${claimed.seq})`)
    // Erasures (§11) of k's users, resumed from their records and run beside k's pipeline while k
    // is owned (PartitionedErasures.ts): the single process's steps over this partition's parts.
    const erasureRunner = yield* startPartitionErasures({
      store: makeErasureStore(c.sql, k),
      stream: makeErasureStream(c.nats.js, c.nats.jsm, { events: names.events, deadLetters: names.dlq, subject: partitionKindSubject(k, "erasures"), settingsSubject: partitionKindSubject(k, "settings") }),
      analytics: {
        awaitDurable: (seq) => Effect.runPromise(analytics.awaitDurable(seq)),
        userSeqs: partitionUserSeqs(c.nats.js, c.nats.jsm, names.events, k),
        deleteSeqs: (seqs) => chSink === null ? Promise.resolve() : Effect.runPromise(chSink.eraseSeqs(seqs)),
        describe: () => chSink === null ? "" : `ClickHouse ${chSink.describe()}`
      },
      pipeline: {
        applied: () => pipeline.status.ingest.applied,
        snapshotSeq: () => pipeline.status.snapshot.lastSeq,
        requestSnapshot: () => void Effect.runFork(pipeline.requestSnapshot)
      },
      log: (l) => c.log.info(`partition ${k}: ${l}`),
      stepPauseMs: c.config.erasureStepPauseMs,
      groups: new PostgresGroupStore(c.sql)
    }, c.config.partitions!, k)
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
        const reads = partitionReads(k, pipeline)
        // The partition's erasure messages naming a user: the settings scan of ErasureStream over k's `$erasures`.
        const erasures = makeErasureStream(c.nats.js, c.nats.jsm, { events: names.events, deadLetters: names.dlq, subject: partitionKindSubject(k, "erasures"), settingsSubject: partitionKindSubject(k, "erasures") })
        const door = partitionDoor(pipeline, awards.awardOf, (userId) => erasures.settingsOf(userId, Number.MAX_SAFE_INTEGER))
        sub = servePartition(c.nats.nc, QUERY_PREFIX, k, (op, body) => op === WAKE_ERASURES ? erasureRunner.wake() : door(op, body) ?? reads(op, body))
        c.log.info(`partition ${k}: caught up at seq ${pipeline.status.ingest.applied}, answering queries`)
      }
      yield* sleep(50)
    }
  })

/**
 * Runs partition k until `stop`: re-acquires after a lost lease or a failure, with back-off. A
 * failure no retry can fix (Fatal.ts: e.g. the partition's snapshot belongs to an event stream
 * that was recreated) is logged once and the partition is left alone until `stop`, as the single
 * process's supervisor does: it needs an operator.
 */
const runPartition = (c: ProcessorContext, k: number, stop: Deferred.Deferred<void>) =>
  Effect.gen(function*() {
    let delay = 100
    while (!(yield* Deferred.isDone(stop))) {
      const r = yield* Effect.exit(Effect.scoped(ownPartition(c, k, stop)))
      if (Exit.isSuccess(r) && r.value === "released") return
      const fatal = Exit.isFailure(r) ? fatalMessage(r.cause) : null
      if (fatal !== null) {
        c.log.error(`partition ${k}: ${fatal} Not retrying: partition ${k} stays unowned until an operator acts and the processor restarts.`)
        return yield* Deferred.await(stop)
      }
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
    const clickhouse = yield* Effect.try({ try: () => openPartitionedClickHouse(config, sql, log), catch: (e) => new Error(`processor: ${e instanceof Error ? e.message : String(e)}`) })
    if (clickhouse !== null) yield* Effect.addFinalizer(() => Effect.promise(() => clickhouse.handle.close().catch(() => {})))
    const c: ProcessorContext = { config, log, sql, nats, leases, member, history, clickhouse }
    yield* Effect.forkScoped(keepMember(leases, member))
    const periodMs = Math.max(250, Math.min(1_000, Math.floor(config.leaseTtlMs / 3)))
    const ticker = runTicker(jetStreamTickPublish(nats.js), config.partitions!, log)
    yield* Effect.forkScoped(coordinate(leases, coordinator, member, periodMs, ticker))
    const running = new Map<number, { readonly stop: Deferred.Deferred<void>; readonly fiber: Fiber.Fiber<void> }>()
    const follow = Effect.gen(function*() {
      let epoch = -1
      let readFailingSince: number | null = null
      for (;;) {
        const read = yield* Effect.exit(coordinator.read())
        const want = wantedPartitions(Exit.isSuccess(read) ? { assignment: read.value?.assignment ?? null } : null, member)
        if (want === null) {
          // Not knowing the assignment is not an assignment of nothing: keep running what this
          // member runs (its leases still fence it) and ask again. Handing everything over here cost a
          // whole re-claim and replay of every partition each time a read timed out under load.
          if (readFailingSince === null) {
            readFailingSince = Date.now()
            log.warn(`reading the partition assignment failed (${Exit.isFailure(read) ? causeSentence(read.cause) : "?"}); keeping the partitions this member runs until it reads again`)
          }
          yield* sleep(200)
          continue
        }
        if (readFailingSince !== null) {
          log.info(`the partition assignment is readable again after ${Math.round((Date.now() - readFailingSince) / 1000)} s`)
          readFailingSince = null
        }
        const a = Exit.isSuccess(read) ? read.value?.assignment : undefined
        if (a !== undefined && a.epoch !== epoch) {
          epoch = a.epoch
          log.info(`assignment epoch ${a.epoch}: ${a.members.length} member(s); this member (${member}) owns ${a.members.includes(member) ? partitionsOf(a, member).join(", ") || "none" : "none (not a member yet)"}`)
        }
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
    // --- live boards (merger helper): the board mergers ---
    yield* Effect.forkScoped(Effect.scoped(runMergers({ nc: nats.nc, leases, member, prefix: QUERY_PREFIX, partitions: config.partitions!, log })))
    // --- end live boards ---
    // Shutdown: stop following, hand every partition over (final snapshots), then the rest closes.
    yield* Effect.addFinalizer(() => Effect.gen(function*() {
      yield* Fiber.interrupt(follower)
      for (const r of running.values()) yield* Deferred.succeed(r.stop, undefined)
      for (const r of running.values()) yield* Fiber.await(r.fiber)
      log.info(`processor ${member}: every partition handed over`)
    }))
    log.info(`processor ${member}: ${config.partitions} partitions, lease TTL ${config.leaseTtlMs} ms, following the coordinator's assignment`)
    if (renewGapToleranceMs(config.leaseTtlMs) < NATS_FAILOVER_MS) {
      log.warn(`ARENA_LEASE_TTL ${config.leaseTtlMs} ms: a lease survives ${renewGapToleranceMs(config.leaseTtlMs)} ms without a renew, less than a NATS leader election can take (${NATS_FAILOVER_MS} ms); losing a NATS node may move partitions away from live processors (15s or more avoids it)`)
    }
    return { member, running: () => [...running.keys()].sort((a, b) => a - b) }
  })

/**
 * Corrections, settings and erasures on the gateway (ARCHITECTURE §9): each published to its user's
 * partition subject; a correction's door checks asked of the partitions' owners (PartitionDoor.ts).
 */
const partitionedWrites = (config: ArenaConfig, nats: NatsHandle, publisher: JetStreamPublisher, sql: Sql) => {
  const P = config.partitions!
  const names = streamNames(config)
  const run = <A>(e: Effect.Effect<A, { readonly message: string }>): Promise<A> =>
    Effect.runPromise(e.pipe(Effect.mapError((x) => new Error(x.message))))
  const publishOne = async (subject: string, msgId: string, data: string) => {
    const [o] = await publisher.publishBatch(subject, [{ msgId, data }])
    return o === undefined ? { ok: false as const, message: "no outcome" } : o.ok ? { ok: true as const, seq: o.seq, duplicate: o.duplicate } : { ok: false as const, message: o.message }
  }
  return {
    corrections: makePartitionedCorrections({
      partitions: P,
      voidable: (eventId) => run(gather<Voidable | null>(nats.nc, QUERY_PREFIX, P, "voidable", { eventId })),
      adjustable: (userId, k) => run(askPartition<boolean>(nats.nc, QUERY_PREFIX, k, "adjustable", { userId })),
      msgIdAt: async (seq) => (await nats.jsm.streams.getMessage(names.events, { seq }))?.header.get("Nats-Msg-Id") ?? null,
      publish: publishOne
    }),
    settings: makeSettingsPublisher(publisher, (userId) => partitionKindSubject(partitionOfUser(userId, P), "settings")),
    // Recorded in Postgres; the owner of the user's partition is woken to run it.
    erasures: makePartitionedErasures(P, makeErasureStore(sql), (k) => run(askPartition<unknown>(nats.nc, QUERY_PREFIX, k, WAKE_ERASURES, null, 1_000)).then(() => {}))
  }
}

/** The user's partition's `erasedAt`; rejects with its tagged error (PartitionUnavailable: 503 on the gateway). */
const askErasedAt = async (nats: NatsHandle, partitions: number, userId: string): Promise<number> => {
  const r = await Effect.runPromise(askPartition<number>(nats.nc, QUERY_PREFIX, partitionOfUser(userId, partitions), "erasedAt", { userId }).pipe(Effect.match({ onFailure: (err) => ({ err }), onSuccess: (ok) => ({ ok }) })))
  if ("err" in r) throw r.err
  return r.ok
}

/**
 * A ledger from ClickHouse without what the user's latest erasure took (its rows are not scrubbed
 * in this mode): entries older than the erasure's seq are left out and the page ends there, as the
 * single process's erasure deletes them. The user's partition says the seq (PartitionDoor `erasedAt`).
 */
const erasedLedger = (queries: AnalyticsQueries, erasedAt: (userId: string) => Promise<number>) =>
  async (userId: string, limit: number, beforeSeq: number | null): Promise<LedgerPage> => {
    const [erased, page] = await Promise.all([erasedAt(userId), queries.ledger(userId, limit, beforeSeq)])
    if (erased === 0) return page
    const entries = page.entries.filter((e) => e.seq > erased)
    return { entries, nextBeforeSeq: entries.length === page.entries.length ? page.nextBeforeSeq : null }
  }

/** GET /v1/rules and /v1/achievements from the recorded history (503 while none is readable, as the single process before its history is established). */
const storedRulesPort = (store: Parameters<typeof makeStoredRules>[0]): RulesPort => {
  const read = makeStoredRules(store)
  const history = async () => {
    const r = await read()
    if (!r.ok) throw new ApiError(r.retryable ? 503 : 500, r.retryable ? "unavailable" : "internal", r.message, [], r.retryable ? { "Retry-After": "1" } : {})
    return r.history
  }
  return {
    rules: async () => rulesHistoryDocument(await history()),
    achievements: async () => achievementCatalog((await history()).current.rules)
  }
}

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
    const ingest = makeIngest(nats.js, ingestSubject, (item) => checkForPublish(item, rules, Date.now()))
    // The single process's Router deps: admission on every HTTP route but the probes, its IP limit on upgrades, CORS.
    const admission = {
      auth: new Authenticator(gc.authEnabled, gc.jwtSecret),
      bodyLimitBytes: gc.bodyLimitBytes,
      ipLimiter: new RateLimiter(gc.rateLimit.perIp, gc.rateLimit.windowMs, gc.rateLimit.maxKeys),
      tokenLimiter: new RateLimiter(gc.rateLimit.perToken, gc.rateLimit.windowMs, gc.rateLimit.maxKeys),
      trustProxy: gc.trustProxy,
      corsOrigins: gc.corsOrigins
    }
    // --- live boards (merger helper): /ws/leaderboard/{board} over the mergers' chains ---
    const live = yield* Effect.acquireRelease(Effect.sync(() => makeMergedLiveBoards(nats.nc, log)), (b) => Effect.sync(() => b.close()))
    // Around-me windows over the same chains, recomputed from the partitions (MergedWindows.ts).
    const windows = makeWindowQueries(nats.nc, QUERY_PREFIX, config.partitions!)
    // Shares, groups and the rules history from Postgres (the processors create and migrate the
    // database; the connection opens on the first request, so a gateway starts without it).
    const sql = yield* openDb(config.databaseUrl)
    const groups = new PostgresGroupStore(sql)
    // Group boards' live feeds too, each step reading the group as stored (any gateway's write shows).
    const boards = yield* Effect.acquireRelease(Effect.sync(() => withMergedWindows(live, windows, (id) => groups.get(id).then((g) => g?.members ?? null), log)), (b) => Effect.sync(() => b.close()))
    const around = { isPrivate: windows.isPrivate, retryAfterS: Math.ceil(config.leaseTtlMs / 1000), warn: (m: string) => log.warn(m) }
    // /ws/users: the owners' notification subjects, one subscription per watched user.
    // rank_changed from the user's merged ranks (the profile's), read after each of the user's awards and corrections.
    const ranksOf = async (userId: string) => ((await reads.profile(userId)) as { readonly ranks?: ReadonlyArray<UserRank> } | null)?.ranks ?? null
    const notifications = yield* Effect.acquireRelease(Effect.sync(() => makeMergedUserFeed(nats.nc, config.partitions!, log, ranksOf)), (u) => Effect.sync(() => u.close()))
    // --- end live boards ---
    // Dashboards and admin SQL over the shared ClickHouse the processors write (none without a server URL).
    const target = yield* Effect.try({ try: () => parseClickHouseTarget(config), catch: (e) => new Error(`partitioned gateway: ${e instanceof Error ? e.message : String(e)}`) })
    const ch = target.kind === "http" ? yield* Effect.acquireRelease(Effect.sync(() => openClickHouse(target)), (h) => Effect.promise(() => h.close().catch(() => {}))) : null
    // Ledgers from the same ClickHouse: projection 0, the only one partitioned processors write.
    const queries = ch === null ? null : new AnalyticsQueries(ch.client)
    // postgres.js types an array parameter (a share's tags) from the array types its first
    // connection fetches: a share with tags as the pool's first statement went out as text (500).
    // One statement fetches them before the first request, or in the background until Postgres answers.
    if (!(yield* Effect.promise(() => sql`SELECT 1`.then(() => true, () => false)))) {
      log.warn("partitioned gateway: Postgres is not reachable yet (shares, groups and GET /v1/rules answer 503 until it is)")
      yield* Effect.forkScoped(Effect.promise(() => sql`SELECT 1`.then(() => true, () => false)).pipe(
        Effect.flatMap((ok) => ok ? Effect.void : Effect.fail("retry")),
        Effect.retry(Schedule.spaced("1 second")),
        Effect.ignore
      ))
    }
    const writes = partitionedWrites(config, nats, ingest.publisher, sql)
    // Rules dry runs (§10): the single process's child process (`arena rules diff`, which reads every
    // partition's subjects in this mode), its job records in Postgres so that every gateway sees them.
    const dryRuns = yield* Effect.acquireRelease(
      Effect.sync(() => new DryRunJobs({ env: process.env, log: (l) => log.info(l), records: new PostgresDryRunRecords(sql) })),
      (d) => Effect.promise(() => d.close())
    )
    const gw = yield* Effect.acquireRelease(
      Effect.tryPromise({
        try: () => startMergedGateway({
          reads, admission, ingest, writes, shares: new PostgresShareStore(sql), rules: storedRulesPort(makeRulesStore(sql)), dryRuns, groups,
          ...(queries === null ? {} : { analytics: queries, ledger: erasedLedger(queries, (userId) => askErasedAt(nats, config.partitions!, userId)) }),
          sockets: { boards, around, cfg: gc.ws, notifications }, host: config.host, port: config.port, retryAfterS: Math.ceil(config.leaseTtlMs / 1000), log: { warn: (m) => log.warn(m) } }),
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
