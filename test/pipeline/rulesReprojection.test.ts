// `arena rules apply <file> --retroactive` against a running `arena serve` (ARCHITECTURE §10
// "Re-projection"): every event re-scored in a shadow state while the service serves the rules in
// force, then one switch (a new epoch on the WebSockets, the Postgres snapshot replaced, the
// projection current); a kill -9 while the re-projection is pending or built leaves exactly one
// projection in force in Postgres and on the boards, and the apply completes after the restart.
import * as fs from "node:fs"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { mintToken } from "../../src/gateway/auth/Auth.js"
import { JWT_SECRET, cleanup, freshNames, natsClient } from "../support/arena.js"
import type { Nats } from "../support/arena.js"
import { everyone, rulesApplyHarness, waitFor } from "../support/rulesApply.js"
import { openWs, wsUrl } from "../gateway/client.js"

const names = freshNames("rr")
let nats: Nats
const { rulesFile, publishRound, board, cli, serve, projections } = rulesApplyHarness(names, () => nats)

interface WsMsg { type: string; epoch: string; seq: number; entries?: Array<{ user_id: string; xp: number }> }

beforeAll(async () => { nats = await natsClient() })
afterAll(async () => {
  await nats?.nc.close()
  await cleanup(names)
})

describe("arena rules apply --retroactive", () => {
  it("re-scores every event in a shadow state, switches once (new epoch on WebSockets), and a kill -9 while pending or built leaves one projection in force", async () => {
    const fileC = rulesFile("ra-c", 20)
    const fileD = rulesFile("ra-d", 30)
    const fileE = rulesFile("ra-e", 40)
    let arena = await serve(fileC)
    await arena.waitForSeq(0)
    const before = (await projections())
    const head = await publishRound(3)
    await arena.waitForSeq(head)
    expect(await board(arena)).toEqual(everyone(3 * 20))
    const ws = await openWs<WsMsg>(wsUrl(arena.baseUrl, "/ws/leaderboard/global?window=all&limit=100"))
    const first = await ws.until((m) => m.find((x) => x.type === "snapshot"), 10_000, "first snapshot")

    // Retroactive apply of D: every event re-scored under D; one switch; a fresh snapshot with a new epoch.
    const applied = await cli(arena, [fileD, "--retroactive"])
    expect(applied.stderr).toContain("re-scoring the stream under rules ra-d")
    expect(applied.code).toBe(0)
    expect(applied.stdout).toContain(`projection ${before.current + 1} is in force`)
    await arena.waitForSeq(head)
    const rescored = await board(arena)
    expect(rescored).toEqual(everyone(3 * 30))
    const fresh = await ws.until((m) => m.find((x) => x.type === "snapshot" && x.epoch !== first.epoch), 10_000, "a snapshot with a new epoch")
    expect(Object.fromEntries(fresh.entries!.map((e) => [e.user_id, e.xp]))).toEqual(rescored)
    ws.ws.close()
    const rules = await (await fetch(`${arena.baseUrl}/v1/rules`)).json() as { version: string; effective_from_seq: number; history: Array<{ version: string; effective_from_seq: number }> }
    expect(rules).toMatchObject({ version: "ra-d", effective_from_seq: 1 })
    expect(rules.history.map((h) => [h.version, h.effective_from_seq])).toEqual([["ra-d", 1]])
    expect(await projections()).toMatchObject({ current: before.current + 1, shadow: 0, checkpointProjection: before.current + 1 })
    // The same version string with other content is refused before anything starts.
    const reused = await cli(arena, [rulesFile("ra-d", 31), "--retroactive"])
    expect(reused.code).toBe(1)
    expect(reused.stderr).toContain("409 rules_version_conflict")
    await arena.stop()

    // kill -9 while E's shadow build is pending (its shadow snapshot written, not yet built) and again once built:
    // each time Postgres holds exactly one projection in force, the boards show it, and the apply completes after a restart.
    const paused = { ARENA_REPROJECTION_STEP_PAUSE: "30s" }
    arena = await serve(fileC, paused)
    await arena.waitForSeq(head)
    const admin = await mintToken({ sub: "ops", scope: "admin", ttlSeconds: 600 }, JWT_SECRET)
    const post = await fetch(`${arena.baseUrl}/v1/rules/apply`, {
      method: "POST", headers: { "content-type": "application/json", authorization: `Bearer ${admin}` },
      body: JSON.stringify({ rules: JSON.parse(fs.readFileSync(fileE, "utf8")), retroactive: true })
    })
    expect(post.status).toBe(202)
    const e = before.current + 2
    expect(await post.json()).toMatchObject({ projection: e, state: "pending", version: "ra-e" })
    // A second apply while this one is open: 409.
    const second = await fetch(`${arena.baseUrl}/v1/rules/apply`, {
      method: "POST", headers: { "content-type": "application/json", authorization: `Bearer ${admin}` },
      body: JSON.stringify({ rules: JSON.parse(fs.readFileSync(fileC, "utf8")) })
    })
    expect(second.status).toBe(409)
    expect(((await second.json()) as { error: { code: string } }).error.code).toBe("apply_running")
    await waitFor("the shadow snapshot", async () => { const p = await projections(); return p.shadow === 1 && p })
    await arena.kill()
    expect(await projections()).toMatchObject({ current: e - 1, checkpointProjection: e - 1 })
    expect((await projections()).states.at(-1)).toEqual([e, "pending"])

    arena = await serve(fileC, paused)
    await arena.waitForSeq(head)
    expect(await board(arena)).toEqual(rescored) // D still in force
    expect(arena.log).toContain(`re-projection ${e} (rules ra-e) was pending when the service stopped: building it again`)
    await waitFor("built", async () => (await projections()).states.at(-1)?.[1] === "built")
    expect(await board(arena)).toEqual(rescored)
    await arena.kill()
    expect(await projections()).toMatchObject({ current: e - 1, checkpointProjection: e - 1 })

    arena = await serve(fileC)
    await waitFor("switched", async () => (await projections()).states.at(-1)?.[1] === "switched")
    await arena.waitForSeq(head)
    expect(await board(arena)).toEqual(everyone(3 * 40))
    expect(await projections()).toMatchObject({ current: e, shadow: 0, checkpointProjection: e })
    const head2 = await publishRound(1)
    await arena.waitForSeq(head2)
    expect(await board(arena)).toEqual(everyone(4 * 40))
    await arena.kill()
    arena = await serve(fileC)
    await arena.waitForSeq(head2)
    expect(await board(arena)).toEqual(everyone(4 * 40))
    const last = await (await fetch(`${arena.baseUrl}/v1/rules/apply`, { headers: { authorization: `Bearer ${admin}` } })).json()
    expect(last).toMatchObject({ projection: e, state: "switched", version: "ra-e" })
    expect(await arena.stop()).toBe(0)
  })
})
