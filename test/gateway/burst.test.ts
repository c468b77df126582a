// Gapless deltas on the real service (ARCHITECTURE §2.6): a burst of 10k events through JetStream
// while clients hold several subscriptions; each client's snapshot + deltas (applied with the
// reference applyDelta, prev_seq chain checked) equals the REST top-N at the end.
import { afterAll, beforeAll, expect, it } from "vitest"
import type { RankedEntry } from "../../src/ports/ReadModel.js"
import type { LeaderboardMessage } from "../../src/gateway/protocol/Messages.js"
import { makeGenerator } from "../../src/cli/Producer.js"
import { ArenaProcess, cleanup, freshNames, natsClient, publishAll } from "../support/arena.js"
import type { Nats } from "../support/arena.js"
import { api, openWs, wsUrl } from "./client.js"
import { fold } from "./wsProtocol.js"

const names = freshNames("burst")
const arena = new ArenaProcess(names)
let nats: Nats

beforeAll(async () => {
  nats = await natsClient()
  await arena.start()
  await arena.waitForSeq(0)
})
afterAll(async () => {
  await arena.stop()
  await nats.nc.close()
  await cleanup(names)
})

it("keeps every subscriber's view equal to REST after a 10k-event burst, with an unbroken prev_seq chain", async () => {
  const subs = [
    { path: "/ws/leaderboard/global?window=all&limit=10", board: "global", window: "all", limit: 10 },
    { path: "/ws/leaderboard/global?window=day&limit=100", board: "global", window: "day", limit: 100 },
    { path: "/ws/leaderboard/agent:claude-code?window=week&limit=25", board: "agent:claude-code", window: "week", limit: 25 }
  ]
  const readers = await Promise.all(subs.map((s) => openWs<LeaderboardMessage>(wsUrl(arena.baseUrl, s.path))))
  for (const r of readers) expect((await r.nth(0)).type).toBe("snapshot")
  const gen = makeGenerator({ users: 500, agents: 5, seed: 99, idPrefix: "burst" })
  const acks = await publishAll(nats.js, names.subject, Array.from({ length: 10_000 }, (_, i) => gen(i)))
  const head = Math.max(...acks.map((a) => a.seq))
  await arena.waitForSeq(head)
  for (const [i, s] of subs.entries()) {
    const page = (await api<{ seq: number; entries: Array<RankedEntry> }>(arena.baseUrl, "GET", `/v1/leaderboards/${s.board}?window=${s.window}&limit=${s.limit}`)).json
    const r = readers[i]!
    // The last batch may touch the board without changing its top-N (then no delta carries page.seq):
    // wait for the folded view to equal REST, never for a particular seq.
    const same = (m: ReadonlyArray<LeaderboardMessage>): boolean => JSON.stringify(fold(m, s.limit).entries) === JSON.stringify(page.entries)
    await r.until((m) => same(m), 15_000, `${s.path} to equal REST at seq ${page.seq}`)
    const state = fold(r.messages, s.limit) // throws on any gap or epoch change without a snapshot
    expect(state.seq).toBeLessThanOrEqual(page.seq)
    expect(state.snapshots).toBe(1)
    expect(state.deltas).toBeGreaterThan(0)
    expect(state.entries).toEqual(page.entries)
    r.close()
  }
})
