// `arena rules apply <file> --retroactive` against a running `arena serve` (ARCHITECTURE §10
// "Re-projection"): every event re-scored in a shadow state while the service serves the rules in
// force, then one switch (a new epoch on the WebSockets, the Postgres snapshot replaced, the
// projection current); a kill -9 while the re-projection is pending or built leaves exactly one
// projection in force in Postgres and on the boards, and the apply completes after the restart.
import * as fs from "node:fs"
import * as path from "node:path"
import { DEFAULT_RULES_DOCUMENT } from "../../src/domain/DefaultRules.js"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { mintToken } from "../../src/gateway/auth/Auth.js"
import { ArenaProcess, JWT_SECRET, cleanup, freshNames, natsClient, publishAll } from "../support/arena.js"
import type { Nats } from "../support/arena.js"
import { everyone, rulesApplyHarness, waitFor } from "../support/rulesApply.js"
import { openWs, wsUrl } from "../gateway/client.js"

const names = freshNames("rr")
let nats: Nats
const { rulesFile, publishRound, board, cli, serve, projections } = rulesApplyHarness(names, () => nats)
// A second database and data dir over the stream of `mixed` (below): a fresh replay to compare with.
const mixedNames = freshNames("rm")
const freshNamesOver = freshNames("rf")
const mixed = rulesApplyHarness(mixedNames, () => nats)

interface WsMsg { type: string; epoch: string; seq: number; entries?: Array<{ user_id: string; xp: number }> }

beforeAll(async () => { nats = await natsClient() })
afterAll(async () => {
  await nats?.nc.close()
  await cleanup(names)
  await cleanup(mixedNames)
  await cleanup(freshNamesOver)
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
    // kill -9 while the build runs (no shadow snapshot yet, or one being written): nothing switched.
    await arena.kill()
    expect(await projections()).toMatchObject({ current: e - 1, checkpointProjection: e - 1 })
    expect((await projections()).states.at(-1)).toEqual([e, "pending"])
    arena = await serve(fileC, paused)
    await arena.waitForSeq(head)
    expect(await board(arena)).toEqual(rescored)
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
    // kill -9 right after the switch committed: the next start loads the switched-in snapshot.
    await arena.kill()
    expect(await projections()).toMatchObject({ current: e, shadow: 0, checkpointProjection: e })
    arena = await serve(fileC)
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

  it("equals a fresh replay of the whole stream under the new rules (mixed actions, multipliers, days, agents; events arriving during the build)", async () => {
    const ACTIONS = ["task_completed", "error_resolved", "speed_bonus", "complex_api_design", "performance_optimization", "mission_architecture", "mission_security"]
    const MULTS = [[], ["first_try"], ["pair_session"], ["hackathon"], ["first_try", "hackathon"]]
    let k = 0
    const batch = (n: number) => {
      const now = Date.now()
      const events = []
      for (let i = 0; i < n; i++, k++) {
        events.push({
          event_id: `${mixedNames.id}-m${k}`, user_id: `m${(k * 7) % 23}`, username: `M ${(k * 7) % 23}`, agent_name: ["coder", "tester", "planner"][k % 3]!,
          action_type: ACTIONS[(k * 5) % ACTIONS.length]!, multipliers: MULTS[(k * 3) % MULTS.length]!, timestamp: new Date(now - ((k * 13) % 72) * 3600_000).toISOString()
        })
      }
      return publishAll(nats.js, mixedNames.subject, events).then((acks) => Math.max(...acks.map((a) => a.seq)))
    }
    const writeRules = (version: string, change: (d: typeof DEFAULT_RULES_DOCUMENT) => typeof DEFAULT_RULES_DOCUMENT): string => {
      const file = path.join(mixedNames.dataDir, `${version}.json`)
      fs.writeFileSync(file, JSON.stringify(change({ ...DEFAULT_RULES_DOCUMENT, version })))
      return file
    }
    const v1 = writeRules("rm-1", (d) => d)
    const v2 = writeRules("rm-2", (d) => ({
      ...d,
      actions: { ...d.actions, speed_bonus: { points: 15 }, error_resolved: { points: 7 } },
      multipliers: { ...d.multipliers, hackathon: "3.0" },
      levels: d.levels.map((l) => (l.level === 3 ? { ...l, xp: 250 } : l))
    }))
    let arena = await mixed.serve(v1, { ARENA_REPROJECTION_STEP_PAUSE: "2s" })
    await arena.waitForSeq(await batch(400))
    // Events keep arriving while the shadow state is built: they are replayed under v2 after the switch.
    const applying = mixed.cli(arena, [v2, "--retroactive"])
    await waitFor("the shadow build", async () => (await mixed.projections()).states.length > 0)
    const head = await batch(200)
    const out = await applying
    expect(out.code).toBe(0)
    await arena.waitForSeq(head)

    const fresh = new ArenaProcess({ ...freshNamesOver, stream: mixedNames.stream, prefix: mixedNames.prefix, subject: mixedNames.subject, dlqStream: mixedNames.dlqStream }, { ARENA_RULES: v2 })
    await fresh.start()
    await fresh.waitForSeq(head)
    try {
      const boardsOf = async (a: ArenaProcess) => {
        const out: Record<string, unknown> = {}
        for (const b of ["global", "agent:coder", "agent:tester", "agent:planner"]) {
          for (const w of ["all", "day", "week", "month"]) {
            const r = await fetch(`${a.baseUrl}/v1/leaderboards/${encodeURIComponent(b)}?window=${w}&limit=100`)
            out[`${b} ${w}`] = r.status === 200 ? ((await r.json()) as { entries: unknown }).entries : r.status
          }
        }
        return out
      }
      const profilesOf = async (a: ArenaProcess) => {
        const out: Record<string, unknown> = {}
        for (let u = 0; u < 23; u++) {
          const r = await fetch(`${a.baseUrl}/v1/users/m${u}`)
          const p = await r.json() as { total_xp: number; level: unknown; streak: unknown; achievements: unknown }
          out[`m${u}`] = { total_xp: p.total_xp, level: p.level, streak: p.streak, achievements: p.achievements }
        }
        return out
      }
      const live = await boardsOf(arena)
      expect(live["global all"]).not.toEqual([])
      const history = await (await fetch(`${arena.baseUrl}/v1/rules`)).json() as { history: Array<{ version: string; effective_from_seq: number }> }
      expect(history.history.map((h) => [h.version, h.effective_from_seq])).toEqual([["rm-2", 1]])
      expect(live).toEqual(await boardsOf(fresh))
      expect(await profilesOf(arena)).toEqual(await profilesOf(fresh))
      // And again after a kill -9 of the switched service (its projection replays from its snapshot).
      await arena.kill()
      arena = await mixed.serve(v1)
      await arena.waitForSeq(head)
      expect(await boardsOf(arena)).toEqual(await boardsOf(fresh))
    } finally {
      await fresh.stop()
      await arena.stop()
    }
  })
})
