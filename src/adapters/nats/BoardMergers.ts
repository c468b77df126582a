// The board mergers of partitioned mode (ARCHITECTURE §9, docs/scaling.md "Mergers"), run by
// every processor: gateways say which board instances their sockets watch (`arena.lb.want.…`, a
// heartbeat); for a watched board, processors campaign for its lease `merge.<board>` and the one
// holder merges. For each watched instance of its board, every MERGE_INTERVAL_MS, the holder asks
// every partition's owner for its top-K (the `top` partition query), merges them exactly
// (domain/MergedBoard.ts mergeTop), and when the top-K, the size or the watermark moved publishes
// the next delta of the instance's chain on `arena.lb.delta.<board>.<window>.<period>` (core NATS);
// it answers snapshots on `arena.lb.snap.…`. The watermark `seq` is the lowest seq the partitions
// had applied when they answered (every event ≤ seq is reflected; ticks move it once a second),
// never lower than the chain's last. The epoch is the lease token the merger acquired with: a new
// merger (the holder died, its lease expired) starts a new epoch, and gateways resync from a
// snapshot. A board nobody watches for WANT_TTL_MS is dropped; its lease is released.
// Pull, not push: partitions do not publish their own board changes yet, so a merger costs P `top`
// requests of up to K rows per watched instance per interval (docs/scaling.md says what is left).
import type { NatsConnection, Subscription } from "@nats-io/transport-node"
import { Effect, Exit, Fiber } from "effect"
import type { ChainDelta, ChainEntry, ChainSnapshot } from "../../domain/LiveChain.js"
import { MERGE_K, WANT_WILDCARD, deltaSubject, diffTop, instanceOfSubject, mergeLease, snapWildcard } from "../../domain/LiveChain.js"
import { mergeTop } from "../../domain/MergedBoard.js"
import type { Window } from "../../domain/Model.js"
import type { PartitionRow } from "../../ports/MergedReads.js"
import { keepLease } from "./LeaseKeeper.js"
import type { Leases } from "./Leases.js"
import { gather } from "./PartitionQueries.js"

export const MERGE_INTERVAL_MS = 100
/** A board instance no gateway asked for this long is no longer merged (gateways ask every second). */
export const WANT_TTL_MS = 10_000
/**
 * How often a processor tries a watched board's lease that another member may hold: a quarter of
 * the TTL, at least a second (an acquire succeeds only once the holder's lease expired, so trying
 * more often would only load the lease stream: members × watched boards failed publishes).
 */
const campaignMs = (ttlMs: number): number => Math.max(1_000, Math.floor(ttlMs / 4))

interface Instance {
  readonly board: string
  readonly window: Window
  readonly period: string
  wantedAt: number
  state: ChainSnapshot | null
}

interface TopAnswer { readonly period: string; readonly seq: number; readonly size: number; readonly entries: ReadonlyArray<PartitionRow> }

const enc = new TextEncoder()
const idOf = (board: string, window: string, period: string): string => `${board}|${window}|${period}`

export interface MergerOptions {
  readonly nc: NatsConnection
  readonly leases: Leases
  readonly member: string
  /** The partition query prefix (`arena`). */
  readonly prefix: string
  readonly partitions: number
  readonly log: { readonly info: (m: string) => void; readonly warn: (m: string) => void }
  readonly intervalMs?: number
}

/** Runs until interrupted: follows the wants, campaigns for watched boards, merges the ones it holds. */
export const runMergers = (o: MergerOptions) =>
  Effect.gen(function*() {
    const instances = new Map<string, Instance>()
    const want = (board: string, window: Window, period: string): Instance => {
      const id = idOf(board, window, period)
      let i = instances.get(id)
      if (i === undefined) instances.set(id, (i = { board, window, period, wantedAt: 0, state: null }))
      i.wantedAt = Date.now()
      return i
    }
    const wants: Subscription = o.nc.subscribe(WANT_WILDCARD, {
      callback: (_e, m) => {
        const i = instanceOfSubject(m.subject)
        if (i !== null) want(i.board, i.window, i.period)
      }
    })
    yield* Effect.addFinalizer(() => Effect.sync(() => wants.unsubscribe()))
    const running = new Map<string, Fiber.Fiber<void>>()
    yield* Effect.addFinalizer(() => Effect.gen(function*() { for (const f of [...running.values()]) yield* Fiber.interrupt(f) }))
    const tried = new Map<string, number>()
    const interval = o.intervalMs ?? MERGE_INTERVAL_MS

    /** One board while this member holds its lease (the scope releases it). */
    const mergeBoard = (board: string) => Effect.scoped(Effect.gen(function*() {
      const got = yield* o.leases.acquire(mergeLease(board), o.member)
      if (got._tag !== "Acquired") return
      const kept = yield* keepLease(o.leases, got.held)
      const epoch = got.held.token
      const mine = () => [...instances.values()].filter((i) => i.board === board)
      for (const i of mine()) i.state = null
      o.log.info(`merger of board ${board}: holding merge lease, epoch ${epoch}`)
      const snaps = o.nc.subscribe(snapWildcard(board), {
        callback: (_e, m) => {
          const at = instanceOfSubject(m.subject)
          const i = at === null ? undefined : want(at.board, at.window, at.period)
          const s = i?.state ?? null
          m.respond(enc.encode(JSON.stringify(s === null ? { error: "not merged yet: ask again" } : { ok: s })))
        }
      })
      yield* Effect.addFinalizer(() => Effect.sync(() => {
        snaps.unsubscribe()
        for (const i of mine()) i.state = null
      }))
      for (;;) {
        if (kept.current() === null) {
          o.log.warn(`merger of board ${board}: lease lost (${kept.lostReason() ?? "?"}), epoch ${epoch} ends`)
          return
        }
        const now = Date.now()
        const live = mine().filter((i) => now - i.wantedAt < WANT_TTL_MS)
        for (const i of mine()) if (!live.includes(i)) instances.delete(idOf(i.board, i.window, i.period))
        if (live.length === 0) {
          o.log.info(`merger of board ${board}: no longer watched, releasing epoch ${epoch}`)
          return
        }
        for (const i of live) {
          const r = yield* Effect.exit(gather<TopAnswer>(o.nc, o.prefix, o.partitions, "top", { board, window: i.window, period: i.period, n: MERGE_K }))
          // A partition without an owner (or a slow one): the chain waits; it resumes when all answer.
          if (Exit.isFailure(r)) continue
          const parts = r.value
          const rows = new Map<string, PartitionRow>()
          for (const p of parts) for (const e of p.entries) rows.set(e.userId, e)
          const entries: Array<ChainEntry> = mergeTop(parts.map((p) => p.entries), MERGE_K).map((e) => {
            const row = rows.get(e.userId)!
            const c: ChainEntry = { rank: e.rank, user_id: row.userId, username: row.username, xp: row.xp, level: row.level }
            return row.private === true ? { ...c, private: true } : c
          })
          const low = Math.min(...parts.map((p) => p.seq))
          const total = parts.reduce((s, p) => s + p.size, 0)
          const prev = i.state
          if (prev === null || prev.epoch !== epoch) {
            i.state = { epoch, n: 0, seq: low, total, entries }
            continue
          }
          const seq = Math.max(prev.seq, low)
          const d = diffTop(prev.entries, entries)
          if (d.set.length === 0 && d.removed.length === 0 && seq === prev.seq && total === prev.total) continue
          const delta: ChainDelta = { epoch, n: prev.n + 1, seq, total, set: d.set, removed: d.removed }
          i.state = { epoch, n: delta.n, seq, total, entries }
          o.nc.publish(deltaSubject(board, i.window, i.period), enc.encode(JSON.stringify(delta)))
        }
        yield* Effect.sleep(interval)
      }
    }))

    for (;;) {
      const now = Date.now()
      const boards = new Set<string>()
      for (const [id, i] of instances) {
        if (now - i.wantedAt < WANT_TTL_MS) boards.add(i.board)
        else if (!running.has(i.board)) instances.delete(id) // unwatched (a past period, say): forgotten
      }
      for (const board of boards) {
        if (running.get(board)?.pollUnsafe() === undefined && running.has(board)) continue
        if (now - (tried.get(board) ?? 0) < campaignMs(o.leases.settings.ttlMs)) continue
        tried.set(board, now)
        const fiber = yield* Effect.forkDetach(mergeBoard(board).pipe(
          Effect.catch((e: unknown) => Effect.sync(() => o.log.warn(`merger of board ${board}: ${e instanceof Error ? e.message : String(e)}`))),
          Effect.ensuring(Effect.sync(() => { if (running.get(board) === fiber) running.delete(board) }))
        ))
        running.set(board, fiber)
      }
      yield* Effect.sleep(200)
    }
  })
