// The owner's side of /ws/users in partitioned mode (docs/scaling.md "User notifications"): the live
// feed of one owned partition's pipeline. Gateways list the users their sockets watch on
// `arena.user.want.<k>` (every second, and at once on a new socket or on this owner's hello); those
// users are the pipeline's watchedUsers, so it builds notifications for them only (Processor.ts:
// nothing is built, serialized or published for anyone else), and each goes as JSON to
// `arena.user.<k>.<user token>` on core NATS. A user nobody listed for WANT_TTL_MS is dropped.
// rank_changed is not made here: the partition's boards rank its own users only (the gateway asks
// merged ranks instead, MergedUserFeed.ts). Views and rollovers go nowhere (the mergers pull them).
import type { NatsConnection } from "@nats-io/transport-node"
import { partitionOfUser, userOfToken, userToken } from "../../domain/Partition.js"
import { parseWant, userHelloSubject, userNoteSubject, userWantSubject } from "../../domain/UserSubjects.js"
import type { LiveFeedSink } from "../../ports/LiveFeed.js"

/** A watched user stays watched this long after the last list naming them (gateways list every second). */
export const WANT_TTL_MS = 10_000
const SWEEP_MS = 1_000

export interface PartitionUserFeed {
  readonly feed: LiveFeedSink
  readonly close: () => void
}

const validUser = (id: string): boolean => userOfToken(userToken(id)) === id

/** Opens partition k's feed: call before the pipeline starts, so that its replay already knows the watched users. */
export const openPartitionUserFeed = (nc: NatsConnection, partitions: number, k: number): PartitionUserFeed => {
  const wantedAt = new Map<string, number>()
  const watchedUsers = new Set<string>()
  const sub = nc.subscribe(userWantSubject(k), {
    callback: (err, m) => {
      if (err !== null) return
      const now = Date.now()
      for (const id of parseWant(m.string())) {
        if (!validUser(id) || partitionOfUser(id, partitions) !== k) continue
        wantedAt.set(id, now)
        watchedUsers.add(id)
      }
    }
  })
  const sweep = setInterval(() => {
    const cut = Date.now() - WANT_TTL_MS
    for (const [id, at] of wantedAt) {
      if (at >= cut) continue
      wantedAt.delete(id)
      watchedUsers.delete(id)
    }
  }, SWEEP_MS)
  sweep.unref()
  // Gateways answer with their lists for k at once (the subscription above is already registered:
  // the server sees it before this publish, as both go in order on this connection).
  nc.publish(userHelloSubject(k))
  const noop = (): void => undefined
  return {
    feed: {
      emitView: noop,
      emitRollover: noop,
      watchedUsers,
      rankChanges: false,
      notify: (notes) => { for (const n of notes) nc.publish(userNoteSubject(k, n.user_id), JSON.stringify(n)) }
    },
    close: () => {
      clearInterval(sweep)
      sub.unsubscribe()
      watchedUsers.clear()
      wantedAt.clear()
    }
  }
}
