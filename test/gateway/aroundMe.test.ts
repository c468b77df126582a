// Live around-me on the real service (`arena serve`: NATS JetStream → actors → boards → uWS):
// /ws/leaderboard/{board}/around/{user_id} sends the window of ranks around the user, then deltas
// that a client folds (applyWindowDelta) into exactly what REST's around-me answers, through the user
// climbing, others passing them, a user with no rank yet, a resume, and bad input refused before
// the upgrade with a 400 naming the field.
import { expect, it } from "vitest"
import type { RankedEntry } from "../../src/ports/ReadModel.js"
import type { AroundMessage } from "../../src/gateway/protocol/Messages.js"
import { useArena } from "../support/arena.js"
import { api, openWs, wsUrl } from "./client.js"
import type { WsReader } from "./client.js"
import { event } from "./harness.js"
import { foldWindow } from "./wsProtocol.js"

const { arena, postEvents: post } = useArena("around")


interface Around { seq: number; total: number; user: RankedEntry; entries: Array<RankedEntry> }
const rest = async (path: string): Promise<Around> => {
  const r = await api<Around>(arena.baseUrl, "GET", path)
  expect(r.status).toBe(200)
  return r.json
}

/**
 * Once the service shows `seq` (the caller waited for it), REST's around-me is final: the socket's
 * folded window must come to equal it (a change that leaves the window as it was sends nothing,
 * so the last message's seq may stay below). The fold throws on any break in the chain.
 */
const matchesRest = async (ws: WsReader<AroundMessage>, seq: number, restPath: string): Promise<void> => {
  const want = await rest(restPath)
  expect(want.seq).toBeGreaterThanOrEqual(seq)
  const same = (m: ReadonlyArray<AroundMessage>) => m.length > 0 && JSON.stringify(foldWindow(m).entries) === JSON.stringify(want.entries)
  await ws.until(same, 10_000, `window equal to REST at seq ${want.seq}: ${JSON.stringify(want.entries)}`)
  expect(foldWindow(ws.messages).firstRank).toBe(want.entries[0]!.rank)
}

it("streams the window around a user as it moves: the user climbing, others passing them", async () => {
  // 12 users with distinct scores: u0 has 1 event … u11 has 12.
  const setup: Array<Record<string, unknown>> = []
  for (let i = 0; i < 12; i++) for (let k = 0; k <= i; k++) setup.push(event(`u${i}`))
  await arena.waitForSeq(await post(setup))
  const path = "/ws/leaderboard/global/around/u3?radius=2"
  const ws = await openWs<AroundMessage>(wsUrl(arena.baseUrl, path))
  const narrow = await openWs<AroundMessage>(wsUrl(arena.baseUrl, "/ws/leaderboard/global/around/u3?radius=0"))
  const snap = await ws.nth(0)
  expect(snap).toMatchObject({ type: "snapshot", board: "global", window: "all", user_id: "u3", radius: 2 })
  expect(snap.type === "snapshot" ? snap.entries.length : -1).toBe(5)
  await matchesRest(ws, 0, "/v1/leaderboards/global/users/u3?radius=2")

  // u3 climbs past u4..u7, one wave at a time.
  let last = 0
  for (let w = 0; w < 4; w++) {
    last = await post([event("u3"), event("u3")])
    await arena.waitForSeq(last)
    await matchesRest(ws, last, "/v1/leaderboards/global/users/u3?radius=2")
  }
  // Others pass u3 (and some below move without reaching the window).
  for (const u of ["u0", "u1", "u2"]) for (let k = 0; k < 12; k++) last = await post([event(u)])
  await arena.waitForSeq(last)
  await matchesRest(ws, last, "/v1/leaderboards/global/users/u3?radius=2")
  await matchesRest(narrow, last, "/v1/leaderboards/global/users/u3?radius=0")
  const folded = foldWindow(ws.messages)
  expect(folded.snapshots).toBe(1)
  expect(folded.deltas).toBeGreaterThanOrEqual(5)

  // Resume after the last applied message: nothing lost, the next change chains onto it.
  const m = ws.messages[ws.messages.length - 1]!
  ws.close()
  const resumed = await openWs<AroundMessage>(wsUrl(arena.baseUrl, `${path}&since=${m.seq}&epoch=${m.epoch}`))
  last = await post([event("u3"), event("u3"), event("u3")])
  await arena.waitForSeq(last)
  const d = await resumed.nth(0)
  expect(d).toMatchObject({ type: "delta", prev_seq: m.seq, user_id: "u3" })
  expect(foldWindow(resumed.messages, foldWindow(ws.messages)).entries).toEqual((await rest("/v1/leaderboards/global/users/u3?radius=2")).entries)
  resumed.close()
  narrow.close()
})

it("starts empty for a user with no rank and fills the window once they score, per window", async () => {
  const ws = await openWs<AroundMessage>(wsUrl(arena.baseUrl, "/ws/leaderboard/global/around/newcomer?window=day&radius=1"))
  expect(await ws.nth(0)).toMatchObject({ type: "snapshot", window: "day", user_id: "newcomer", first_rank: null, entries: [] })
  const last = await post([event("newcomer"), event("newcomer")])
  await arena.waitForSeq(last)
  await matchesRest(ws, last, "/v1/leaderboards/global/users/newcomer?window=day&radius=1")
  expect(foldWindow(ws.messages).entries.some((e) => e.user_id === "newcomer")).toBe(true)
  ws.close()
})

it("refuses bad around-me upgrades with a JSON 400 naming the field", async () => {
  const cases: Array<[string, string]> = [
    ["global/around/u3?radius=51", "query.radius"], ["global/around/u3?radius=-1", "query.radius"], ["global/around/u3?radius=x", "query.radius"],
    ["global/around/u3?limit=5", "query.limit"], ["Global/around/u3", "path.board"], ["global/around/bad%20user", "path.user_id"],
    ["global/around/u3?window=year", "query.window"], ["global/around/u3?since=5", "query.epoch"]
  ]
  for (const [q, field] of cases) {
    const err = await openWs(wsUrl(arena.baseUrl, `/ws/leaderboard/${q}`)).then((w) => { w.close(); return null }, (e: { status: number; body: string }) => e)
    expect(err, q).not.toBeNull()
    expect([q, err!.status, (JSON.parse(err!.body) as { error: { details: Array<{ path: string }> } }).error.details[0]!.path]).toEqual([q, 400, field])
  }
})
