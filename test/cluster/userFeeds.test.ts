// Both sides of /ws/users in partitioned mode on a real NATS server, without processes around them:
// the owner's feed (adapters/nats/PartitionUserFeed.ts) and the gateway's (MergedUserFeed.ts). A
// user watched by two sockets is one subscription and one want; the owner takes the want as its
// pipeline's watchedUsers (only users of its partition, only valid ids) and each notification it
// publishes reaches the gateway once; after the last release nothing is delivered. rank_changed:
// one merged-rank read in flight per user, the awards that came meanwhile folded into one more read,
// each board's frames chained by prev_rank.
import { randomBytes } from "node:crypto"
import { connect } from "@nats-io/transport-node"
import type { NatsConnection } from "@nats-io/transport-node"
import { afterAll, beforeAll, expect, it } from "vitest"
import { makeMergedUserFeed } from "../../src/adapters/nats/MergedUserFeed.js"
import type { UserRank } from "../../src/adapters/nats/MergedUserFeed.js"
import { openPartitionUserFeed } from "../../src/adapters/nats/PartitionUserFeed.js"
import { partitionOfUser } from "../../src/domain/Partition.js"
import { userWantSubject } from "../../src/domain/UserSubjects.js"
import type { UserNotification } from "../../src/ports/LiveFeed.js"
import { NATS_URL, sleep } from "../support/arena.js"

// Partition numbers no other test uses on the shared server: the subjects are `arena.user.<k>.…`.
const P = 1000 + Math.floor(Math.random() * 24)
const run = randomBytes(3).toString("hex")
const log = { warn: (m: string) => { throw new Error(`unexpected warning: ${m}`) } }

let nc: NatsConnection
beforeAll(async () => { nc = await connect({ servers: NATS_URL }) })
afterAll(async () => { await nc?.close() })

const until = async (what: string, f: () => boolean): Promise<void> => {
  for (const end = Date.now() + 10_000; !f();) {
    if (Date.now() > end) throw new Error(`${what}: not reached`)
    await sleep(10)
  }
}

/** Two user ids of one partition, and one of another. */
const usersOf = () => {
  const u = `u.${run}@0`
  const k = partitionOfUser(u, P)
  let v = ""
  for (let i = 1; v === ""; i++) if (partitionOfUser(`u.${run}@${i}`, P) === k) v = `u.${run}@${i}`
  return { k, u, v, other: [1, 2].map((i) => `o.${run}@${i}`).find((x) => partitionOfUser(x, P) !== k)! }
}

const award = (user_id: string, seq: number): UserNotification =>
  ({ type: "xp_awarded", user_id, seq, entry: { seq, user_id } } as unknown as UserNotification)

it("the owner builds notes for the users gateways watch, and each reaches the gateway once, through one subscription per user", async () => {
  const { k, u, v, other } = usersOf()
  const owner = openPartitionUserFeed(nc, P, k)
  const gw = makeMergedUserFeed(nc, P, log)
  const got: Array<UserNotification> = []
  gw.onUserNotification((n) => got.push(n))
  const wants: Array<string> = []
  const spy = nc.subscribe(userWantSubject(k), { callback: (_e, m) => { wants.push(m.string()) } })
  await nc.flush()
  try {
    const r1 = gw.watchUser(u)
    const r2 = gw.watchUser(u)
    expect(gw.watched()).toBe(1)
    await until("u watched by the owner", () => owner.feed.watchedUsers.has(u))
    expect(wants.filter((w) => w === u)).toHaveLength(1)
    expect(owner.feed.rankChanges).toBe(false)

    // A want naming a user of another partition, or no valid id, is not taken.
    nc.publish(userWantSubject(k), [other, "bad id", "x~y", v].join("\n"))
    await until("v watched", () => owner.feed.watchedUsers.has(v))
    expect([...owner.feed.watchedUsers].sort()).toEqual([u, v].sort())

    owner.feed.notify([award(u, 1), award(u, 2)])
    await until("both notes", () => got.length >= 2)
    r1()
    owner.feed.notify([award(u, 3)])
    await until("the third", () => got.length >= 3)
    expect(got.map((n) => [n.user_id, n.seq])).toEqual([[u, 1], [u, 2], [u, 3]])

    // The last release unsubscribes: u's next note is not delivered (v's, published after it on the
    // same connection, arrives after it would have).
    r2()
    expect(gw.watched()).toBe(0)
    const rv = gw.watchUser(v)
    await nc.flush()
    owner.feed.notify([award(u, 4), award(v, 5)])
    await until("v's note", () => got.some((n) => n.user_id === v))
    expect(got.map((n) => n.seq)).toEqual([1, 2, 3, 5])
    rv()
  } finally {
    spy.unsubscribe()
    gw.close()
    owner.close()
  }
})

it("rank_changed: one merged-rank read in flight per user; awards meanwhile make one more read; frames chain by prev_rank", async () => {
  const { k, u } = usersOf()
  const owner = openPartitionUserFeed(nc, P, k)
  let reads = 0
  let release: (() => void) | null = null
  let rank = 5
  const ranksOf = async (): Promise<ReadonlyArray<UserRank>> => {
    reads++
    await new Promise<void>((r) => { release = r })
    return [{ board: "global", window: "all", period: "all", rank }, { board: "agent:cursor", window: "all", period: "all", rank: 1 }]
  }
  const gw = makeMergedUserFeed(nc, P, log, ranksOf)
  const got: Array<UserNotification> = []
  gw.onUserNotification((n) => got.push(n))
  try {
    const r = gw.watchUser(u)
    await until("u watched by the owner", () => owner.feed.watchedUsers.has(u))
    owner.feed.notify([award(u, 10)])
    await until("the first read", () => reads === 1 && release !== null)
    owner.feed.notify([award(u, 11), award(u, 12)])
    await until("both awards", () => got.filter((n) => n.type === "xp_awarded").length === 3)
    expect(reads).toBe(1)
    release!()
    await until("the read after", () => reads === 2)
    rank = 3
    release!()
    await until("global's second frame", () => got.filter((n) => n.type === "rank_changed").length === 3)
    const ranks = got.filter((n): n is Extract<UserNotification, { type: "rank_changed" }> => n.type === "rank_changed").map((n) => [n.board, n.seq, n.rank, n.prev_rank])
    expect(ranks).toEqual([["global", 10, 5, null], ["agent:cursor", 10, 1, null], ["global", 12, 3, 5]])
    expect(reads).toBe(2)
    r()
  } finally {
    gw.close()
    owner.close()
  }
})
