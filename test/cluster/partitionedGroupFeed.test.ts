// The live group feeds on the partitioned gateway (ARCHITECTURE §7, §9, §11; issue 16) on a real
// 3-node nats-server cluster with P = 4: two `arena serve --role processor` processes and one
// `--role gateway`, all real child processes. Clients on the gateway follow a group board whose
// members live on all four partitions (/ws/leaderboard/group:<id>?limit=100 and ?limit=3) and a
// member's window on it (…/around/{user_id}?radius=1) while waves of events through the gateway move
// members and outsiders: after each wave every fold (snapshot, then deltas) equals REST's group
// board (or around-me) on the gateway, the chains are gapless (the folds throw on a gap or an epoch
// change without a snapshot), and every frame's seq is honest (each named row shows at least the XP
// of its user's events stored at or before that seq). A client resuming with since/epoch gets
// deltas only; a membership change (PUT /v1/groups) shows in the feeds; a member turning private is
// anonymous in them (a snapshot, and no later frame names them); a feed opened on a group that does
// not exist yet starts empty and fills once the group is created. On the old code the upgrade
// answered 501.
import { randomBytes } from "node:crypto"
import { afterAll, beforeAll, expect, it } from "vitest"
import { partitionOfUser } from "../../src/domain/Partition.js"
import { mintToken } from "../../src/gateway/auth/Auth.js"
import type { AroundMessage, LeaderboardMessage } from "../../src/gateway/protocol/Messages.js"
import type { RankedEntry } from "../../src/ports/ReadModel.js"
import { clusterWorld } from "../support/clusterWorld.js"
import { gatewayClient } from "../support/gatewayClient.js"
import { partitionedMembers } from "../support/partitionedMembers.js"
import { feedWaves } from "../support/feedWaves.js"
import type { WsReader } from "../gateway/client.js"
import { fold, foldWindow } from "../gateway/wsProtocol.js"
import type { ClientState } from "../gateway/wsProtocol.js"

const P = 4
const world = clusterWorld("pf", { partitions: P })
const { cluster, id, databaseUrl: dbUrl, dataDir } = world
const SECRET = randomBytes(48).toString("base64url")

const { procs, start, kill9 } = partitionedMembers({ cluster, partitions: P, databaseUrl: dbUrl, dataDir, env: { ARENA_JWT_SECRET: SECRET, ARENA_AUTH: "on" } })
const client = gatewayClient(procs, id)
const { call, until, setPort } = client
const { xp, sockets, post: postAs, owed, follow } = feedWaves(client, id)

beforeAll(async () => { await world.up() })

afterAll(async () => {
  for (const s of sockets) s.ws.terminate()
  for (const p of procs) await kill9(p)
  await world.down()
})

interface Board { seq: number; total: number; entries: Array<RankedEntry> }

it("P = 4: a group board's live feeds on the gateway equal REST's group board after each wave, resume by deltas, follow membership changes and keep private members anonymous", async () => {
  await start("proc-a", "processor", 1)
  await start("proc-b", "processor", 2)
  setPort((await start("gw", "gateway", 3)).port)
  const producer = await mintToken({ sub: "producer", scope: "events:write", ttlSeconds: 3600 }, SECRET)
  const owner = await mintToken({ sub: "owner", scope: "", ttlSeconds: 3600 }, SECRET)
  await until("every partition ready", async () => ((await call("GET", "/readyz", null)).status === 200 ? true : undefined), 60_000)

  const post = (counts: Record<string, number>) => postAs(producer, counts)
  let members: Array<string> = ["g0", "g1", "g2", "g3", "g4", "g5", "g6", "g7", "ghost"]
  expect(new Set(members.map((u) => partitionOfUser(u, P))).size).toBe(P)
  const setGroup = async (list: Array<string>) => {
    members = list
    const r = await call("PUT", "/v1/groups/team", owner, { name: "Team", members: list })
    expect([200, 201]).toContain(r.status)
  }
  await setGroup(members)

  /** Once REST's group board shows every event posted, it is final: every fold must come to equal it. */
  const settle = async (what: string): Promise<Board> => {
    const want = JSON.stringify(members.flatMap((m) => (xp.has(m) ? [xp.get(m)!] : [])).sort((a, b) => b - a))
    const rest = await until(`${what}: REST's group board showing every event`, async () => {
      const b = await call<Board>("GET", "/v1/leaderboards/group:team?limit=100", null)
      return b.status === 200 && JSON.stringify(b.body.entries.map((e) => e.xp)) === want ? b.body : undefined
    })
    await top.until((m) => m.length > 0 && JSON.stringify(fold(m, 100).entries) === JSON.stringify(rest.entries), 30_000, `${what}: the fold equal to REST ${JSON.stringify(rest.entries)}`)
    await top3.until((m) => m.length > 0 && JSON.stringify(fold(m, 3).entries) === JSON.stringify(rest.entries.slice(0, 3)), 30_000, `${what}: the limit-3 fold equal to REST's first 3`)
    return rest
  }
  /** The member's window on the group board equal to REST's group around-me (settle first). */
  const settleWindow = async (user: string, what: string) => {
    const rest = await until(`${what}: REST group around-me of ${user}`, async () => {
      const r = await call<Board & { user: RankedEntry }>("GET", `/v1/leaderboards/group:team/users/${user}?radius=1`, null)
      return r.status === 200 ? r.body : undefined
    })
    await around.until((m) => m.length > 0 && JSON.stringify(foldWindow(m).entries) === JSON.stringify(rest.entries), 30_000, `${what}: the window equal to REST ${JSON.stringify(rest.entries)}`)
    expect(foldWindow(around.messages).firstRank).toBe(rest.entries[0]!.rank)
  }
  // Wave 1: every member but ghost scores, with XP ties across partitions (g0/g1, g4/g5); outsiders too.
  await post({ g0: 3, g1: 3, g2: 7, g3: 1, g4: 5, g5: 5, g6: 2, g7: 9, o0: 8, o1: 4 })
  const top = await follow<LeaderboardMessage>("/ws/leaderboard/group:team?limit=100")
  const top3 = await follow<LeaderboardMessage>("/ws/leaderboard/group:team?limit=3")
  const around = await follow<AroundMessage>("/ws/leaderboard/group:team/around/g3?radius=1")
  expect(await top.nth(0, 30_000)).toMatchObject({ type: "snapshot", board: "group:team", window: "all", period: "all" })
  expect(await around.nth(0, 30_000)).toMatchObject({ type: "snapshot", board: "group:team", user_id: "g3", radius: 1 })
  const first = await settle("wave 1")
  expect(first.entries.map((e) => e.user_id)).not.toContain("o0")
  await settleWindow("g3", "wave 1")

  // A group that does not exist yet: an empty snapshot, then its board once it is created (docs/websocket.md).
  const later = await follow<LeaderboardMessage>("/ws/leaderboard/group:later?limit=10")
  expect(await later.nth(0, 30_000)).toMatchObject({ type: "snapshot", board: "group:later", entries: [] })
  expect((await call("PUT", "/v1/groups/later", owner, { name: "Later", members: ["g2", "o0", "o1"] })).status).toBe(201)
  const laterBoard = await until("REST's board of the new group", async () => {
    const b = await call<Board>("GET", "/v1/leaderboards/group:later", null)
    return b.status === 200 && b.body.total === 3 ? b.body : undefined
  })
  await later.until((m) => JSON.stringify(fold(m, 10).entries) === JSON.stringify(laterBoard.entries), 30_000, "the new group's fold equal to REST")

  // Wave 2: g3 climbs from last to the middle, g7 moves, an outsider moves (not on the group board).
  await post({ g3: 6, g7: 1, o0: 3 })
  await settle("wave 2")
  await settleWindow("g3", "wave 2")
  // Wave 3: several members across partitions at once.
  await post({ g0: 1, g5: 2, g6: 4, g2: 1 })
  const third = await settle("wave 3")
  await settleWindow("g3", "wave 3")
  expect(fold(top.messages, 100).deltas).toBeGreaterThanOrEqual(2)
  expect(fold(top.messages, 100).snapshots).toBe(1)
  expect(foldWindow(around.messages).snapshots).toBe(1)

  // A resume from an earlier frame: the deltas since then (the gateway's ring), no snapshot. From a
  // frame after the first whose seq no delta left unmoved (a resume at such a seq gets a snapshot).
  const stalled = new Set(top.messages.flatMap((m) => (m.type === "delta" && m.prev_seq === m.seq ? [m.seq] : [])))
  const frames = () => JSON.stringify(top.messages.map((m) => m.type === "delta" ? [m.prev_seq, m.seq] : ["snapshot", m.seq]))
  const at = top.messages.findIndex((m, i) => i >= 1 && i < top.messages.length - 1 && !stalled.has(m.seq))
  expect(at, `a frame to resume from: ${frames()}`).toBeGreaterThanOrEqual(0)
  const resumeFrom: ClientState = fold(top.messages.slice(0, at + 1), 100)
  const resumed = await follow<LeaderboardMessage>(`/ws/leaderboard/group:team?limit=100&since=${resumeFrom.seq}&epoch=${encodeURIComponent(resumeFrom.epoch)}`)
  await resumed.until((m) => m.length > 0 && JSON.stringify(fold(m, 100, resumeFrom).entries) === JSON.stringify(third.entries), 30_000, "the resumed fold equal to REST")
  expect(resumed.messages.filter((m) => m.type !== "delta"), `since ${resumeFrom.seq}: ${frames()}`).toEqual([])

  // A membership change (PUT /v1/groups): the feeds show the new members' board, no new snapshot needed.
  await setGroup(["g0", "g3", "g6", "g7", "o0", "o1"])
  const changed = await settle("membership change")
  expect(changed.entries.map((e) => e.user_id).sort()).toEqual(["g0", "g3", "g6", "g7", "o0", "o1"])
  await settleWindow("g3", "membership change")
  await post({ o1: 5, g6: 1 })
  const afterChange = await settle("a wave after the change")

  // A member turns private: anonymous in the feeds (as REST shows them), and no frame names them after.
  const priv = afterChange.entries.find((e) => e.user_id !== "g3" && Math.abs(e.rank - afterChange.entries.find((x) => x.user_id === "g3")!.rank) === 1)!.user_id!
  const s = await call<{ visibility: string }>("PUT", `/v1/users/${priv}/settings`, await mintToken({ sub: priv, scope: "", ttlSeconds: 3600 }, SECRET), { visibility: "private" })
  expect(s).toMatchObject({ status: 202, body: { visibility: "private" } })
  await until(`${priv} anonymous on REST's group board`, async () => {
    const r = await call<Board>("GET", "/v1/leaderboards/group:team", null)
    return r.body.entries.some((e) => e.user_id === null) ? true : undefined
  })
  const hidden = await settle(`${priv} private`)
  await settleWindow("g3", `${priv} private`)
  expect(hidden.entries.some((e) => e.user_id === priv)).toBe(false)
  for (const ws of [top, around] as Array<WsReader<LeaderboardMessage | AroundMessage>>) {
    const from = ws.messages.map((m) => m.type).lastIndexOf("snapshot")
    expect(from).toBeGreaterThan(0)
    expect(JSON.stringify(ws.messages.slice(from))).not.toContain(`"user_id":"${priv}"`)
  }

  // Every frame's seq is honest: each named row shows at least its user's events stored up to that seq.
  let st: ClientState | null = null
  for (const m of top.messages) {
    st = fold([m], 100, st)
    for (const e of st.entries) {
      if (e.user_id === null) continue
      expect(e.xp, `${e.user_id} in the frame at seq ${st.seq}`).toBeGreaterThanOrEqual(owed(e.user_id, st.seq))
    }
  }
}, 240_000)
