// JetStream calls that a clustered nats-server (2.9.10 on loopback, seen by a prototype and here)
// answers unreliably while it settles, made safe to retry: creating a replicated stream may time
// out although the stream gets created (so retry and accept an identical existing one), and a
// publish may answer "jetstream not enabled" or 503 no responders during a leader election.
import type { JetStreamManager, StreamConfig, StreamInfo } from "@nats-io/jetstream"
import { Effect } from "effect"
import { backoff } from "../../domain/Backoff.js"
import { classifyNats } from "./NatsError.js"

/** An answer a settling cluster gives that a retry can cure (nothing is known to have happened). */
export const isSettling = (e: unknown): boolean => {
  const msg = `${(e as { message?: string } | undefined)?.message ?? String(e)}`
  const code = String((e as { code?: unknown } | undefined)?.code ?? "")
  return /jetstream (is )?not enabled|system temporarily unavailable|no responders|timeout|timed out|no suitable peers|insufficient resources|stream leader|leader not|temporarily unavailable|CONNECTION_REFUSED|disconnect|closed/i.test(msg) ||
    code === "503" || code === "TIMEOUT"
}

const sameSet = (a: ReadonlyArray<string> | undefined, b: ReadonlyArray<string> | undefined) =>
  [...(a ?? [])].sort().join(",") === [...(b ?? [])].sort().join(",")

/**
 * Create `cfg` or accept the stream that already has its name and subjects (a retry after a create
 * whose reply was lost finds its own stream). Retries settling answers with back-off for `budgetMs`.
 */
export const ensureStream = (jsm: JetStreamManager, cfg: Partial<StreamConfig> & { name: string }, budgetMs = 30_000) =>
  Effect.tryPromise({
    try: async (): Promise<StreamInfo> => {
      const deadline = Date.now() + budgetMs
      let delay = 100
      for (;;) {
        try {
          return await jsm.streams.add(cfg)
        } catch (e) {
          const found = await jsm.streams.info(cfg.name).catch(() => null)
          if (found !== null) {
            if (!sameSet(found.config.subjects, cfg.subjects)) {
              throw new Error(`stream ${cfg.name} exists with subjects ${found.config.subjects?.join(",")}, not ${cfg.subjects?.join(",")}`)
            }
            return found
          }
          if (!isSettling(e) || Date.now() > deadline) throw e
        }
        await new Promise((r) => setTimeout(r, delay))
        delay = Math.min(delay * 2, 2_000)
      }
    },
    catch: (e) => classifyNats(e, `creating stream ${cfg.name}`)
  })

/** Retry an idempotent JetStream call while the cluster answers with settling errors (publishes carry a msg id). */
export const retrySettling = <A, E>(effect: Effect.Effect<A, E>, times = 20) =>
  effect.pipe(Effect.retry({ schedule: backoff(50, 1_000), times, while: (e) => isSettling((e as { cause?: unknown }).cause ?? e) }))
