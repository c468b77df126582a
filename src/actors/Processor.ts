// The processor: everything the pipeline does per event, as one synchronous loop over a slice of
// raw stream messages — skip replays by seq, decode, check Nats-Msg-Id, run the engine on the user
// table (which moves board entries in place) under the rules version in force at the message's seq
// (RulesHistory), collect the batch's analytics records, dead letters and notifications. No Effect, closure or actor hop per event; the pipeline calls it per slice.
// Messages of other kinds (corrections, settings, erasures: domain/MessageKind.ts) take the same loop; what
// they leave behind besides records is applyOther's (one case per kind); an erasure leaves only a
// mark that the next cut must be a base (takeErasures). A tick (partitioned mode) leaves nothing:
// like every message it moves stream time, which then rolls and closes periods after the slice.
import { MSG_CORRECTION, MSG_ERASURE, MSG_EVENT, MSG_TICK } from "../domain/MessageKind.js"
import type { CorrectionEntry, LedgerEntry, RejectReason } from "../domain/Model.js"
import type { CompiledRules } from "../domain/Rules.js"
import type { RulesHistory } from "../domain/RulesHistory.js"
import { levelTitle } from "../domain/Levels.js"
import type { EngineState } from "../domain/engine/EngineState.js"
import { metadataText, pushAwardRecords, rejectionRecord } from "../domain/Records.js"
import { applyMessage, pushOutcomeRecords } from "../domain/StreamMessage.js"
import type { MessageOutcome, OwnedPartition } from "../domain/StreamMessage.js"
import { FLAG_DIRTY } from "../domain/state/UserTable.js"
import type { AnalyticsRecord, RecordOut } from "../ports/Analytics.js"
import type { RawEvent } from "../ports/EventSource.js"
import type { UserNotification } from "../ports/LiveFeed.js"

export interface Reject {
  readonly seq: number
  readonly streamTimeMs: number
  readonly reason: RejectReason
  readonly message: string
  readonly eventId: string | null
  readonly data: Uint8Array
}

/**
 * What one slice produced, in seq order. `records` is an array (tests, tools) or, in the pipeline,
 * the analytics sink's stage, which encodes each record as it comes (no object kept for the slice).
 */
export interface SliceOutput<R extends RecordOut = Array<AnalyticsRecord>> {
  readonly records: R
  readonly rejects: Array<Reject>
  readonly notes: Array<UserNotification>
  applied: number
}

export const newSliceOutput = (): SliceOutput => ({ records: [], rejects: [], notes: [], applied: 0 })
export const sliceOutputInto = <R extends RecordOut>(records: R): SliceOutput<R> => ({ records, rejects: [], notes: [], applied: 0 })

/** Where the processor stands in the stream. */
export interface Position {
  /** Last stream sequence applied (dead letters included): every event ≤ it is visible. */
  applied: number
  /** Latest JetStream timestamp applied. */
  streamTimeMs: number
  /** Sequence numbers skipped because the stream no longer had them (retention). */
  gaps: number
}

/** Called before a user's state changes for the first time since the last cut (see Cuts). */
export interface WriteObserver {
  beforeWrite(uid: number): void
}

export class Processor {
  /** Users changed since the last cut, in first-change order. */
  private dirty: Int32Array = new Int32Array(1024)
  private dirtyN = 0
  private readonly before = (uid: number): void => {
    const f = this.state.users.flags
    if ((f[uid]! & FLAG_DIRTY) !== 0) return
    this.observer?.beforeWrite(uid)
    f[uid] = f[uid]! | FLAG_DIRTY
    if (this.dirtyN === this.dirty.length) {
      const d = new Int32Array(this.dirty.length * 2)
      d.set(this.dirty)
      this.dirty = d
    }
    this.dirty[this.dirtyN++] = uid
  }
  observer: WriteObserver | null = null
  /** Erasure messages applied since takeErasures(): a cut after one must be a base. */
  private erasuresSinceCut = 0
  // The version in force over [rulesFrom, rulesTo): one comparison per message, a lookup only at a switch.
  private rules: CompiledRules
  private rulesFrom: number
  private rulesTo: number

  constructor(
    readonly state: EngineState,
    readonly history: RulesHistory,
    readonly position: Position,
    private readonly watched: ReadonlySet<string>,
    /** Partitioned mode: the partition this processor applies (events of other users are dead-lettered). */
    private readonly partition?: OwnedPartition
  ) {
    const r = history.rangeAt(position.applied + 1)
    this.rules = r.rules
    this.rulesFrom = r.from
    this.rulesTo = r.to
  }

  /**
   * Applies events[from..to) (stream order) and appends what they produced to `out`; returns
   * the number of messages it looked at. Messages at or below the applied seq are replays.
   */
  apply(events: ReadonlyArray<RawEvent>, from: number, to: number, out: SliceOutput<RecordOut>): void {
    const pos = this.position
    const end = Math.min(to, events.length)
    for (let i = from; i < end; i++) {
      const raw = events[i]!
      if (raw.seq <= pos.applied) continue
      if (raw.seq > pos.applied + 1) pos.gaps += raw.seq - pos.applied - 1
      pos.applied = raw.seq
      if (raw.streamTimeMs > pos.streamTimeMs) pos.streamTimeMs = raw.streamTimeMs
      if (raw.seq >= this.rulesTo || raw.seq < this.rulesFrom) {
        const r = this.history.rangeAt(raw.seq)
        this.rules = r.rules
        this.rulesFrom = r.from
        this.rulesTo = r.to
      }
      const o = applyMessage(this.state, this.rules, raw, this.before, this.partition)
      if (!o.ok) {
        out.rejects.push({ seq: raw.seq, streamTimeMs: raw.streamTimeMs, reason: o.reason, message: o.message, eventId: o.eventId, data: raw.data })
        out.records.push(rejectionRecord(raw.seq, raw.streamTimeMs, o.reason, o.message, o.eventId))
        continue
      }
      // A tick (partitioned mode) brought its stream time (above) and nothing else: not an event.
      if (o.kind === MSG_TICK) continue
      if (o.kind === MSG_ERASURE) {
        // An erasure: the user left every board and the table at this seq (domain/Erasure.ts). The
        // next cut is a base, so no stored chunk keeps them.
        this.erasuresSinceCut++
        continue
      }
      out.applied++
      if (o.kind !== MSG_EVENT) { this.applyOther(o, out); continue }
      const e = o.entry
      pushAwardRecords(e, out.records, metadataText(o.metadata))
      if (this.watched.size > 0 && this.watched.has(e.user_id)) this.notify(out.notes, e)
    }
  }

  /** What an applied message of another kind leaves besides the state: records and notifications (one case per kind). */
  private applyOther(o: Exclude<MessageOutcome, { readonly ok: false } | { readonly kind: typeof MSG_EVENT } | { readonly kind: typeof MSG_TICK }>, out: SliceOutput<RecordOut>): void {
    pushOutcomeRecords(o, out.records)
    switch (o.kind) {
      case MSG_CORRECTION: {
        const c = o.correction
        if (this.watched.size > 0 && this.watched.has(c.user_id)) this.notifyCorrection(out.notes, c)
        break
      }
    }
  }

  private notifyCorrection(notes: Array<UserNotification>, c: CorrectionEntry): void {
    notes.push({ type: "xp_corrected", user_id: c.user_id, seq: c.seq, entry: c })
    if (c.level_after > c.level_before) {
      notes.push({ type: "level_up", user_id: c.user_id, seq: c.seq, level: c.level_after, title: levelTitle(this.rules.levels, c.level_after), previous: c.level_before })
    }
  }

  private notify(notes: Array<UserNotification>, e: LedgerEntry): void {
    notes.push({ type: "xp_awarded", user_id: e.user_id, seq: e.seq, entry: e })
    if (e.level_after !== e.level_before) {
      notes.push({ type: "level_up", user_id: e.user_id, seq: e.seq, level: e.level_after, title: levelTitle(this.rules.levels, e.level_after), previous: e.level_before })
    }
    for (const b of e.bonuses) notes.push({ type: "achievement_unlocked", user_id: e.user_id, seq: e.seq, achievement: b.achievement, bonus: b.xp })
  }

  /** Erasures applied since the last call (and forgets them): the pipeline's next cut is then a base. */
  takeErasures(): number {
    const n = this.erasuresSinceCut
    this.erasuresSinceCut = 0
    return n
  }

  /** Users changed since the last call, and forgets them (their dirty marks are cleared). */
  takeDirty(): Int32Array {
    const out = this.dirty.slice(0, this.dirtyN)
    const f = this.state.users.flags
    for (let i = 0; i < this.dirtyN; i++) f[out[i]!] = f[out[i]!]! & ~FLAG_DIRTY
    this.dirtyN = 0
    return out
  }
}
