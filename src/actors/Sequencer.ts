// The sequencer actor joins each batch's parts (the ingest's dead letters and every shard's
// results) in batch order, then: board changes → board actors, records → analytics, dead
// letters → DLQ, notifications → gateway; and it assembles cuts into snapshot jobs.
import { Effect } from "effect"
import type { Deferred, Scope } from "effect"
import type { PeriodArchive } from "../ports/Snapshots.js"
import type { ScoreChange } from "../domain/Model.js"
import { rejectionRecord } from "../domain/Records.js"
import type { UserNotification } from "../ports/LiveFeed.js"
import { spawn } from "./Actor.js"
import type { FailureLatch, Mailbox } from "./Actor.js"
import type { AnalyticsRecord, AnalyticsSink } from "../ports/Analytics.js"
import { seqOf } from "../ports/Analytics.js"
import type { Boards } from "./Boards.js"
import type { Reject, ShardOut } from "./UserShard.js"

export type SequencerMsg =
  | ShardOut
  | { readonly _tag: "Ingested"; readonly batchId: number; readonly endSeq: number; readonly streamTimeMs: number; readonly rejects: ReadonlyArray<Reject> }
  | { readonly _tag: "CutStart"; readonly cutId: number; readonly seq: number; readonly streamTimeMs: number }

export interface SnapshotJob {
  readonly seq: number
  readonly streamTimeMs: number
  readonly users: ReadonlyArray<{ id: string; json: string; seq: number }>
  readonly archives: ReadonlyArray<Deferred.Deferred<PeriodArchive>>
}

export interface SequencerDeps {
  readonly shards: number
  readonly boards: Boards
  readonly analytics: AnalyticsSink
  readonly deadLetter: (r: Reject) => void
  readonly notify: (notes: ReadonlyArray<UserNotification>) => void
  readonly onApplied: (endSeq: number, applied: number, rejected: ReadonlyArray<Reject>) => void
  readonly snapshots: (job: SnapshotJob) => void
}

interface Join {
  ingested?: Extract<SequencerMsg, { _tag: "Ingested" }>
  parts: Array<Extract<ShardOut, { _tag: "Done" }>>
}

export const spawnSequencer = (deps: SequencerDeps, latch: FailureLatch): Effect.Effect<Mailbox<SequencerMsg>, never, Scope.Scope> => {
  const joins = new Map<number, Join>()
  const cuts = new Map<number, { start?: Extract<SequencerMsg, { _tag: "CutStart" }>; users: Array<{ id: string; json: string; seq: number }>; parts: number }>()
  let nextBatch = 1
  let archives: Array<Deferred.Deferred<PeriodArchive>> = []

  const complete = (j: Join) => j.ingested !== undefined && j.parts.length === deps.shards

  const flushBatch = (j: Join): Effect.Effect<void> =>
    Effect.gen(function*() {
      const ing = j.ingested
      if (ing === undefined) return
      const changes: ScoreChange[] = []
      const records: AnalyticsRecord[] = []
      const notes: UserNotification[] = []
      const rejects: Reject[] = [...ing.rejects]
      let applied = 0
      for (const p of j.parts) {
        for (const c of p.changes) changes.push(c)
        for (const r of p.records) records.push(r)
        for (const n of p.notes) notes.push(n)
        for (const r of p.rejects) rejects.push(r)
        applied += p.records.filter((r) => r.kind === "award").length
      }
      rejects.sort((a, b) => a.seq - b.seq)
      for (const r of rejects) {
        deps.deadLetter(r)
        records.push(rejectionRecord(r.seq, r.streamTimeMs, r.reason, r.message, r.eventId))
      }
      records.sort(recordOrder)
      const closed = yield* deps.boards.dispatch(changes, ing.endSeq, ing.streamTimeMs)
      for (const d of closed) archives.push(d)
      yield* deps.analytics.submit(records, ing.endSeq)
      if (notes.length > 0) deps.notify(notes)
      deps.onApplied(ing.endSeq, applied, rejects)
    })

  const handle = (msgs: ReadonlyArray<SequencerMsg>): Effect.Effect<void> =>
    Effect.gen(function*() {
      for (const m of msgs) {
        if (m._tag === "Done" || m._tag === "Ingested") {
          let j = joins.get(m.batchId)
          if (j === undefined) { j = { parts: [] }; joins.set(m.batchId, j) }
          if (m._tag === "Done") j.parts.push(m)
          else j.ingested = m
          // Batches complete in order: every shard answers its mailbox in order.
          for (let next = joins.get(nextBatch); next !== undefined && complete(next); next = joins.get(nextBatch)) {
            joins.delete(nextBatch)
            nextBatch++
            yield* flushBatch(next)
          }
        } else {
          let c = cuts.get(m.cutId)
          if (c === undefined) { c = { users: [], parts: 0 }; cuts.set(m.cutId, c) }
          if (m._tag === "CutStart") c.start = m
          else { for (const u of m.users) c.users.push(u); c.parts++ }
          if (c.start !== undefined && c.parts === deps.shards) {
            // Every shard answered the cut after its part of batch ≤ seq, so those batches are flushed.
            cuts.delete(m.cutId)
            const start = c.start
            deps.snapshots({ seq: start.seq, streamTimeMs: start.streamTimeMs, users: c.users, archives })
            archives = []
          }
        }
      }
    })

  return spawn<SequencerMsg>("sequencer", 256, latch, handle)
}

const kindOrder: Record<AnalyticsRecord["kind"], number> = { award: 0, level_up: 1, achievement: 2, rejection: 3 }
const recordOrder = (a: AnalyticsRecord, b: AnalyticsRecord) => seqOf(a) - seqOf(b) || kindOrder[a.kind] - kindOrder[b.kind]
