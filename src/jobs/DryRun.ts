// `arena rules diff` (and POST /v1/rules/dry-run, which runs it as a child process): scores the
// whole stream twice in one pass — under the rules history in force and under the proposed rules —
// each message decoded once and applied to two engine states, then compares them (RulesDiff.ts).
// Reads the stream only: off the live path, nothing written anywhere. Partitioned mode (§9): the
// whole stream's partition subjects in stream order, each message read as its partition's consumer
// reads it (Partition.ts partitionReading: its kind, the subject check), so every user's messages
// are the ones their partition applies, at the same seqs and stream times.
import { Data, Deferred, Effect, Fiber } from "effect"
import type { CompiledRules } from "../domain/Rules.js"
import type { RulesHistory } from "../domain/RulesHistory.js"
import { diffStates } from "../domain/RulesDiff.js"
import type { RulesDiffReport } from "../domain/RulesDiff.js"
import { MSG_ERASURE, MSG_EVENT, MSG_TICK } from "../domain/MessageKind.js"
import { checkPartitionSubject, partitionReading } from "../domain/Partition.js"
import { admitMessage, applyMessage } from "../domain/StreamMessage.js"
import { applyEvent } from "../domain/engine/Engine.js"
import { newEngineState } from "../domain/engine/EngineState.js"
import type { EngineState } from "../domain/engine/EngineState.js"
import type { EventSource, RawEvent, VoidScan } from "../ports/EventSource.js"
import type { PortFailure } from "../ports/Failure.js"

export interface DryRunProgress {
  readonly seq: number
  readonly lastSeq: number
  readonly percent: number
  readonly eventsPerSecond: number
}

export interface DryRunOptions {
  readonly events: EventSource
  /** The rules in force: every event under the version it is scored with. */
  readonly history: RulesHistory
  readonly proposed: CompiledRules
  /**
   * Voids (§10): the stream's void messages, the projection in force and the seq its re-projection
   * was built through (0: never re-projected). The rules in force take back what the live projection
   * does (re-scored up to that seq, as carried after it); the proposed rules, as a re-projection
   * built now would: every void re-scored. Absent: every void takes back what it carries.
   */
  readonly voids?: { readonly scan: VoidScan; readonly projection: number; readonly builtSeq: number }
  /**
   * Partitioned mode (ARCHITECTURE §9): the deployment's partition count. `events` then reads the
   * partition subjects (`arena.xp.p.>`, messages with their subjects): a message no partition reads
   * is skipped, a tick only brings stream time (neither counted nor refused), and an event or other
   * message naming a user of another partition is refused, as the partitions do.
   */
  readonly partitions?: number
  readonly top?: number
  readonly listLimit?: number
  readonly progressEveryMs?: number
  readonly onProgress?: (p: DryRunProgress) => void
}

/** Closed periods' boards are dropped as stream time passes them (bounded memory; the report shows open boards). */
const retireExpired = (s: EngineState, nowMs: number): void => {
  for (const id of s.boards.expired(nowMs)) { s.boards.retire(id); s.users.markDead(id) }
}

/** The stream lost its start (removed by its limits): the rules in force cannot be replayed from it. */
export class DryRunError extends Data.TaggedError("DryRunError")<{ readonly message: string; readonly retryable: false }> {}

export const dryRun = (o: DryRunOptions): Effect.Effect<RulesDiffReport, PortFailure> =>
  Effect.gen(function*() {
    const t0 = Date.now()
    const head = yield* o.events.head
    const lastSeq = head.lastSeq
    if (head.messages > 0 && head.firstSeq > 1) {
      return yield* Effect.fail(new DryRunError({
        retryable: false,
        message: `stream ${head.name} starts at seq ${head.firstSeq} (earlier messages were removed by its limits); a dry run needs the whole stream`
      }))
    }
    const scanned = o.voids === undefined ? [] : yield* o.voids.scan(lastSeq)
    const worthOf = (through: number) => o.voids === undefined ? null : new Map(scanned.filter(([v]) => v <= through).map(([, e]) => [e, 0]))
    const before = newEngineState(o.history.maxPeriodGraceMs, { projection: o.voids?.projection ?? 0, worth: worthOf(o.voids?.builtSeq ?? 0) })
    const after = newEngineState(o.proposed.periodGraceMs, { projection: o.voids?.projection ?? 0, worth: worthOf(lastSeq) })
    /** An applied award a void re-scores: recorded (applyMessage does it for the pipeline). */
    const record = (s: EngineState, r: ReturnType<typeof applyEvent>): boolean => {
      if (r._tag !== "Applied") return false
      const w = s.voids.worth
      if (w !== null && w.has(r.entry.seq)) w.set(r.entry.seq, r.entry.total_awarded)
      return true
    }
    let seq = 0, messages = 0, appliedBefore = 0, appliedAfter = 0, rejectedBefore = 0, rejectedAfter = 0
    let range = o.history.rangeAt(1)
    let lastProgress = t0
    const pos = { seq: 0, streamTimeMs: 0 }
    /** Partitioned mode: the latest stream time read, ticks included (partitions close periods on it, so the boards open at the end are the live ones). */
    let timeMs = 0
    const progress = (): DryRunProgress => ({
      seq, lastSeq, percent: lastSeq === 0 ? 100 : Math.min(100, (100 * seq) / lastSeq), eventsPerSecond: Math.round(messages / Math.max(0.001, (Date.now() - t0) / 1000))
    })

    const apply = (raw: RawEvent): void => {
      let m = raw
      // Partitioned mode: the partition whose consumer reads it, and the kind that consumer gives it.
      let owned: { readonly partitions: number; readonly owned: number } | undefined
      if (o.partitions !== undefined) {
        const r = partitionReading(raw.subject ?? "", o.partitions)
        if (r === null) return // no partition reads it: the deployment never applies it
        if (raw.streamTimeMs > timeMs) timeMs = raw.streamTimeMs
        if (r.kind === MSG_TICK) return // stream time only
        owned = { partitions: o.partitions, owned: r.partition }
        m = { ...raw, kind: r.kind }
      }
      messages++
      const kind = m.kind ?? MSG_EVENT
      if (kind === MSG_ERASURE) {
        // An erasure (§11) drops the user from both sides at its seq, as the pipeline does; it is
        // neither an applied nor a rejected event.
        applyMessage(before, range.rules, m, undefined, owned)
        applyMessage(after, o.proposed, m, undefined, owned)
        return
      }
      if (kind !== MSG_EVENT) {
        // Corrections: a void takes back what the event is worth on each side (see DryRunOptions.voids).
        if (m.seq >= range.to || m.seq < range.from) range = o.history.rangeAt(m.seq)
        if (applyMessage(before, range.rules, m, undefined, owned).ok) appliedBefore++
        else rejectedBefore++
        if (applyMessage(after, o.proposed, m, undefined, owned).ok) appliedAfter++
        else rejectedAfter++
        return
      }
      const a = admitMessage(m.data, m.msgId)
      if (!a.ok) { rejectedBefore++; rejectedAfter++; return }
      // One user's state is never split over two partitions (Partition.ts checkPartitionSubject).
      if (owned !== undefined && !checkPartitionSubject(m.subject ?? "", a.event.user_id, owned.partitions, owned.owned).ok) { rejectedBefore++; rejectedAfter++; return }
      if (m.seq >= range.to || m.seq < range.from) range = o.history.rangeAt(m.seq)
      pos.seq = m.seq
      pos.streamTimeMs = m.streamTimeMs
      if (record(before, applyEvent(before, a.event, a.timeMs, pos, range.rules))) appliedBefore++
      else rejectedBefore++
      if (record(after, applyEvent(after, a.event, a.timeMs, pos, o.proposed))) appliedAfter++
      else rejectedAfter++
    }

    if (head.messages > 0 && lastSeq > 0) { // an empty stream (or one its limits emptied, or none on the filter) has nothing to consume
      const finished = yield* Deferred.make<void>()
      let done = false
      const onBatch = (events: ReadonlyArray<RawEvent>): void => {
        for (const m of events) {
          if (done || m.seq <= seq) continue // a redelivery after the ordered consumer reset
          seq = m.seq
          apply(m)
          if (messages % 50_000 === 0) { retireExpired(before, m.streamTimeMs); retireExpired(after, m.streamTimeMs) }
          if (seq >= lastSeq) done = true
        }
        if (o.onProgress !== undefined && (done || Date.now() - lastProgress >= (o.progressEveryMs ?? 500))) {
          lastProgress = Date.now()
          o.onProgress(progress())
        }
        if (done) Effect.runSync(Deferred.succeed(finished, undefined))
      }
      const consumer = yield* Effect.forkChild(o.events.consumeFrom(1, 4096, (batch) => { onBatch(batch.events); return Promise.resolve() }))
      // The consumer runs until interrupted; it ends first only by failing (then so does the run).
      yield* Effect.raceFirst(Deferred.await(finished), Fiber.join(consumer))
      yield* Fiber.interrupt(consumer)
      retireExpired(before, o.partitions === undefined ? pos.streamTimeMs : timeMs)
      retireExpired(after, o.partitions === undefined ? pos.streamTimeMs : timeMs)
    }

    return diffStates({
      before, after,
      proposedVersion: o.proposed.version,
      inForce: o.history.versions.map((v) => ({ version: v.rules.version, effective_from_seq: v.effectiveFromSeq })),
      stream: { last_seq: lastSeq, messages, applied_before: appliedBefore, applied_after: appliedAfter, rejected_before: rejectedBefore, rejected_after: rejectedAfter },
      ...(o.top === undefined ? {} : { top: o.top }),
      ...(o.listLimit === undefined ? {} : { listLimit: o.listLimit })
    })
  })
