// The live around-me feed on the partitioned gateway (ARCHITECTURE §7, §9, §11; issue 16) on a real
// 3-node nats-server cluster with P = 4: two `arena serve --role processor` processes and one
// `--role gateway`, all real child processes. A client on the gateway follows a user's window
// (/ws/leaderboard/global/around/{user}?radius=2) while events through the gateway move that user
// and its neighbours, who live on different partitions: its fold (snapshot, then deltas with
// first_rank) equals REST's around-me on the gateway after every wave, the chain is gapless (the
// fold throws on a gap or an epoch change without a snapshot) and every frame's seq is honest
// (each named row shows at least the XP of its user's events stored at or before that seq). A
// client resuming with since/epoch gets deltas only; a window opened before its user has a rank
// starts empty (first_rank null) and fills once they do; a neighbour turning private is anonymous
// in the window (a snapshot), and their own window is refused 404 (as is the followed user's once
// they turn private); a bad radius is refused 400 before the upgrade.
import { randomBytes } from "node:crypto"
import { afterAll, beforeAll, expect, it } from "vitest"
import { partitionOfUser } from "../../src/domain/Partition.js"
import { mintToken } from "../../src/gateway/auth/Auth.js"
import type { AroundMessage } from "../../src/gateway/protocol/Messages.js"
import type { RankedEntry } from "../../src/ports/ReadModel.js"
import { clusterWorld } from "../support/clusterWorld.js"
import { gatewayClient } from "../support/gatewayClient.js"
import { partitionedMembers } from "../support/partitionedMembers.js"
import { feedWaves } from "../support/feedWaves.js"
import { openWs } from "../gateway/client.js"
import type { WsReader } from "../gateway/client.js"
import { foldWindow } from "../gateway/wsProtocol.js"
import type { WindowState } from "../gateway/wsProtocol.js"

const P = 4
const world = clusterWorld("pa", { partitions: P })
const { cluster, id, databaseUrl: dbUrl, dataDir } = world
const SECRET = randomBytes(48).toString("base64url")

const { procs, start, kill9 } = partitionedMembers({ cluster, partitions: P, databaseUrl: dbUrl, dataDir, env: { ARENA_JWT_SECRET: SECRET, ARENA_AUTH: "on" } })
const client = gatewayClient(procs, id)
const { call, until, setPort, port } = client
const { xp, sockets, post: postAs, owed, follow: open } = feedWaves(client, id)

beforeAll(async () => { await world.up() })

afterAll(async () => {
  for (const s of sockets) s.ws.terminate()
  for (const p of procs) await kill9(p)
  await world.down()
})

/** The upgrade's HTTP status when refused (0 when it opened); a 503 (a partition handing over) is asked again. */
const refusal = (p: string): Promise<number> => until(`${p} answered`, () => openWs(`ws://127.0.0.1:${port()}${p}`).then((r) => { r.ws.terminate(); return 0 }, (e: { status?: number }) =>
  e.status === 503 ? undefined : e.status ?? -1))

interface Around { seq: number; total: number; entries: Array<RankedEntry> }
interface Board { total: number; entries: Array<{ user_id: string | null; xp: number }> }

it("P = 4: a user's live window on the gateway follows moves across partitions, equals REST around-me, resumes, and keeps private users private", async () => {
  await start("proc-a", "processor", 1)
  await start("proc-b", "processor", 2)
  const gw = await start("gw", "gateway", 3)
  setPort(gw.port)
  const producer = await mintToken({ sub: "producer", scope: "events:write", ttlSeconds: 3600 }, SECRET)
  await until("every partition ready", async () => ((await call("GET", "/readyz", null)).status === 200 ? true : undefined), 60_000)

  const post = (counts: Record<string, number>) => postAs(producer, counts)
  /** Once the gateway's board shows every event posted, REST's around-me is final: the fold must come to equal it. */
  const settle = async (ws: WsReader<AroundMessage>, user: string, radius: number, what: string): Promise<Around> => {
    const want = [...xp.values()].sort((a, b) => b - a)
    await until(`${what}: the board showing every event`, async () => {
      const b = await call<Board>("GET", "/v1/leaderboards/global?limit=100", null)
      return JSON.stringify(b.body.entries.map((e) => e.xp)) === JSON.stringify(want) ? true : undefined
    })
    const rest = await until(`${what}: REST around-me`, async () => {
      const r = await call<Around>("GET", `/v1/leaderboards/global/users/${encodeURIComponent(user)}?radius=${radius}`, null)
      return r.status === 200 ? r : undefined
    })
    await ws.until((m) => m.length > 0 && JSON.stringify(foldWindow(m).entries) === JSON.stringify(rest.body.entries), 30_000, `${what}: the fold equal to REST ${JSON.stringify(rest.body.entries)}`)
    expect(foldWindow(ws.messages).firstRank).toBe(rest.body.entries[0]!.rank)
    return rest.body
  }
  const follow = (p: string) => open<AroundMessage>(p)

  // Ten users, a0 with 1 event … a9 with 10, spread over the partitions.
  const users = Array.from({ length: 10 }, (_, i) => `a${i}`)
  await post(Object.fromEntries(users.map((u, i) => [u, i + 1])))
  expect(new Set(users.slice(2, 8).map((u) => partitionOfUser(u, P))).size).toBeGreaterThanOrEqual(3)

  // Bad input is refused before the upgrade, as in the single process.
  expect(await refusal("/ws/leaderboard/global/around/a4?radius=51")).toBe(400)

  const ws = await follow("/ws/leaderboard/global/around/a4?radius=2")
  const fresh = await follow("/ws/leaderboard/global/around/newbie?radius=1")
  const snap = await ws.nth(0, 30_000)
  expect(snap).toMatchObject({ type: "snapshot", board: "global", window: "all", user_id: "a4", radius: 2 })
  await settle(ws, "a4", 2, "the first window")
  expect(await fresh.nth(0, 30_000)).toMatchObject({ type: "snapshot", user_id: "newbie", radius: 1, first_rank: null, entries: [] })

  // a4 climbs past a5..a7; then a5 and a8 pass it back; then users far below move without reaching the window.
  await post({ a4: 4 })
  const afterClimb = await settle(ws, "a4", 2, "a4 climbing")
  expect(afterClimb.entries.find((e) => e.user_id === "a4")!.rank).toBe(3)
  const climbed = ws.messages.length
  await post({ a5: 5, a8: 2 })
  await settle(ws, "a4", 2, "a5 and a8 passing a4")
  const framesBefore = ws.messages.length
  await post({ a0: 1, a1: 1 })
  await settle(ws, "a4", 2, "moves below the window")
  // Nothing in the window changed: no frame (the window is recomputed, its chain waits).
  expect(ws.messages.length).toBe(framesBefore)
  await post({ a4: 1, a6: 3, a3: 7 })
  const moved = await settle(ws, "a4", 2, "a4, a6 and a3 moving together")
  expect(foldWindow(ws.messages).deltas).toBeGreaterThanOrEqual(3)
  expect(foldWindow(ws.messages).snapshots).toBe(1)

  // A resume from an earlier frame: the deltas since then (the gateway's ring), no snapshot. From a
  // frame after a4's climb whose seq no delta left unmoved (a window changed at an unmoved watermark
  // is held for a higher one, MergedWindows.ts, so that is nearly every frame; a resume at a seq some
  // delta did not move is answered with a snapshot, DeltaRing.since).
  const stalled = new Set(ws.messages.flatMap((m) => (m.type === "delta" && m.prev_seq === m.seq ? [m.seq] : [])))
  const frames = (n: number) => JSON.stringify(ws.messages.slice(0, n).map((m) => m.type === "delta" ? [m.prev_seq, m.seq] : ["snapshot", m.seq]))
  const at = ws.messages.findIndex((m, i) => i >= climbed - 1 && i < ws.messages.length - 1 && !stalled.has(m.seq))
  expect(at, `a frame to resume from: ${frames(ws.messages.length)}`).toBeGreaterThanOrEqual(0)
  const resumeFrom = foldWindow(ws.messages.slice(0, at + 1))
  const resumed = await follow(`/ws/leaderboard/global/around/a4?radius=2&since=${resumeFrom.seq}&epoch=${encodeURIComponent(resumeFrom.epoch)}`)
  await resumed.until((m) => m.length > 0 && JSON.stringify(foldWindow(m, resumeFrom).entries) === JSON.stringify(moved.entries), 30_000, "the resumed fold equal to REST")
  expect(resumed.messages.filter((m) => m.type !== "delta"), `since ${resumeFrom.seq}: ${frames(ws.messages.length)}`).toEqual([])

  // A user with no rank when their window opened: it fills once they have one.
  await post({ newbie: 6 })
  await settle(fresh, "newbie", 1, "newbie ranked")
  expect(foldWindow(fresh.messages).firstRank).not.toBeNull()

  // A neighbour turns private: anonymous in a4's window (as REST shows it), and their own window is refused.
  const neighbour = moved.entries.find((e) => e.user_id !== "a4")!.user_id
  const s = await call<{ visibility: string }>("PUT", `/v1/users/${encodeURIComponent(neighbour)}/settings`, await mintToken({ sub: neighbour, scope: "", ttlSeconds: 3600 }, SECRET), { visibility: "private" })
  expect(s).toMatchObject({ status: 202, body: { visibility: "private" } })
  await until(`${neighbour} anonymous in REST's window`, async () => {
    const r = await call<Around>("GET", "/v1/leaderboards/global/users/a4?radius=2", null)
    return r.body.entries.some((e) => e.user_id === null) ? true : undefined
  })
  const hidden = await settle(ws, "a4", 2, `${neighbour} private`)
  expect(hidden.entries.some((e) => e.user_id === neighbour)).toBe(false)
  // From the snapshot that made them anonymous on, no frame names them.
  const from = ws.messages.map((m) => m.type).lastIndexOf("snapshot")
  expect(from).toBeGreaterThan(0)
  expect(JSON.stringify(ws.messages.slice(from))).not.toContain(`"user_id":"${neighbour}"`)
  expect(await refusal(`/ws/leaderboard/global/around/${encodeURIComponent(neighbour)}?radius=2`)).toBe(404)
  expect(await refusal("/ws/leaderboard/global/around/a4?radius=2")).toBe(0)
  // The followed user turns private: REST's around-me answers 404, and so does a new window of theirs.
  expect((await call("PUT", "/v1/users/a4/settings", await mintToken({ sub: "a4", scope: "", ttlSeconds: 3600 }, SECRET), { visibility: "private" })).status).toBe(202)
  await until("a4 private in REST", async () => ((await call("GET", "/v1/leaderboards/global/users/a4?radius=2", null)).status === 404 ? true : undefined))
  expect(await refusal("/ws/leaderboard/global/around/a4?radius=2")).toBe(404)

  // Every frame's seq is honest: each named row shows at least its user's events stored up to that seq.
  let st: WindowState | null = null
  for (const m of ws.messages) {
    st = foldWindow([m], st)
    for (const e of st.entries) {
      if (e.user_id === null) continue
      expect(e.xp, `${e.user_id} in the frame at seq ${st.seq}`).toBeGreaterThanOrEqual(owed(e.user_id, st.seq))
    }
  }
}, 180_000)
