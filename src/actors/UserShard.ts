// A user-shard actor: owns the states of the users hashed to it and runs the pure XP engine on
// their events, in stream order; at a cut it serializes the users changed since the last one.
import type { LedgerEntry, RejectReason, ScoreChange, UserState, XpEvent } from "../domain/Model.js"
import { pruneClosedPeriods } from "../domain/Engine.js"
import { pushAwardRecords } from "../domain/Records.js"
import { applyToUsers } from "../domain/StreamMessage.js"
import type { CompiledRules } from "../domain/Rules.js"
import type { UserNotification } from "../ports/LiveFeed.js"
import { spawn } from "./Actor.js"
import type { FailureLatch } from "./Actor.js"
import { Effect } from "effect"
import type { AnalyticsRecord } from "../ports/Analytics.js"

export interface ShardItem {
  readonly seq: number
  readonly streamTimeMs: number
  readonly event: XpEvent
  readonly timeMs: number
  readonly data: Uint8Array
}

export type ShardMsg =
  | { readonly _tag: "Batch"; readonly batchId: number; readonly items: ReadonlyArray<ShardItem> }
  | { readonly _tag: "Cut"; readonly cutId: number; readonly streamTimeMs: number }

export interface Reject {
  readonly seq: number
  readonly streamTimeMs: number
  readonly reason: RejectReason
  readonly message: string
  readonly eventId: string | null
  readonly data: Uint8Array
}

export type ShardOut =
  | {
    readonly _tag: "Done"
    readonly batchId: number
    readonly changes: ReadonlyArray<ScoreChange>
    readonly records: ReadonlyArray<AnalyticsRecord>
    readonly notes: ReadonlyArray<UserNotification>
    readonly rejects: ReadonlyArray<Reject>
  }
  | { readonly _tag: "CutPart"; readonly cutId: number; readonly users: ReadonlyArray<{ id: string; json: string; seq: number }> }

/** FNV-1a: a stable user → shard mapping (the same in every process and run). */
export const shardOf = (userId: string, shards: number): number => {
  let h = 0x811c9dc5
  for (let i = 0; i < userId.length; i++) {
    h ^= userId.charCodeAt(i)
    h = Math.imul(h, 0x01000193)
  }
  return (h >>> 0) % shards
}

export class UserShard {
  readonly users = new Map<string, UserState>()
  private dirty = new Set<string>()

  constructor(readonly id: number, private readonly rules: CompiledRules, private readonly watched: ReadonlySet<string>) {}

  /** Restore one user from a snapshot. */
  load(state: UserState): void {
    this.users.set(state.userId, state)
  }

  applyBatch(batchId: number, items: ReadonlyArray<ShardItem>): Extract<ShardOut, { _tag: "Done" }> {
    const changes: ScoreChange[] = []
    const records: AnalyticsRecord[] = []
    const notes: UserNotification[] = []
    const rejects: Reject[] = []
    for (const it of items) {
      const ev = it.event
      const out = applyToUsers(this.users, ev, it.timeMs, { seq: it.seq, streamTimeMs: it.streamTimeMs }, this.rules)
      if (out._tag === "Rejected") {
        rejects.push({ seq: it.seq, streamTimeMs: it.streamTimeMs, reason: out.rejection.reason, message: out.rejection.message, eventId: ev.event_id, data: it.data })
        continue
      }
      this.dirty.add(ev.user_id)
      for (const c of out.scores) changes.push(c)
      const e: LedgerEntry = out.entry
      pushAwardRecords(e, records)
      if (this.watched.has(e.user_id)) this.notify(notes, e)
    }
    return { _tag: "Done", batchId, changes, records, notes, rejects }
  }

  private notify(notes: UserNotification[], e: LedgerEntry): void {
    notes.push({ type: "xp_awarded", user_id: e.user_id, seq: e.seq, entry: e })
    if (e.level_after !== e.level_before) {
      const title = this.rules.levels.find((l) => l.level === e.level_after)?.title ?? ""
      notes.push({ type: "level_up", user_id: e.user_id, seq: e.seq, level: e.level_after, title, previous: e.level_before })
    }
    for (const b of e.bonuses) notes.push({ type: "achievement_unlocked", user_id: e.user_id, seq: e.seq, achievement: b.achievement, bonus: b.xp })
  }

  /** Serialize the users changed since the last cut (after dropping closed periods' scores). */
  cut(cutId: number, streamTimeMs: number): Extract<ShardOut, { _tag: "CutPart" }> {
    const users: Array<{ id: string; json: string; seq: number }> = []
    for (const slice of this.cutSlices(streamTimeMs, Number.POSITIVE_INFINITY)) for (const u of slice) users.push(u)
    return { _tag: "CutPart", cutId, users }
  }

  /**
   * The same cut, `sliceSize` users at a time: the users changed since the last cut are taken at
   * once (a later batch starts a new dirty set), so a caller may yield between slices as long as
   * it applies no batch to this shard before the last slice.
   */
  *cutSlices(streamTimeMs: number, sliceSize: number): Generator<Array<{ id: string; json: string; seq: number }>> {
    const ids = this.dirty
    this.dirty = new Set()
    let slice: Array<{ id: string; json: string; seq: number }> = []
    for (const id of ids) {
      const s = this.users.get(id)
      if (s === undefined) continue
      pruneClosedPeriods(s, streamTimeMs, this.rules)
      slice.push({ id, json: JSON.stringify(s), seq: s.lastSeq })
      if (slice.length >= sliceSize) { yield slice; slice = [] }
    }
    yield slice
  }
}

/** Users serialized per turn of a cut: ~2,000 × a few µs, so HTTP and WebSocket work runs between slices. */
const CUT_SLICE = 2000
const nextTurn = Effect.promise(() => new Promise<void>((resolve) => setImmediate(resolve)))

/**
 * The shard as an actor: drains its mailbox and forwards each result to the sequencer. A cut is
 * serialized in slices with a turn of the event loop between them (at 50k changed users it held
 * the loop 60–180 ms, the p99 of every HTTP route); no batch is applied until it is done.
 */
export const spawnShard = (shard: UserShard, latch: FailureLatch, out: { readonly sendAll: (as: Iterable<ShardOut>) => Effect.Effect<void> }) =>
  spawn<ShardMsg>(`user-shard-${shard.id}`, 64, latch, (msgs) =>
    Effect.gen(function*() {
      const results: ShardOut[] = []
      for (const m of msgs) {
        if (m._tag === "Batch") { results.push(shard.applyBatch(m.batchId, m.items)); continue }
        const users: Array<{ id: string; json: string; seq: number }> = []
        let first = true
        for (const slice of shard.cutSlices(m.streamTimeMs, CUT_SLICE)) {
          if (!first) yield* nextTurn
          first = false
          for (const u of slice) users.push(u)
        }
        results.push({ _tag: "CutPart", cutId: m.cutId, users })
      }
      if (results.length > 0) yield* out.sendAll(results)
    }))
