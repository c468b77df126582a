// Ticks (ARCHITECTURE §9 "periods close on stream time", docs/scaling.md "Ticks"): while it holds
// the coordinator lease, a processor publishes an empty message on `arena.xp.p.<k>.$tick` into
// every partition once a second, with Nats-Msg-Id `tick/<k>/<unix second>`. A partition's stream
// time then advances with the stream even when none of its users sends anything, so its day, week
// and month periods roll over and close as a busy partition's do. Ticks are stored like events,
// so a replay reaches the same stream time at the same seqs; the msg id lets a new coordinator
// (or a deposed one that has not noticed yet) publish the same second's tick without storing it
// twice. A failed publish is not retried: the next second's tick carries a later time anyway.
import type { JetStreamClient } from "@nats-io/jetstream"
import { Clock, Effect } from "effect"
import { tickMsgId, tickSubject } from "../../domain/Partition.js"

/** One tick a second per partition. */
export const TICK_INTERVAL_MS = 1_000
/** How long a tick's publish may wait for its ack; a round never takes much longer than this. */
const TICK_ACK_TIMEOUT_MS = 2_000
/** While ticks keep failing, the warning is repeated this often. */
const WARN_EVERY_MS = 60_000

const EMPTY = new Uint8Array(0)

/** Publishes one message with a Nats-Msg-Id; resolves when stored (or found a duplicate), rejects otherwise. */
export type TickPublish = (subject: string, msgId: string) => Promise<unknown>

export interface TickRound {
  readonly second: number
  readonly failed: number
  /** The first failure's message, when any failed. */
  readonly error: string | null
}

/** Second `second`'s tick into each of `partitions` partitions, all at once; counts the failures. */
export const tickRound = (publish: TickPublish, partitions: number, second: number): Promise<TickRound> => {
  const all: Array<Promise<unknown>> = []
  for (let k = 0; k < partitions; k++) all.push(publish(tickSubject(k), tickMsgId(k, second)))
  return Promise.allSettled(all).then((rs) => {
    let failed = 0
    let error: string | null = null
    for (const r of rs) {
      if (r.status === "fulfilled") continue
      failed++
      error ??= r.reason instanceof Error ? r.reason.message : String(r.reason)
    }
    return { second, failed, error }
  })
}

export const jetStreamTickPublish = (js: JetStreamClient): TickPublish =>
  (subject, msgId) => js.publish(subject, EMPTY, { msgID: msgId, timeout: TICK_ACK_TIMEOUT_MS })

export interface TickerLog {
  info(line: string): void
  warn(line: string): void
}

/**
 * Ticks every partition at each wall-clock second until interrupted (the coordinator runs it only
 * while it holds its lease). A round that outlasts its second skips the seconds it missed.
 */
export const runTicker = (publish: TickPublish, partitions: number, log: TickerLog) =>
  Effect.gen(function*() {
    log.info(`coordinator: ticking ${partitions} partition(s) once a second (stream time for idle partitions)`)
    let failingSince: number | null = null
    let warnedAt = 0
    for (;;) {
      const now = yield* Clock.currentTimeMillis
      const second = Math.floor(now / TICK_INTERVAL_MS)
      const r = yield* Effect.promise(() => tickRound(publish, partitions, second))
      const after = yield* Clock.currentTimeMillis
      if (r.failed > 0) {
        if (failingSince === null || after - warnedAt >= WARN_EVERY_MS) {
          log.warn(`coordinator: ${r.failed} of ${partitions} tick(s) for second ${second} not stored (${r.error ?? "?"}); idle partitions' stream time waits for the next ones`)
          warnedAt = after
        }
        failingSince ??= after
      } else if (failingSince !== null) {
        log.info(`coordinator: ticks stored again after ${Math.round((after - failingSince) / 1000)} s of failures`)
        failingSince = null
      }
      yield* Effect.sleep(Math.max(0, (second + 1) * TICK_INTERVAL_MS - after))
    }
  })
