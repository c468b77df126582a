// The around-me window query of the partitioned gateway (src/adapters/nats/MergedWindows.ts
// makeWindowQueries) over real NATS request/reply, against scripted partition owners that each
// report the seq they have applied: the window equals one board's around-me (ranks, first_rank,
// total), the user's row and its partition's neighbours come from one answer, and the window's seq
// is the lowest seq the partitions had applied (a lagging partition holds it back: never a seq
// some partition had not applied; REST's merged pages say the same seq). An unranked user's window is empty at that watermark; privacy
// is the user's partition's answer. REST's around-me (MergedReads.around, groupAround) reads the
// same way: the user's row and its partition's neighbours in one answer, then the other partitions
// once each (no separate read of the row or of the sizes), and answers what the window shows.
import { randomBytes } from "node:crypto"
import { connect } from "@nats-io/transport-node"
import type { NatsConnection, Subscription } from "@nats-io/transport-node"
import { afterAll, beforeAll, expect, it } from "vitest"
import { makeMergedReads } from "../../src/adapters/nats/MergedReads.js"
import { makeWindowQueries } from "../../src/adapters/nats/MergedWindows.js"
import { servePartition } from "../../src/adapters/nats/PartitionQueries.js"
import type { PartEntry } from "../../src/domain/MergedBoard.js"
import { compareEntries } from "../../src/domain/MergedBoard.js"
import type { BoardKey } from "../../src/domain/Model.js"
import { partitionOfUser } from "../../src/domain/Partition.js"
import type { PartitionRow } from "../../src/ports/MergedReads.js"
import { NATS_URL } from "../support/arena.js"

const P = 4
const PREFIX = `t${randomBytes(4).toString("hex")}`
const key: BoardKey = { board: "global", window: "all", period: "all" }

// 40 users with ties in xp, distinct seqs; u7 private.
const board: Array<PartitionRow> = Array.from({ length: 40 }, (_, i) => ({
  userId: `u${i}`, xp: (i * 13) % 17, seq: 1 + ((i * 31) % 97), username: `u${i}`, level: 1, ...(i === 7 ? { private: true as const } : {})
}))
const global = [...board].sort(compareEntries)
const parts: Array<Array<PartitionRow>> = Array.from({ length: P }, () => [])
for (const e of board) parts[partitionOfUser(e.userId, P)]!.push(e)
for (const p of parts) p.sort(compareEntries)
const applied = [500, 500, 500, 500]

/** Every query the partitions were asked: partition, op, and whether by `userId` or at a key. */
const asked: Array<{ k: number; op: string; by: "userId" | "at" }> = []

/**
 * A partition owner as actors/PartitionReads.ts answers `around` and `groupAround` (with `userId`
 * or `at`; a group's: among the members it is sent), `page` and `visibility`.
 */
const handler = (k: number) => (op: string, body: unknown): unknown => {
  const b = body as { at?: PartEntry | null; r?: number; userId?: string; members?: Array<string> }
  asked.push({ k, op, by: b.userId === undefined ? "at" : "userId" })
  const q = op === "groupAround" ? parts[k]!.filter((e) => b.members!.includes(e.userId)) : parts[k]!
  switch (op) {
    case "around":
    case "groupAround": {
      const me = b.userId === undefined ? null : q.find((e) => e.userId === b.userId) ?? null
      const at = b.userId === undefined ? b.at ?? null : me
      if (at === null) return { better: [], worse: [], betterCount: 0, me, seq: applied[k], size: q.length }
      const better = q.filter((v) => compareEntries(v, at) < 0)
      return { better: better.slice(Math.max(0, better.length - b.r!)), worse: q.filter((v) => compareEntries(v, at) > 0).slice(0, b.r), betterCount: better.length, me, seq: applied[k], size: q.length }
    }
    case "page": return { entries: [], throughCursor: 0, size: q.length, seq: applied[k], period: "all" }
    case "visibility": {
      const u = board.find((e) => e.userId === (body as { userId: string }).userId)
      return u === undefined || partitionOfUser(u.userId, P) !== k ? null : { private: u.private === true }
    }
    default: throw new Error(`unknown op ${op}`)
  }
}

let nc: NatsConnection
const subs: Array<Subscription> = []
beforeAll(async () => {
  nc = await connect({ servers: NATS_URL })
  for (let k = 0; k < P; k++) subs.push(servePartition(nc, PREFIX, k, handler(k)))
  await nc.flush()
})
afterAll(async () => {
  for (const s of subs) s.unsubscribe()
  await nc?.close()
})

it("a window equals one board's around-me, at the lowest seq the partitions had applied", async () => {
  const q = makeWindowQueries(nc, PREFIX, P)
  expect(new Set(board.map((e) => partitionOfUser(e.userId, P))).size).toBe(P)
  for (const [i, radius] of [[0, 3], [5, 2], [20, 5], [39, 4], [12, 0]] as const) {
    const user = global[i]!
    applied.splice(0, P, 500, 500, 500, 500)
    // The partition of the window's top neighbour lags: it holds the watermark back.
    const lagging = partitionOfUser(global[Math.max(0, i - 1)]!.userId, P)
    applied[lagging] = 123
    const a = await q.window(key, { user_id: user.userId, radius })
    const want = global.slice(Math.max(0, i - radius), i + radius + 1).map((e) => ({
      rank: global.indexOf(e) + 1, user_id: e.userId, username: e.username, xp: e.xp, level: 1, ...(e.private === true ? { private: true } : {})
    }))
    expect(a.view.entries).toEqual(want)
    expect(a.view.around).toEqual({ user_id: user.userId, radius, first_rank: want[0]!.rank })
    expect(a.view.seq).toBe(123)
    expect(a.view.total).toBe(board.length)
    expect(a.userPrivate).toBe(user.private === true)
  }
})

it("an unranked user's window is empty at the watermark; privacy is the user's partition's", async () => {
  const q = makeWindowQueries(nc, PREFIX, P)
  applied.splice(0, P, 900, 77, 900, 900)
  const a = await q.window(key, { user_id: "nobody", radius: 2 })
  expect(a.view).toEqual({ key, seq: 77, total: board.length, entries: [], around: { user_id: "nobody", radius: 2, first_rank: null } })
  expect(a.userPrivate).toBeNull()
  expect(await q.isPrivate("u7")).toBe(true)
  expect(await q.isPrivate("u8")).toBe(false)
  expect(await q.isPrivate("nobody")).toBe(false)
})

it("REST's merged pages answer at the same low watermark (ARCHITECTURE §6: every event ≤ seq is reflected)", async () => {
  const reads = makeMergedReads(nc, PREFIX, P)
  applied.splice(0, P, 640, 640, 212, 640)
  const page = (await reads.page("global", "all", "all", null, 10))!
  expect(page.seq).toBe(212)
  expect(page.total).toBe(board.length)
})

it("REST's around-me reads the user's row and its partition's neighbours in one answer, then each other partition once, and answers the window", async () => {
  const reads = makeMergedReads(nc, PREFIX, P)
  const q = makeWindowQueries(nc, PREFIX, P)
  const rowOf = (e: PartitionRow, rank: number) => ({ rank, user_id: e.userId, username: e.username, xp: e.xp, level: 1, ...(e.private === true ? { private: true } : {}) })
  // A group: every third user of the board and one without a score, on every partition.
  const members = [...global.filter((_, i) => i % 3 === 0).map((e) => e.userId), "ghost"]
  const groupBoard = global.filter((e) => members.includes(e.userId))
  expect(new Set(groupBoard.map((e) => partitionOfUser(e.userId, P))).size).toBe(P)
  for (const [i, radius] of [[0, 3], [6, 2], [21, 5], [39, 4]] as const) {
    const user = global[i]!
    const k = partitionOfUser(user.userId, P)
    applied.splice(0, P, 500, 500, 500, 500)
    applied[(k + 1) % P] = 321
    asked.length = 0
    const r = (await reads.around("global", "all", "all", user.userId, radius))!
    // One read of the user's partition (its row and neighbours), one of each other partition at that key.
    expect(asked.filter((a) => a.k === k)).toEqual([{ k, op: "around", by: "userId" }])
    expect(asked.filter((a) => a.k !== k).sort((a, b) => a.k - b.k)).toEqual(Array.from({ length: P }, (_, j) => j).filter((j) => j !== k).map((j) => ({ k: j, op: "around", by: "at" })))
    const want = global.slice(Math.max(0, i - radius), i + radius + 1).map((e) => rowOf(e, global.indexOf(e) + 1))
    expect(r).toEqual({ key, seq: 321, total: board.length, user: rowOf(user, i + 1), entries: want })
    expect(r.entries).toEqual((await q.window(key, { user_id: user.userId, radius })).view.entries)
    // The same user on the group board (a member: ranked among the members; otherwise no rank).
    asked.length = 0
    const g = (await reads.groupAround("group:team", members, "all", "all", user.userId, radius))!
    expect(asked.filter((a) => a.k === k)).toEqual([{ k, op: "groupAround", by: "userId" }])
    expect(asked).toHaveLength(P)
    const gi = groupBoard.indexOf(user)
    const gkey: BoardKey = { board: "group:team", window: "all", period: "all" }
    expect(g).toEqual(gi < 0
      ? { key: gkey, seq: 321, total: groupBoard.length, user: null, entries: [] }
      : { key: gkey, seq: 321, total: groupBoard.length, user: rowOf(user, gi + 1), entries: groupBoard.slice(Math.max(0, gi - radius), gi + radius + 1).map((e) => rowOf(e, groupBoard.indexOf(e) + 1)) })
    expect(g.entries).toEqual((await q.window(gkey, { user_id: user.userId, radius }, members)).view.entries)
  }
  // An unranked user: no rank, the board's total at the watermark, from the same P reads.
  asked.length = 0
  applied.splice(0, P, 900, 900, 900, 45)
  expect(await reads.around("global", "all", "all", "nobody", 2)).toEqual({ key, seq: 45, total: board.length, user: null, entries: [] })
  expect(asked).toHaveLength(P)
  expect(await reads.groupAround("group:team", members, "all", "all", "ghost", 2)).toEqual({ key: { board: "group:team", window: "all", period: "all" }, seq: 45, total: groupBoard.length, user: null, entries: [] })
})
