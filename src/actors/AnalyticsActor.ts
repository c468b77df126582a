// The analytics sink: buffers the pipeline's records, writes them to the analytics store in
// batches that never split a seq, and tracks how far the store is complete (durableSeq) so
// snapshots never get ahead of it. Exactly once: records at or below the store's own watermarks
// are dropped; a failed write waits, re-reads the watermarks and continues from there.
// Records are encoded when submitted, into a RowLog (typed-array columns over byte slabs): what
// waits for a flush holds no object per record, and the ledger entries not yet durable are read
// back from their rows when a ledger read asks.
import { Deferred, Effect, Latch, Semaphore } from "effect"
import type { Scope } from "effect"
import { backoff } from "../domain/Backoff.js"
import { blocked } from "../observability/LoopBlocks.js"
import { registry } from "../observability/Metrics.js"
import type { AnalyticsRecord, AnalyticsSink, RecordKind, RecordStage } from "../ports/Analytics.js"
import type { AnalyticsStatus, AnalyticsStore, EncodedRecord, StoreFailure, Watermarks } from "../ports/AnalyticsStore.js"
import { seqOf } from "../ports/Analytics.js"
import { KIND_AWARD, KIND_CODE, KINDS, RowLog, keyOf, rowLogOf } from "../ports/RowLog.js"
import type { LedgerEntry, LedgerItem } from "../domain/Model.js"

export interface AnalyticsService extends AnalyticsSink {
  /** Records of the events up to and including throughSeq, in seq order. Suspends while the buffer is full. */
  submit(records: ReadonlyArray<AnalyticsRecord>, throughSeq: number): Effect.Effect<void>
  /** Resolves once everything submitted with seq <= seq is durable (and asks for an immediate flush). */
  awaitDurable(seq: number): Effect.Effect<void>
  /** Highest seq durable in the store (read from it at start, then tracked); 0 until first read. */
  readonly durableSeq: Effect.Effect<number>
  readonly status: Effect.Effect<AnalyticsStatus>
  /**
   * The user's ledger entries taken but not yet durable in the store, oldest first (a fresh array).
   * A ledger read merges them with the store's rows, so every applied event is in the ledger the
   * moment it is submitted — not only after the next flush (up to flushIntervalMs later).
   */
  pendingLedger(userId: string): ReadonlyArray<LedgerItem>
  /** The award of `eventId` taken but not yet durable in the store, or null (POST /v1/corrections looks here before the store). */
  pendingAward(eventId: string): LedgerEntry | null
  /**
   * Erasure: the store drops every record of the messages at `seqs` (waits until they are durable
   * first), never beside a write of the sink; retried until the store answers.
   */
  eraseSeqs(seqs: ReadonlyArray<number>): Effect.Effect<void>
  /**
   * A re-projection's switch (ARCHITECTURE §10), while no pipeline runs: `change` makes the store
   * read and write another projection, between two writes; the buffered rows (the old
   * projection's) go, and the next write first reads the new projection's watermarks.
   */
  reproject(change: () => void): Effect.Effect<void>
  /** Runs `e` under the sink's lock: never beside one of its writes or an erasure (a re-projection's rows are inserted so). */
  exclusively<A, E>(e: Effect.Effect<A, E>): Effect.Effect<A, E>
  /** What a wait on the sink depends on, for a log line: watermarks, buffer, waiters, who holds the lock (and since when), the last error. */
  describe(): string
}

export interface AnalyticsOptions {
  /** Records held while the store is slow or down; beyond this `submit` suspends. */
  readonly maxBuffered: number
  /** Records per flush (a flush is one insert per table and partition). */
  readonly maxBatch: number
  /** Under load, at most one flush per interval (3 s: a flush is one insert per table, and ClickHouse wants about one insert per second or fewer; at 1 s the embedded engine spent twice the CPU at 1M events); an idle sink, or a snapshot awaiting durability, flushes at once. */
  readonly flushIntervalMs: number
  readonly retryInitialMs: number
  readonly retryMaxMs: number
  /** On shutdown, how long to wait for the buffer to reach the store. */
  readonly shutdownFlushMs: number
}

export const defaultAnalyticsOptions: AnalyticsOptions = {
  maxBuffered: 200_000,
  maxBatch: 50_000,
  flushIntervalMs: 3000,
  retryInitialMs: 200,
  retryMaxMs: 5000,
  shutdownFlushMs: 30_000
}


const metrics = {
  buffered: registry.gauge("arena_analytics_buffered_records", "Analytics records waiting to be written to ClickHouse"),
  durable: registry.gauge("arena_analytics_durable_seq", "Highest stream seq complete in ClickHouse"),
  insert: registry.histogram("arena_analytics_insert_seconds", "Time to write one analytics batch to ClickHouse", [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10]),
  errors: registry.counter("arena_analytics_errors_total", "Failed analytics store calls, by reason")
}

const reasonOf = (e: StoreFailure): string => ("reason" in e && typeof e.reason === "string" ? e.reason : e._tag)

/** Starts the sink's writer fiber in the current scope; closing the scope flushes what it can. */
export const makeAnalyticsActor = (store: AnalyticsStore, options: Partial<AnalyticsOptions> = {}): Effect.Effect<AnalyticsService, never, Scope.Scope> =>
  Effect.gen(function*() {
    const o: AnalyticsOptions = { ...defaultAnalyticsOptions, ...options }
    const rows = new RowLog()
    let submittedSeq = 0
    let durableSeq = 0
    let thresholds: Watermarks["maxSeq"] | null = null
    let connected = false
    let lastError: string | null = null
    let flushRequested = false
    let lastFlushAt = 0
    const waiters: Array<{ seq: number; done: Deferred.Deferred<void> }> = []
    // A write and an erasure never overlap (an erasure rebuilds rollup months a write feeds).
    const semaphore = yield* Semaphore.make(1)
    /** Who holds the lock, and since when (for `describe`). */
    let holder: { readonly what: string; readonly since: number } | null = null
    const exclusive = {
      withPermit: <A, E, R>(e: Effect.Effect<A, E, R>, what: string) =>
        semaphore.withPermit(Effect.suspend(() => {
          holder = { what, since: Date.now() }
          return e.pipe(Effect.ensuring(Effect.sync(() => { holder = null })))
        }))
    }
    const wake = Latch.makeUnsafe(false) // writer: new records or a flush request
    const space = Latch.makeUnsafe(false) // submitters: the buffer shrank

    const settle = () => {
      for (let i = waiters.length - 1; i >= 0; i--) {
        const w = waiters[i]!
        if (w.seq <= durableSeq) {
          Deferred.doneUnsafe(w.done, Effect.void)
          waiters.splice(i, 1)
        }
      }
      if (waiters.length === 0) flushRequested = false
      metrics.buffered.set(rows.length)
      metrics.durable.set(durableSeq)
    }
    const fail = (e: StoreFailure) => {
      connected = false
      lastError = e.message
      metrics.errors.inc({ reason: reasonOf(e) })
    }

    /** Until the store answers: watermarks read, buffer trimmed to what is missing (under the lock: no switch between the read and its use). */
    const recover = exclusive.withPermit(store.recover.pipe(Effect.map((w) => {
      const d = w.durableSeq
      const t = {
        award: Math.max(w.maxSeq.award, d), correction: Math.max(w.maxSeq.correction, d), level_up: Math.max(w.maxSeq.level_up, d),
        achievement: Math.max(w.maxSeq.achievement, d), rejection: Math.max(w.maxSeq.rejection, d)
      }
      thresholds = t
      rows.retain((i) => rows.seq[i]! > t[KINDS[rows.kind[i]!]!])
      durableSeq = Math.max(durableSeq, w.durableSeq)
      submittedSeq = Math.max(submittedSeq, durableSeq)
      connected = true
      lastError = null
      settle()
      space.openUnsafe()
    })), "a recovery").pipe(
      Effect.tapError((e) => Effect.sync(() => fail(e))),
      Effect.retry(backoff(o.retryInitialMs, o.retryMaxMs)),
      Effect.orDie // unreachable: the schedule retries forever
    )

    /**
     * Waits until there is work and, under load, until the flush interval has passed. A recovery
     * due (a re-projection's switch) is work: the new projection's watermarks are read at once, so
     * an awaitDurable of a seq they cover resolves without waiting for a submit — after a switch
     * at the stream's head no new event may come (an erasure waits there, and a publisher on it).
     */
    const awaitWork = Effect.gen(function*() {
      for (;;) {
        if (recoverFirst) return
        if (rows.length === 0 && submittedSeq <= durableSeq) {
          wake.closeUnsafe()
          yield* wake.await
          continue
        }
        const now = yield* Effect.clockWith((c) => c.currentTimeMillis)
        const wait = lastFlushAt + o.flushIntervalMs - now
        if (flushRequested || rows.length >= o.maxBatch || wait <= 0) return
        wake.closeUnsafe()
        yield* wake.await.pipe(Effect.timeoutOption(wait))
      }
    })

    /** One flush; after a failed one, first recover (the write may have landed in part or whole: the watermarks say what to skip). */
    let recoverFirst = false
    /** Bumped by a re-projection's switch: a flush planned before it writes nothing. */
    let generation = 0
    const flushOnce = Effect.gen(function*() {
      // Cleared before: a switch during the recovery sets it again (recovered again next round).
      if (recoverFirst) { recoverFirst = false; yield* recover }
      yield* awaitWork
      if (recoverFirst) return // a switch while waiting: recovered first, in the next round
      // Whole seqs only: a seq's records must land in the same flush (per-kind watermarks).
      const t0 = performance.now()
      let n = Math.min(rows.length, o.maxBatch)
      while (n > 0 && n < rows.length && rows.seq[n] === rows.seq[n - 1]) n++
      const through = n === rows.length ? submittedSeq : rows.seq[n]! - 1
      blocked("analytics_flush", t0)
      const started = yield* Effect.clockWith((c) => c.currentTimeMillis)
      // Rows [0, n) stay as they are until the write ends: submits only append.
      const g = generation
      const r = yield* Effect.result(exclusive.withPermit(Effect.suspend(() => g === generation ? store.writeRows(rows, n, through) : Effect.void), "a write"))
      if (g !== generation) return
      const ended = yield* Effect.clockWith((c) => c.currentTimeMillis)
      if (r._tag === "Failure") {
        fail(r.failure)
        recoverFirst = true
        return yield* Effect.fail(r.failure)
      }
      metrics.insert.observe((ended - started) / 1000)
      const t1 = performance.now()
      rows.dropFirst(n)
      durableSeq = Math.max(durableSeq, through)
      lastFlushAt = ended
      connected = true
      lastError = null
      settle()
      space.openUnsafe()
      blocked("analytics_flush", t1)
    })

    // Failed flushes back off (the schedule starts over after a success).
    const writer = Effect.gen(function*() {
      yield* recover
      for (;;) yield* flushOnce.pipe(Effect.retry(backoff(o.retryInitialMs, o.retryMaxMs)), Effect.orDie)
    })
    yield* Effect.forkScoped(writer)

    const awaitDurable = (seq: number): Effect.Effect<void> =>
      Effect.suspend(() => {
        if (seq <= durableSeq) return Effect.void
        const done = Deferred.makeUnsafe<void>()
        waiters.push({ seq, done })
        flushRequested = true
        wake.openUnsafe()
        return Deferred.await(done)
      })

    // On shutdown: give the store a bounded chance to take what is buffered (the pipeline has
    // stopped and snapshotted by now); what does not make it is re-derived on the next start.
    yield* Effect.addFinalizer(() =>
      Effect.suspend(() => awaitDurable(submittedSeq)).pipe(Effect.timeoutOption(o.shutdownFlushMs), Effect.asVoid)
    )

    /** Records submitted from here on are kept when above what was submitted and what the store holds. */
    const wantedSeq = (kind: RecordKind, s: number): boolean => {
      const t = thresholds
      return s > submittedSeq && (t === null || s > t[kind])
    }
    const keyRow = (r: AnalyticsRecord, into: RowLog, i: number, link: boolean): void => {
      if (r.kind === "award") {
        if (link) into.keyUser(i, keyOf(r.entry.user_id))
        else into.userKey[i] = keyOf(r.entry.user_id)
        into.idKey[i] = keyOf(r.entry.event_id)
      } else if (r.kind === "correction") {
        if (link) into.keyUser(i, keyOf(r.entry.user_id))
        else into.userKey[i] = keyOf(r.entry.user_id)
      }
    }
    /** Suspends while `n` more rows would overfill the buffer (an oversized batch into an empty buffer goes through). */
    const awaitSpace = (n: number) =>
      Effect.gen(function*() {
        while (rows.length > 0 && rows.length + n > o.maxBuffered) {
          space.closeUnsafe()
          yield* space.await
        }
      })
    const taken = (throughSeq: number): void => {
      if (throughSeq > submittedSeq) submittedSeq = throughSeq
      metrics.buffered.set(rows.length)
      wake.openUnsafe()
    }

    const service: AnalyticsService = {
      newStage: () => {
        const staged = new RowLog()
        const stage: RecordStage & { readonly rows: RowLog } = {
          rows: staged,
          get size() { return staged.length },
          push: (r) => keyRow(r, staged, store.encodeInto(r, staged), false)
        }
        return stage
      },
      submitStage: (stage, throughSeq) =>
        Effect.gen(function*() {
          const staged = (stage as RecordStage & { readonly rows?: RowLog }).rows
          if (staged === undefined) return yield* Effect.die(new Error("submitStage: not a stage of this sink"))
          const wanted = (i: number) => wantedSeq(KINDS[staged.kind[i]!]!, staged.seq[i]!)
          let n = 0
          for (let i = 0; i < staged.length; i++) if (wanted(i)) n++
          yield* awaitSpace(n)
          for (let i = 0; i < staged.length; i++) if (wanted(i)) rows.copyRow(staged, i)
          staged.clear()
          taken(throughSeq)
        }),
      submit: (records, throughSeq) =>
        Effect.gen(function*() {
          // Seqs at or below submittedSeq were taken already (a restarted pipeline replays from
          // its snapshot); seqs at or below the store's watermarks are in the store.
          let n = 0
          for (const r of records) if (wantedSeq(r.kind, seqOf(r))) n++
          yield* awaitSpace(n)
          // Encoded now, straight into the buffer's rows (filtered again: a recovery while this
          // submit waited may have raised the watermarks).
          for (const r of records) if (wantedSeq(r.kind, seqOf(r))) keyRow(r, rows, store.encodeInto(r, rows), true)
          taken(throughSeq)
        }),
      awaitDurable,
      durableSeq: Effect.sync(() => durableSeq),
      status: Effect.sync(() => ({ connected, bufferedRecords: rows.length, durableSeq, submittedSeq, lastError })),
      pendingLedger: (userId) => {
        const at: Array<number> = []
        rows.rowsOfUser(keyOf(userId), at)
        const out: Array<LedgerItem> = []
        for (let j = at.length - 1; j >= 0; j--) {
          const e = store.ledgerItemOf(rows, at[j]!)
          if (e !== null && e.user_id === userId) out.push(e)
        }
        return out
      },
      pendingAward: (eventId) => {
        const key = keyOf(eventId)
        for (let i = rows.length - 1; i >= 0; i--) {
          if (rows.idKey[i] !== key || rows.kind[i] !== KIND_AWARD) continue
          const e = store.ledgerItemOf(rows, i)
          if (e !== null && !("kind" in e) && e.event_id === eventId) return e
        }
        return null
      },
      reproject: (change) =>
        exclusive.withPermit(Effect.sync(() => {
          change()
          generation++
          rows.clear()
          thresholds = null
          durableSeq = 0
          submittedSeq = 0
          recoverFirst = true
          wake.openUnsafe()
          space.openUnsafe()
        }), "a switch"),
      exclusively: (e) => exclusive.withPermit(e, "a projection load"),
      describe: () => {
        const h = holder
        return `sink durable through seq ${durableSeq}, submitted through ${submittedSeq}, ${rows.length} rows buffered, ${waiters.length} awaiting durability` +
          `${recoverFirst ? ", a recovery due" : ""}, ${connected ? "connected" : "not connected"}` +
          `${h === null ? "" : `, lock held by ${h.what} for ${Math.round((Date.now() - h.since) / 1000)} s`}${lastError === null ? "" : `, last error: ${lastError}`}`
      },
      eraseSeqs: (seqs) =>
        awaitDurable(seqs.reduce((m, s) => Math.max(m, s), 0)).pipe(
          Effect.andThen(exclusive.withPermit(store.eraseSeqs(seqs), "an erasure's deletion")),
          Effect.tapError((e) => Effect.sync(() => fail(e))),
          Effect.retry(backoff(o.retryInitialMs, o.retryMaxMs)),
          Effect.orDie // unreachable: the schedule retries forever
        )
    }
    return service
  })
/** An in-memory store for tests of the sink and of the pipeline: same watermark semantics. */
export const makeMemoryAnalyticsStore = () => {
  const records: AnalyticsRecord[] = []
  const writes: Array<{ readonly records: number; readonly throughSeq: number }> = []
  const maxSeq: Record<RecordKind, number> = { award: 0, correction: 0, level_up: 0, achievement: 0, rejection: 0 }
  let durableSeq = 0
  let failing: string | null = null
  const failure = (message: string): StoreFailure => ({ _tag: "MemoryStoreError", message, retryable: true })
  const take = (bytes: Uint8Array): AnalyticsRecord => JSON.parse(new TextDecoder().decode(bytes)) as AnalyticsRecord
  const writeRows = (rs: RowLog, count: number, throughSeq: number) =>
    Effect.suspend(() => {
      if (failing !== null) return Effect.fail(failure(failing))
      for (let i = 0; i < count; i++) {
        records.push(take(rs.bytesOf(i)))
        const kind = KINDS[rs.kind[i]!]!
        maxSeq[kind] = Math.max(maxSeq[kind], rs.seq[i]!)
      }
      durableSeq = Math.max(durableSeq, throughSeq)
      writes.push({ records: count, throughSeq })
      return Effect.void
    })
  const store: AnalyticsStore = {
    encode: (r) => {
      const bytes = new TextEncoder().encode(JSON.stringify(r))
      return { kind: r.kind, seq: seqOf(r), part: 0, bytes, start: 0, end: bytes.length }
    },
    encodeInto: (r, rs) => rs.append(KIND_CODE[r.kind], seqOf(r), 0, new TextEncoder().encode(JSON.stringify(r))),
    ledgerItemOf: (rs, i) => {
      const r = take(rs.bytesOf(i))
      return r.kind === "award" || r.kind === "correction" ? r.entry : null
    },
    recover: Effect.suspend(() =>
      failing !== null ? Effect.fail(failure(failing)) : Effect.succeed({ durableSeq, maxSeq: { ...maxSeq } })
    ),
    write: (rs: ReadonlyArray<EncodedRecord>, throughSeq) => writeRows(rowLogOf(rs), rs.length, throughSeq),
    writeRows,
    eraseSeqs: (seqs) =>
      Effect.sync(() => {
        for (let i = records.length - 1; i >= 0; i--) if (seqs.includes(seqOf(records[i]!))) records.splice(i, 1)
      })
  }
  return {
    store,
    records,
    writes,
    /** While set, every call fails with this message. */
    fail: (message: string | null) => { failing = message }
  }
}
