// `arena rules diff` (and POST /v1/rules/dry-run, which runs it as a child process): scores the
// whole stream twice in one pass — under the rules history in force and under the proposed rules —
// each message decoded once and applied to two engine states, then compares them (RulesDiff.ts).
// Reads the stream only: off the live path, nothing written anywhere.
import { Data, Deferred, Effect, Fiber } from "effect"
import type { CompiledRules } from "../domain/Rules.js"
import type { RulesHistory } from "../domain/RulesHistory.js"
import { diffStates } from "../domain/RulesDiff.js"
import type { RulesDiffReport } from "../domain/RulesDiff.js"
import { MSG_ERASURE, MSG_EVENT } from "../domain/MessageKind.js"
import { admitMessage, applyMessage } from "../domain/StreamMessage.js"
import { applyEvent } from "../domain/engine/Engine.js"
import { newEngineState } from "../domain/engine/EngineState.js"
import type { EngineState } from "../domain/engine/EngineState.js"
import type { EventSource, RawEvent } from "../ports/EventSource.js"
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
    const before = newEngineState(o.history.maxPeriodGraceMs)
    const after = newEngineState(o.proposed.periodGraceMs)
    let seq = 0, messages = 0, appliedBefore = 0, appliedAfter = 0, rejectedBefore = 0, rejectedAfter = 0
    let range = o.history.rangeAt(1)
    let lastProgress = t0
    const pos = { seq: 0, streamTimeMs: 0 }
    const progress = (): DryRunProgress => ({
      seq, lastSeq, percent: lastSeq === 0 ? 100 : Math.min(100, (100 * seq) / lastSeq), eventsPerSecond: Math.round(messages / Math.max(0.001, (Date.now() - t0) / 1000))
    })

    const apply = (m: RawEvent): void => {
      messages++
      const kind = m.kind ?? MSG_EVENT
      if (kind === MSG_ERASURE) {
        // An erasure (§11) drops the user from both sides at its seq, as the pipeline does; it is
        // neither an applied nor a rejected event.
        applyMessage(before, range.rules, m)
        applyMessage(after, o.proposed, m)
        return
      }
      if (kind !== MSG_EVENT) {
        // Corrections move both states alike (a void takes back the award as it was first scored).
        if (m.seq >= range.to || m.seq < range.from) range = o.history.rangeAt(m.seq)
        if (applyMessage(before, range.rules, m).ok) appliedBefore++
        else rejectedBefore++
        if (applyMessage(after, o.proposed, m).ok) appliedAfter++
        else rejectedAfter++
        return
      }
      const a = admitMessage(m.data, m.msgId)
      if (!a.ok) { rejectedBefore++; rejectedAfter++; return }
      if (m.seq >= range.to || m.seq < range.from) range = o.history.rangeAt(m.seq)
      pos.seq = m.seq
      pos.streamTimeMs = m.streamTimeMs
      if (applyEvent(before, a.event, a.timeMs, pos, range.rules)._tag === "Applied") appliedBefore++
      else rejectedBefore++
      if (applyEvent(after, a.event, a.timeMs, pos, o.proposed)._tag === "Applied") appliedAfter++
      else rejectedAfter++
    }

    if (head.messages > 0) { // an empty stream (or one its limits emptied) has nothing to consume
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
      retireExpired(before, pos.streamTimeMs)
      retireExpired(after, pos.streamTimeMs)
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
