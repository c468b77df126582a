// Publishing a workload into JetStream with a bounded window of acks in flight, retrying each
// message (same Nats-Msg-Id, so JetStream stores it once) across NATS outages, bounded in time.
import type { JetStreamClient } from "@nats-io/jetstream"
import type { Item } from "../../oracle/workload.js"

export interface PublishStats { stored: number; duplicates: number; retries: number; lastSeq: number }

export const publishItems = async (
  js: JetStreamClient,
  subject: string,
  items: ReadonlyArray<Item>,
  opts: { inFlight?: number; giveUpAfterMs?: number; stats?: PublishStats } = {}
): Promise<PublishStats> => {
  const stats = opts.stats ?? { stored: 0, duplicates: 0, retries: 0, lastSeq: 0 }
  const giveUp = opts.giveUpAfterMs ?? 120_000
  const one = async (it: Item): Promise<void> => {
    const t0 = Date.now()
    for (let attempt = 0; ; attempt++) {
      try {
        const ack = await js.publish(subject, it.data, { ...(it.msgId === undefined ? {} : { msgID: it.msgId }), timeout: 5_000 })
        if (ack.duplicate) stats.duplicates++
        else stats.stored++
        stats.lastSeq = Math.max(stats.lastSeq, ack.seq)
        return
      } catch (e) {
        if (Date.now() - t0 > giveUp) throw new Error(`publish gave up after ${attempt + 1} attempts: ${String(e)}`)
        stats.retries++
        await new Promise((r) => setTimeout(r, Math.min(1_000, 50 * 2 ** Math.min(attempt, 5))))
      }
    }
  }
  const pending = new Set<Promise<void>>()
  for (const it of items) {
    const p = one(it)
    pending.add(p)
    void p.finally(() => pending.delete(p)).catch(() => undefined)
    if (pending.size >= (opts.inFlight ?? 500)) await Promise.race(pending)
  }
  await Promise.all(pending)
  return stats
}
