// `arena rules apply <file> --retroactive` against a running `arena serve` (ARCHITECTURE §10
// "Re-projection"): every event re-scored in a shadow state while the service serves the rules in
// force, then one switch (a new epoch on the WebSockets, the Postgres snapshot replaced, the
// projection current); a kill -9 while the re-projection is pending or built leaves exactly one
// projection in force in Postgres and on the boards, and the apply completes after the restart.
// ClickHouse: the new projection's rows go in before it is built (once, even across a kill -9
// between the two), and after the switch the ledger and the dashboards read them only.
import * as fs from "node:fs"
import * as path from "node:path"
import { DEFAULT_RULES_DOCUMENT } from "../../src/domain/DefaultRules.js"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { mintToken } from "../../src/gateway/auth/Auth.js"
import { ArenaProcess, JWT_SECRET, cleanup, db, freshNames, natsClient, publishAll } from "../support/arena.js"
import type { Nats } from "../support/arena.js"
import { USERS, chRows, dashboardOf, everyone, ledgerOf, rulesApplyHarness, waitFor } from "../support/rulesApply.js"
import { openWs, wsUrl } from "../gateway/client.js"
import { snapshotDump } from "../support/snapshotDump.js"

const names = freshNames("rr")
let nats: Nats
const { rulesFile, publishRound, board, cli, serve, projections } = rulesApplyHarness(names, () => nats)
// A second database and data dir over the stream of `mixed` (below): a fresh replay to compare with.
const mixedNames = freshNames("rm")
const freshNamesOver = freshNames("rf")
const mixed = rulesApplyHarness(mixedNames, () => nats)
// A third set: a user erased while a retroactive build is held at a step.
const erasedNames = freshNames("rx")
const erased = rulesApplyHarness(erasedNames, () => nats)

interface WsMsg { type: string; epoch: string; seq: number; entries?: Array<{ user_id: string; xp: number }> }

beforeAll(async () => { nats = await natsClient() })
afterAll(async () => {
  await nats?.nc.close()
  await cleanup(names)
  await cleanup(mixedNames)
  await cleanup(freshNamesOver)
  await cleanup(erasedNames)
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

    // kill -9 once E's rows are in ClickHouse, before E is built: still pending, and the ledger reads D's rows.
    const short = { ARENA_REPROJECTION_STEP_PAUSE: "10s" }
    const rowsIn = new RegExp(`re-projection ${e}: its rows through seq ${head} are in ClickHouse as projection ${e} \\((\\d+) inserted now, (\\d+) there already\\)`)
    arena = await serve(fileC, short)
    await arena.waitForSeq(head)
    expect(await board(arena)).toEqual(rescored) // D still in force
    expect(arena.log).toContain(`re-projection ${e} (rules ra-e) was pending when the service stopped: building it again`)
    const firstLoad = await waitFor("E's rows in ClickHouse", async () => rowsIn.exec(arena.log) ?? undefined)
    expect(Number(firstLoad[1])).toBeGreaterThan(0)
    expect((await ledgerOf(arena, "u0")).map((x) => [x.rules_version, x.total_awarded])).toEqual([["ra-d", 30], ["ra-d", 30], ["ra-d", 30]])
    await arena.kill()
    expect((await projections()).states.at(-1)).toEqual([e, "pending"])

    // Built again after the restart: every row of E is found there, none inserted twice.
    arena = await serve(fileC, short)
    await arena.waitForSeq(head)
    expect(await board(arena)).toEqual(rescored) // D still in force
    await waitFor("built", async () => (await projections()).states.at(-1)?.[1] === "built")
    expect(rowsIn.exec(arena.log)?.slice(1)).toEqual(["0", String(Number(firstLoad[1]) + Number(firstLoad[2]))])
    expect(await board(arena)).toEqual(rescored)
    expect((await ledgerOf(arena, "u0")).map((x) => x.rules_version)).toEqual(["ra-d", "ra-d", "ra-d"])
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
    // ClickHouse: E's rows hold every event once (loaded through head, live after it); the older
    // projections' rows are still there, unread: the ledger, the profiles and the dashboards agree.
    const perProjection = await waitFor("E's rows through the last event", async () => {
      const r = await chRows(arena, "SELECT projection, count() AS n, uniqExact(seq) AS seqs, max(seq) AS top FROM awards GROUP BY projection ORDER BY projection")
      return r.some((x) => x["projection"] === e && x["top"] === head2) && r
    })
    expect(perProjection.find((x) => x["projection"] === e)).toMatchObject({ n: head2, seqs: head2 })
    expect(perProjection.map((x) => x["projection"])).toEqual([0, 1, 2].slice(0, e + 1))
    for (let u = 0; u < USERS; u++) {
      const entries = await ledgerOf(arena, `u${u}`)
      expect(entries.map((x) => [x.rules_version, x.total_awarded])).toEqual(Array.from({ length: 4 }, () => ["ra-e", 40]))
      const profile = await (await fetch(`${arena.baseUrl}/v1/users/u${u}`)).json() as { total_xp: number }
      expect(entries[0]!.total_xp_after).toBe(profile.total_xp)
    }
    // xp_distribution (user_days): all ten users at 160 XP, none counted twice or at an older projection's XP.
    await waitFor("the XP dashboard", async () => JSON.stringify(await dashboardOf(arena, "xp_distribution")) === JSON.stringify(
      [0, 10, 50, 100, 250, 500, 1000, 2500, 5000, 10000].map((b) => [b, b === 100 ? USERS : 0])), 30_000)
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
      const profiles = await profilesOf(arena)
      expect(profiles).toEqual(await profilesOf(fresh))
      // ClickHouse: the ledger and the dashboards read the new projection's rows (loaded before
      // the switch, live after it), which equal the fresh replay's; v1's rows are there, unread.
      const ledgersOf = async (a: ArenaProcess) => {
        const out: Record<string, unknown> = {}
        for (let u = 0; u < 23; u++) out[`m${u}`] = await ledgerOf(a, `m${u}`)
        return out
      }
      const ledgers = await ledgersOf(arena)
      expect(ledgers).toEqual(await ledgersOf(fresh))
      for (const [u, entries] of Object.entries(ledgers) as Array<[string, Array<{ total_xp_after: number; rules_version: string }>]>) {
        expect(entries[0]?.total_xp_after ?? 0).toBe((profiles[u] as { total_xp: number }).total_xp)
        expect(entries.every((x) => x.rules_version === "rm-2")).toBe(true)
      }
      const DASHBOARDS = ["xp_distribution", "agent_popularity", "action_mix", "level_distribution", "achievement_unlocks", "streak_health", "agent_by_metadata", "rejection_reasons"]
      const dashboardsOf = async (a: ArenaProcess) => Object.fromEntries(await Promise.all(DASHBOARDS.map(async (n) => [n, await dashboardOf(a, n)] as const)))
      // Both sinks flush within seconds: compared once they agree (or, after a minute, to show how they differ).
      const both = async () => [await dashboardsOf(arena), await dashboardsOf(fresh)] as const
      const [mine, theirs] = await waitFor("both services' rows", async () => {
        const pair = await both()
        return JSON.stringify(pair[0]) === JSON.stringify(pair[1]) && pair
      }, 60_000).catch(both)
      expect(mine).toEqual(theirs)
      expect(mine["action_mix"]!.reduce((n, r) => n + Number(r[1]), 0)).toBeGreaterThan(500) // most of the 600 events
      const rows = await chRows(arena, "SELECT projection, count() AS n, uniqExact(seq) AS seqs FROM awards GROUP BY projection ORDER BY projection")
      expect(rows.map((r) => r["projection"])).toEqual([0, 1])
      for (const r of rows) expect(r["n"]).toBe(r["seqs"])
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

  it("an erasure while the shadow build is held wins over the switch: the user is in no board, profile, ledger, dashboard, snapshot or archive afterwards", async () => {
    const fileA = erased.rulesFile("rx-a", 20)
    const fileB = erased.rulesFile("rx-b", 30)
    const GONE = "u3"
    let arena = await erased.serve(fileA, { ARENA_REPROJECTION_STEP_PAUSE: "5s" })
    try {
      const head = await erased.publishRound(3)
      await arena.waitForSeq(head)
      await waitFor("u3's rows in ClickHouse", async () => (await ledgerOf(arena, GONE)).length === 3)
      const admin = { authorization: `Bearer ${await mintToken({ sub: "ops", scope: "admin", ttlSeconds: 600 }, JWT_SECRET)}` }
      const post = await fetch(`${arena.baseUrl}/v1/rules/apply`, {
        method: "POST", headers: { "content-type": "application/json", ...admin },
        body: JSON.stringify({ rules: JSON.parse(fs.readFileSync(fileB, "utf8")), retroactive: true })
      })
      expect(post.status).toBe(202)
      const p = (await post.json() as { projection: number }).projection
      // The child wrote its shadow snapshot (u3 in it) and is held there: u3 is erased now.
      await waitFor("the shadow snapshot", async () => (await erased.projections()).shadow === 1)
      // A closed period the build archived with u3 second (as one closed before it met the erasure).
      const pg = db(erasedNames)
      try {
        await pg`INSERT INTO arena_shadow_archive (projection, board, win, period, rank, user_id, username, xp, reached_seq, level) VALUES
          (${p}, 'global', 'day', '2020-01-01', 1, 'u0', 'u0', 30, 1, 1), (${p}, 'global', 'day', '2020-01-01', 2, ${GONE}, ${GONE}, 20, 2, 1),
          (${p}, 'global', 'day', '2020-01-01', 3, 'u5', 'u5', 10, 3, 1)`
        await pg`INSERT INTO arena_shadow_closed (projection, board, win, period, entries, closed_at_seq) VALUES (${p}, 'global', 'day', '2020-01-01', 3, 1)`
      } finally { await pg.end() }
      const del = await fetch(`${arena.baseUrl}/v1/users/${GONE}`, { method: "DELETE", headers: admin })
      expect(del.status).toBe(202)
      const erasureId = (await del.json() as { erasure_id: string }).erasure_id
      await waitFor("the switch", async () => (await erased.projections()).states.at(-1)?.[1] === "switched")
      await waitFor("the erasure done", async () =>
        (await (await fetch(`${arena.baseUrl}/v1/erasures/${erasureId}`, { headers: admin })).json() as { status: string }).status === "done")
      const rest = Object.fromEntries(Object.entries(everyone(3 * 30)).filter(([u]) => u !== GONE))
      const traces = async (a: ArenaProcess): Promise<string[]> => {
        const found: string[] = []
        // (not the stream's last seq: that is the erasure message, which a replay from before it may never see once erased)
        await a.waitForSeq(head, 90_000)
        const b = await erased.board(a)
        if (GONE in b) found.push("board")
        expect(Object.fromEntries(Object.entries(b).filter(([u]) => u !== GONE))).toEqual(rest)
        if ((await fetch(`${a.baseUrl}/v1/users/${GONE}`)).status !== 404) found.push("profile")
        if ((await ledgerOf(a, GONE)).length > 0) found.push("ledger")
        for (const t of ["awards", "user_days"]) {
          if (Number((await chRows(a, `SELECT count() AS n FROM ${t} WHERE user_id = '${GONE}'`))[0]!["n"]) !== 0) found.push(`clickhouse ${t}`)
        }
        const xp = await dashboardOf(a, "xp_distribution")
        if (JSON.stringify(xp) !== JSON.stringify([0, 10, 50, 100, 250, 500, 1000, 2500, 5000, 10000].map((x) => [x, x === 50 ? USERS - 1 : 0]))) found.push(`dashboard ${JSON.stringify(xp)}`)
        const sql = db(erasedNames)
        try {
          if ((await snapshotDump(sql)).users.some(([id]) => id === GONE)) found.push("snapshot")
          if ((await sql`SELECT count(*)::int AS n FROM arena_period_archive WHERE user_id = ${GONE}`)[0]!["n"] !== 0) found.push("period archive")
          if ((await sql`SELECT count(*)::int AS n FROM arena_shadow_archive WHERE user_id = ${GONE}`)[0]!["n"] !== 0) found.push("shadow archive")
        } finally { await sql.end() }
        return found
      }
      expect(await erased.projections()).toMatchObject({ current: p, shadow: 0, checkpointProjection: p })
      // It waited for the switch before erasing the stream messages (the erasure message among them).
      expect(arena.log).toMatch(/erasure \S+: a re-projection is open; the user's stream messages are erased once it is switched or discarded/)
      // The sink flushes within seconds: the dashboards and the rows are compared once settled.
      await waitFor("u3 gone", async () => (await traces(arena)).length === 0, 30_000).catch(() => undefined)
      expect(await traces(arena)).toEqual([])
      const archived = await (await fetch(`${arena.baseUrl}/v1/leaderboards/global?window=day&period=2020-01-01`)).json() as { total: number; entries: Array<{ rank: number; user_id: string }> }
      expect([archived.total, archived.entries.map((x) => [x.rank, x.user_id])]).toEqual([2, [[1, "u0"], [2, "u5"]]])
      // And after a kill -9: the replay from the switched-in snapshot brings nobody back.
      await arena.kill()
      arena = await erased.serve(fileA)
      expect(await traces(arena)).toEqual([])
    } finally {
      await arena.stop()
    }
  }, 420_000)
})
