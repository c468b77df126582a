// `arena produce`: publish synthetic events (the demo producer of the quick start). In partitioned
// mode (ARENA_PARTITIONS) each event goes to its user's `arena.xp.events.<user token>`, which the
// servers' mapping puts on the user's partition.
import { Effect } from "effect"
import type { ArenaConfig } from "../Config.js"
import type { Log } from "../observability/Log.js"
import { openNats } from "../adapters/nats/Nats.js"
import { provisionStreams, streamNames } from "../adapters/nats/Streams.js"
import { INGEST_PREFIX, ingestSubject } from "../domain/Partition.js"
import { makeGenerator, produce } from "./Producer.js"

const int = (v: unknown, d: number) => (typeof v === "string" && /^\d+$/.test(v) ? Number(v) : d)

export const produceCommand = async (config: ArenaConfig, log: Log, v: Record<string, string | boolean | undefined>): Promise<number> => {
  const demo = v.demo === true
  const count = v.count !== undefined ? int(v.count, 1000) : demo ? Number.POSITIVE_INFINITY : 1000
  const rate = int(v.rate, demo ? 20 : 0)
  const seed = int(v.seed, Date.now() % 1_000_000)
  const gen = makeGenerator({ users: int(v.users, demo ? 200 : 10_000), agents: int(v.agents, demo ? 8 : 20), seed, idPrefix: `p${seed}-${Date.now()}` })
  let stop = false
  process.once("SIGTERM", () => { stop = true })
  process.once("SIGINT", () => { stop = true })
  const program = Effect.gen(function*() {
    const nats = yield* openNats(config.natsUrl, "arena-producer")
    yield* provisionStreams(nats.jsm, config)
    const partitioned = config.partitions !== undefined
    const subject = partitioned ? (ev: Record<string, unknown>) => ingestSubject(String(ev.user_id)) : streamNames(config).eventSubject
    const target = partitioned ? `${INGEST_PREFIX}<user token> (partitioned mode, P = ${config.partitions})` : streamNames(config).eventSubject
    log.info(`producing ${Number.isFinite(count) ? count : "unbounded"} events to ${target}${rate > 0 ? ` at ${rate}/s` : ""}`)
    const t0 = Date.now()
    const sent = yield* Effect.promise(() => produce(nats.js, subject, gen, {
      count, rate, inFlight: 1000, stop: () => stop,
      onProgress: (n) => log.info(`sent ${n} (${Math.round(n / ((Date.now() - t0) / 1000))}/s)`)
    }))
    log.info(`sent ${sent} events in ${Date.now() - t0} ms`)
  })
  const exit = await Effect.runPromiseExit(Effect.scoped(program))
  if (exit._tag === "Failure") { log.error(String(exit.cause)); return 1 }
  return 0
}
