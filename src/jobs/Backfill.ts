// `arena backfill`: rebuilds the ClickHouse tables from the JetStream stream by re-running the
// pure engine over it, exactly as the pipeline would (decode → Nats-Msg-Id check → applyEvent).
// User state is a function of the whole stream prefix, so the engine always replays from seq 1;
// writing resumes above the store's watermarks, so an interrupted backfill continues where it
// stopped and a finished one writes nothing. Run it while the service is stopped (the embedded
// engine's lock enforces that; with a server, two writers would race).
import type { JetStreamClient, JetStreamManager } from "@nats-io/jetstream"
import { DeliverPolicy } from "@nats-io/jetstream"
import { Effect } from "effect"
import type { AnalyticsRecord } from "../ports/Analytics.js"
import { seqOf } from "../ports/Analytics.js"
import type { Watermarks } from "../ports/AnalyticsStore.js"
import { applyEvent, newUserState, pruneClosedPeriods } from "../domain/Engine.js"
import { decodeEventBytes } from "../domain/Event.js"
import type { UserState } from "../domain/Model.js"
import type { CompiledRules } from "../domain/Rules.js"
import { classifyNats } from "../adapters/nats/NatsError.js"
import type { NatsError } from "../adapters/nats/NatsError.js"
import type { ClickHouseHandle } from "../adapters/clickhouse/ClickHouseClient.js"
import { ClickHouseError, classifyClickHouse } from "../adapters/clickhouse/ClickHouseError.js"
import { makeClickHouseAnalyticsStore } from "../adapters/clickhouse/ClickHouseAnalyticsStore.js"

export interface BackfillProgress {
  /** Last stream seq processed. */
  readonly seq: number
  /** The stream's last seq when the backfill started: it runs up to there. */
  readonly lastSeq: number
  readonly percent: number
  readonly eventsPerSecond: number
  /** Records written to ClickHouse so far, and records skipped as already there. */
  readonly written: number
  readonly skipped: number
}

export interface BackfillResult extends BackfillProgress {
  /** ClickHouse's watermark (complete through this seq) when the backfill started. */
  readonly resumedFrom: number
  readonly elapsedMs: number
  readonly aborted: boolean
}

export interface BackfillOptions {
  readonly js: JetStreamClient
  readonly jsm: JetStreamManager
  readonly stream: string
  readonly clickhouse: ClickHouseHandle
  readonly rules: CompiledRules
  /** Records per ClickHouse write (default 50,000). */
  readonly batchRecords?: number
  readonly progressEveryMs?: number
  readonly onProgress?: (p: BackfillProgress) => void
  /** Stops after the current batch (which is written: an abort never loses processed work). */
  readonly signal?: AbortSignal
  readonly log?: (msg: string) => void
}

/** What the pipeline writes for one stream message: mirrors actors/Ingest.ts and actors/UserShard.ts. */
const recordsOf = (
  users: Map<string, UserState>, rules: CompiledRules, seq: number, streamTimeMs: number, data: Uint8Array, msgId: string | undefined, out: AnalyticsRecord[]
): void => {
  const streamIso = new Date(streamTimeMs).toISOString()
  const d = decodeEventBytes(data)
  if (!d.ok) {
    out.push({ kind: "rejection", seq, reason: d.rejection.reason, message: d.rejection.message, event_id: null, stream_time: streamIso })
    return
  }
  const ev = d.event
  if (msgId !== ev.event_id) {
    out.push({
      kind: "rejection", seq, reason: "msg_id_mismatch", event_id: ev.event_id, stream_time: streamIso,
      message: msgId === undefined
        ? "the Nats-Msg-Id header is missing; it must equal event_id (that is what makes ingest idempotent)"
        : `the Nats-Msg-Id header ${JSON.stringify(msgId)} differs from event_id ${JSON.stringify(ev.event_id)}`
    })
    return
  }
  const known = users.get(ev.user_id)
  const state = known ?? newUserState(ev.user_id, ev.username)
  const o = applyEvent(state, ev, d.timeMs, { seq, streamTimeMs }, rules)
  if (o._tag === "Rejected") {
    out.push({ kind: "rejection", seq, reason: o.rejection.reason, message: o.rejection.message, event_id: ev.event_id, stream_time: streamIso })
    return
  }
  if (known === undefined) users.set(ev.user_id, state)
  const e = o.entry
  out.push({ kind: "award", entry: e })
  if (e.level_after !== e.level_before) out.push({ kind: "level_up", seq, user_id: e.user_id, from: e.level_before, to: e.level_after, stream_time: e.stream_time })
  for (const b of e.bonuses) out.push({ kind: "achievement", seq, user_id: e.user_id, achievement: b.achievement, bonus: b.xp, stream_time: e.stream_time })
}

const backfill = async (o: BackfillOptions): Promise<BackfillResult> => {
  const t0 = Date.now()
  const log = o.log ?? (() => {})
  const store = makeClickHouseAnalyticsStore(o.clickhouse, log)
  const run = <A>(e: Effect.Effect<A, { message: string }>) => Effect.runPromise(Effect.mapError(e, (x) => classifyClickHouse(x, "backfill")))
  const w: Watermarks = await run(store.recover)
  const t = (k: AnalyticsRecord["kind"]) => Math.max(w.maxSeq[k], w.durableSeq)
  const thresholds = { award: t("award"), level_up: t("level_up"), achievement: t("achievement"), rejection: t("rejection") }

  const info = await o.jsm.streams.info(o.stream)
  const firstSeq = info.state.first_seq
  const lastSeq = info.state.last_seq
  const base = { lastSeq, resumedFrom: w.durableSeq }
  if (info.state.messages === 0 || lastSeq <= w.durableSeq) {
    return { ...base, seq: lastSeq, percent: 100, eventsPerSecond: 0, written: 0, skipped: 0, elapsedMs: Date.now() - t0, aborted: false }
  }
  if (firstSeq > 1) {
    throw new ClickHouseError({
      reason: "config", retryable: false,
      message: `stream ${o.stream} starts at seq ${firstSeq} (earlier messages were removed by its limits); the engine needs the whole stream to rebuild user state`
    })
  }
  log(`backfill: ${o.stream} seq 1..${lastSeq}; ClickHouse complete through ${w.durableSeq}, replaying the engine from seq 1`)

  const users = new Map<string, UserState>()
  let pending: AnalyticsRecord[] = []
  let seq = 0
  let written = 0
  let skipped = 0
  let lastProgress = t0
  const progress = (): BackfillProgress => {
    const secs = Math.max(0.001, (Date.now() - t0) / 1000)
    return { seq, lastSeq, percent: Math.min(100, (100 * seq) / lastSeq), eventsPerSecond: Math.round(seq / secs), written, skipped }
  }
  const flush = async () => {
    if (seq <= w.durableSeq) { pending = []; return } // still below the watermark: nothing to write
    const keep = pending.filter((r) => seqOf(r) > thresholds[r.kind])
    skipped += pending.length - keep.length
    await run(store.write(keep.map(store.encode), seq))
    written += keep.length
    pending = []
  }

  const consumer = await o.js.consumers.get(o.stream, { deliver_policy: DeliverPolicy.StartSequence, opt_start_seq: 1 })
  const messages = await consumer.consume({ max_messages: 4096 })
  let aborted = false
  try {
    for await (const m of messages) {
      const s = m.info.streamSequence
      if (s <= seq) continue // a redelivery after the ordered consumer reset
      seq = s
      const streamTimeMs = Math.floor(m.info.timestampNanos / 1_000_000)
      recordsOf(users, o.rules, s, streamTimeMs, m.data, m.headers?.get("Nats-Msg-Id") || undefined, pending)
      if (s % 50_000 === 0) for (const u of users.values()) pruneClosedPeriods(u, streamTimeMs, o.rules) // bounds memory; ledgers do not depend on it
      const done = s >= lastSeq
      if (done || pending.length >= (o.batchRecords ?? 50_000)) {
        await flush()
        if (o.signal?.aborted === true && !done) { aborted = true; break }
      }
      if (o.onProgress !== undefined && (done || Date.now() - lastProgress >= (o.progressEveryMs ?? 1000))) {
        lastProgress = Date.now()
        o.onProgress(progress())
      }
      if (done) break
    }
  } finally {
    await messages.close().catch(() => {})
  }
  return { ...base, ...progress(), elapsedMs: Date.now() - t0, aborted }
}

/** Rebuild (or finish rebuilding) ClickHouse from the stream; see the file header. */
export const runBackfill = (o: BackfillOptions): Effect.Effect<BackfillResult, ClickHouseError | NatsError> =>
  Effect.tryPromise({
    try: () => backfill(o),
    catch: (e) => (e instanceof ClickHouseError ? e : classifyNats(e, `backfill from ${o.stream}`))
  })
