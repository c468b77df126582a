// The gateway's side of /ws/users in partitioned mode (docs/scaling.md "User notifications"): a
// NotificationPort for the single process's UserFeed, fed by the owners' core-NATS subjects instead
// of a pipeline. The first socket watching a user subscribes to `arena.user.<k>.<user token>` (one
// subscription per user, shared by all its sockets, released with the last) and names the user on
// `arena.user.want.<k>` at once; every second each partition's watched users are listed again, and
// an owner's hello (`arena.user.hello.<k>`, on taking k) is answered with k's list at once.
// rank_changed: an owner ranks its own partition only, so after the user's own notifications (their
// XP moved) the gateway reads the user's merged ranks (`ranksOf`: the profile's ranks, one check in
// flight per user) and sends rank_changed for each board whose rank differs from the last it sent
// (prev_rank null the first time). A rank moved only by other users' events is not noticed here.
import type { NatsConnection, Subscription } from "@nats-io/transport-node"
import { partitionOfUser } from "../../domain/Partition.js"
import { USER_HELLO_WILDCARD, helloPartition, userNoteSubject, userWantSubject, wantBodies } from "../../domain/UserSubjects.js"
import type { Window } from "../../domain/Model.js"
import type { NotificationPort, UserNotification } from "../../ports/LiveFeed.js"
import { isPartitionsUnavailable } from "../../ports/MergedReads.js"

const WANT_EVERY_MS = 1_000

/** One of a user's merged ranks (a board instance the user is on). */
export interface UserRank {
  readonly board: string
  readonly window: Window
  readonly period: string
  readonly rank: number
}

interface Watched {
  readonly partition: number
  refs: number
  readonly sub: Subscription
  /** Last rank sent per `board|window|period`. */
  readonly ranks: Map<string, number>
  /** A rank check is running; `again`: the user's XP moved meanwhile (the seq to check at). */
  checking: boolean
  again: number | null
}

export interface MergedUserFeed extends NotificationPort {
  /** Users with a subscription (diagnostics, tests). */
  readonly watched: () => number
  readonly close: () => void
}

export const makeMergedUserFeed = (
  nc: NatsConnection,
  partitions: number,
  log: { readonly warn: (m: string) => void },
  /** The user's merged ranks (null: unknown user); absent: no rank_changed. */
  ranksOf?: (userId: string) => Promise<ReadonlyArray<UserRank> | null>
): MergedUserFeed => {
  const listeners = new Set<(n: UserNotification) => void>()
  const watched = new Map<string, Watched>()
  let closed = false

  const want = (k: number, ids: ReadonlyArray<string>) => {
    if (closed || ids.length === 0) return
    for (const body of wantBodies(ids)) nc.publish(userWantSubject(k), body)
  }
  const byPartition = (): Map<number, Array<string>> => {
    const out = new Map<number, Array<string>>()
    for (const [id, w] of watched) {
      let ids = out.get(w.partition)
      if (ids === undefined) out.set(w.partition, (ids = []))
      ids.push(id)
    }
    return out
  }
  const wants = setInterval(() => { for (const [k, ids] of byPartition()) want(k, ids) }, WANT_EVERY_MS)
  wants.unref()
  const hello = nc.subscribe(USER_HELLO_WILDCARD, {
    callback: (err, m) => {
      if (err !== null) return
      const k = helloPartition(m.subject)
      if (k !== null) want(k, byPartition().get(k) ?? [])
    }
  })

  const deliver = (userId: string, data: string) => {
    let n: UserNotification
    try {
      n = JSON.parse(data) as UserNotification
    } catch (e) {
      return log.warn(`user notification for ${userId}: not JSON (${e instanceof Error ? e.message : String(e)}); dropped`)
    }
    // The subject names the user; a body naming another would reach the wrong sockets.
    if (n.user_id !== userId) return log.warn(`user notification on ${userId}'s subject names ${String(n.user_id)}; dropped`)
    for (const l of listeners) l(n)
    const w = watched.get(userId)
    if (w !== undefined && (n.type === "xp_awarded" || n.type === "xp_corrected")) checkRanks(userId, w, n.seq)
  }

  const checkRanks = (userId: string, w: Watched, seq: number): void => {
    if (ranksOf === undefined) return
    if (w.checking) { w.again = seq; return }
    w.checking = true
    ranksOf(userId).then((ranks) => {
      if (watched.get(userId) !== w) return
      for (const r of ranks ?? []) {
        const key = `${r.board}|${r.window}|${r.period}`
        const prev = w.ranks.get(key)
        if (prev === r.rank) continue
        w.ranks.set(key, r.rank)
        const n: UserNotification = { type: "rank_changed", user_id: userId, seq, board: r.board, window: r.window, period: r.period, rank: r.rank, prev_rank: prev ?? null }
        for (const l of listeners) l(n)
      }
    }, (e: unknown) => {
      // A partition without an owner (a takeover): the user's next award checks again.
      if (!isPartitionsUnavailable(e)) log.warn(`ranks of ${userId}: ${e instanceof Error ? e.message : String(e)}`)
    }).finally(() => {
      w.checking = false
      const next = w.again
      w.again = null
      if (next !== null && watched.get(userId) === w && !closed) checkRanks(userId, w, next)
    })
  }

  return {
    onUserNotification: (listener) => {
      listeners.add(listener)
      return () => { listeners.delete(listener) }
    },
    watchUser: (userId) => {
      let w = watched.get(userId)
      if (w === undefined) {
        const partition = partitionOfUser(userId, partitions)
        const sub = nc.subscribe(userNoteSubject(partition, userId), {
          callback: (err, m) => { if (err === null) deliver(userId, m.string()) }
        })
        watched.set(userId, (w = { partition, refs: 0, sub, ranks: new Map(), checking: false, again: null }))
        want(partition, [userId])
      }
      w.refs++
      let released = false
      return () => {
        if (released) return
        released = true
        const cur = watched.get(userId)
        if (cur === undefined || --cur.refs > 0) return
        watched.delete(userId)
        cur.sub.unsubscribe()
      }
    },
    watched: () => watched.size,
    close: () => {
      closed = true
      clearInterval(wants)
      hello.unsubscribe()
      for (const w of watched.values()) w.sub.unsubscribe()
      watched.clear()
      listeners.clear()
    }
  }
}
