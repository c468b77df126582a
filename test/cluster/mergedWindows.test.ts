// The around-me window query of the partitioned gateway (src/adapters/nats/MergedWindows.ts
// makeWindowQueries) over real NATS request/reply, against scripted partition owners that each
// report the seq they have applied: the window equals one board's around-me (ranks, first_rank,
// total), the user's row and its partition's neighbours come from one answer, and the window's seq
// is the lowest seq the partitions had applied (a lagging partition holds it back: never a seq
// some partition had not applied; REST's merged pages say the same seq). An unranked user's window is empty at that watermark; privacy
// is the user's partition's answer.
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

/** A partition owner as actors/PartitionReads.ts answers `around` (with `userId` or `at`), `page` and `visibility`. */
const handler = (k: number) => (op: string, body: unknown): unknown => {
  const q = parts[k]!
  const b = body as { at?: PartEntry | null; r?: number; userId?: string }
  switch (op) {
    case "around": {
      const me = b.userId === undefined ? null : q.find((e) => e.userId === b.userId) ?? null
      const at = b.userId === undefined ? b.at! : me
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
  const page = await reads.page("global", "all", "all", null, 10)
  expect(page.seq).toBe(212)
  expect(page.total).toBe(board.length)
})
