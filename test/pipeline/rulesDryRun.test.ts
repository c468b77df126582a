// The dry run of a rules change (ARCHITECTURE §10), against the real service's stream: `arena
// rules diff <file> --json` (a separate process) and POST /v1/rules/dry-run (admin; a child
// process, polled by job id) report exactly what an independent model of both rule sets says —
// users whose XP, level and achievements change, the XP moved, the movers, the top before and
// after, the ranks that change — and change nothing. Producers (events:write) cannot start one.
import { spawn } from "node:child_process"
import * as fs from "node:fs"
import * as path from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { DEFAULT_RULES_DOCUMENT } from "../../src/domain/DefaultRules.js"
import { mintToken } from "../../src/gateway/auth/Auth.js"
import { ArenaProcess, JWT_SECRET, NATS_URL, cleanup, freshNames, natsClient, publishAll, sleep } from "../support/arena.js"
import { api } from "../gateway/client.js"

const ROOT = path.resolve(import.meta.dirname, "../..")
const names = freshNames("dr")
const USERS = 20
const LEVELS = [0, 100, 300, 700, 1200, 2500, 5000, 10000]
const levelOf = (xp: number) => LEVELS.filter((t) => t <= xp).length

// User i: i + 1 task_completed and 20 - i complex_api_design, all today (no streak tier).
// Now: 10 and 25 points, api_master at 10 (+100). Proposed: 100 and 5 points, api_master at 2.
const tasks = (i: number) => i + 1
const apis = (i: number) => USERS - i
const xpNow = (i: number) => 10 * tasks(i) + 25 * apis(i) + (apis(i) >= 10 ? 100 : 0)
const xpProposed = (i: number) => 100 * tasks(i) + 5 * apis(i) + (apis(i) >= 2 ? 100 : 0)
const ranking = (xp: (i: number) => number) =>
  Array.from({ length: USERS }, (_, i) => i).sort((a, b) => xp(b) - xp(a)).map((i) => `u${String(i).padStart(2, "0")}`)

const docNow = { ...DEFAULT_RULES_DOCUMENT, version: "dr-now" }
const docProposed = {
  ...DEFAULT_RULES_DOCUMENT,
  version: "dr-proposed",
  actions: { ...DEFAULT_RULES_DOCUMENT.actions, task_completed: { points: 100 }, complex_api_design: { points: 5 } },
  achievements: DEFAULT_RULES_DOCUMENT.achievements.map((a) => (a.id === "api_master" ? { ...a, condition: { kind: "action_count" as const, action: "complex_api_design", count: 2 } } : a))
}
const fileNow = path.join(names.dataDir, "rules-now.json")
const fileProposed = path.join(names.dataDir, "rules-proposed.json")
const env = { ARENA_RULES: fileNow }
const arena = new ArenaProcess(names, env)
let head = 0

/** `arena rules diff` as an operator runs it: the service's environment, its own process. */
const cli = (args: Array<string>): Promise<{ code: number | null; stdout: string; stderr: string }> =>
  new Promise((resolve) => {
    const child = spawn(process.execPath, [path.join(ROOT, "bin/arena"), "rules", "diff", ...args], {
      cwd: ROOT,
      env: { ...process.env, NATS_URL, DATABASE_URL: names.databaseUrl, ARENA_STREAM: names.stream, ARENA_SUBJECT_PREFIX: names.prefix, ARENA_DATA_DIR: names.dataDir, ...env },
      stdio: ["ignore", "pipe", "pipe"]
    })
    let stdout = "", stderr = ""
    child.stdout.on("data", (b: Buffer) => { stdout += b.toString() })
    child.stderr.on("data", (b: Buffer) => { stderr += b.toString() })
    child.once("close", (code) => resolve({ code, stdout, stderr }))
  })

interface Report {
  proposed: { version: string }
  in_force: Array<{ version: string; effective_from_seq: number }>
  stream: { last_seq: number; messages: number; applied_before: number; applied_after: number }
  users: { before: number; after: number; changed: number; xp_changed: number; level_changed: number; achievements_changed: number; up: number; down: number }
  xp: { total_before: number; total_after: number; net: number; moved: number }
  movers: Array<{ user_id: string; xp_before: number; xp_after: number; delta: number; level_before: number; level_after: number; achievements_gained: Array<string>; achievements_lost: Array<string> }>
  changed_users: Array<{ user_id: string }>
  boards: Array<{ board: string; window: string; users_before: number; users_after: number; top_before: Array<{ rank: number; user_id: string; xp: number }>; top_after: Array<{ rank: number; user_id: string; xp: number }>; top_changed: boolean; ranks_changed: number; entered: number; left: number }>
  run?: { elapsed_ms: number; peak_rss_bytes: number }
}

beforeAll(async () => {
  fs.writeFileSync(fileNow, JSON.stringify(docNow))
  fs.writeFileSync(fileProposed, JSON.stringify(docProposed, null, 2))
  await arena.start()
  await arena.waitForSeq(0)
  const nats = await natsClient()
  const now = new Date().toISOString()
  const events: Array<Record<string, unknown>> = []
  for (let i = 0; i < USERS; i++) {
    const user = `u${String(i).padStart(2, "0")}`
    for (let k = 0; k < tasks(i); k++) events.push({ event_id: `${user}-t${k}`, user_id: user, agent_name: "coder", action_type: "task_completed", timestamp: now })
    for (let k = 0; k < apis(i); k++) events.push({ event_id: `${user}-a${k}`, user_id: user, agent_name: "coder", action_type: "complex_api_design", timestamp: now })
  }
  head = Math.max(...(await publishAll(nats.js, names.subject, events)).map((a) => a.seq))
  await nats.nc.close()
  await arena.waitForSeq(head)
})
afterAll(async () => {
  await arena.stop()
  await cleanup(names)
})

const expectReport = (r: Report) => {
  const all = Array.from({ length: USERS }, (_, i) => i)
  const moved = all.reduce((s, i) => s + Math.abs(xpProposed(i) - xpNow(i)), 0)
  expect(r.proposed.version).toBe("dr-proposed")
  expect(r.in_force).toEqual([{ version: "dr-now", effective_from_seq: 1 }])
  expect(r.stream).toMatchObject({ last_seq: head, messages: head, applied_before: head, applied_after: head })
  expect(r.users).toEqual({
    before: USERS, after: USERS, changed: USERS, xp_changed: USERS,
    level_changed: all.filter((i) => levelOf(xpNow(i)) !== levelOf(xpProposed(i))).length,
    achievements_changed: all.filter((i) => (apis(i) >= 10) !== (apis(i) >= 2)).length,
    up: all.filter((i) => xpProposed(i) > xpNow(i)).length,
    down: all.filter((i) => xpProposed(i) < xpNow(i)).length
  })
  expect(r.xp).toEqual({
    total_before: all.reduce((s, i) => s + xpNow(i), 0), total_after: all.reduce((s, i) => s + xpProposed(i), 0),
    net: all.reduce((s, i) => s + xpProposed(i) - xpNow(i), 0), moved
  })
  const biggest = [...all].sort((a, b) => Math.abs(xpProposed(b) - xpNow(b)) - Math.abs(xpProposed(a) - xpNow(a)))[0]!
  expect(r.movers[0]).toMatchObject({
    user_id: `u${String(biggest).padStart(2, "0")}`, xp_before: xpNow(biggest), xp_after: xpProposed(biggest), delta: xpProposed(biggest) - xpNow(biggest),
    level_before: levelOf(xpNow(biggest)), level_after: levelOf(xpProposed(biggest))
  })
  const u05 = r.changed_users.find((u) => u.user_id === "u05") as Report["movers"][number]
  expect(u05).toMatchObject({ achievements_gained: [], achievements_lost: [] }) // api_master either way
  const u15 = r.changed_users.find((u) => u.user_id === "u15") as Report["movers"][number]
  expect(u15).toMatchObject({ achievements_gained: ["api_master"], achievements_lost: [] })
  // Every board (global and agent:coder, four windows) holds everyone: the top 20 is the whole ranking.
  expect(r.boards.map((b) => `${b.board} ${b.window}`)).toEqual([
    "global all", "global day", "global week", "global month", "agent:coder all", "agent:coder day", "agent:coder week", "agent:coder month"
  ])
  const before = ranking(xpNow)
  const after = ranking(xpProposed)
  for (const b of r.boards) {
    expect(b.top_before.map((x) => x.user_id)).toEqual(before)
    expect(b.top_after.map((x) => x.user_id)).toEqual(after)
    expect(b.top_after[0]).toMatchObject({ rank: 1, xp: Math.max(...all.map(xpProposed)) })
    expect(b).toMatchObject({ users_before: USERS, users_after: USERS, top_changed: true, entered: 0, left: 0, ranks_changed: before.filter((u, k) => after[k] !== u).length })
  }
}

describe("rules dry run", () => {
  it("arena rules diff --json reports what the proposed rules would change, as an independent model says", async () => {
    const r = await cli([fileProposed, "--json"])
    expect(r.code).toBe(0)
    const report = JSON.parse(r.stdout) as Report
    expectReport(report)
    expect(report.run!.peak_rss_bytes).toBeGreaterThan(0)
    // Readable text: the summary, the movers and the top tables.
    const text = await cli([fileProposed])
    expect(text.code).toBe(0)
    expect(text.stdout).toContain("Rules dry run: proposed dr-proposed")
    expect(text.stdout).toContain(`Users: ${USERS} (${USERS} now); ${USERS} change`)
    expect(text.stdout).toContain("Biggest movers")
    expect(text.stdout).toContain("global all: top 20 now and proposed")
    // An invalid file: a clear message with the field's path, exit 2.
    fs.writeFileSync(path.join(names.dataDir, "bad.json"), JSON.stringify({ ...docProposed, multiplier_cap: "lots" }))
    const bad = await cli([path.join(names.dataDir, "bad.json")])
    expect(bad.code).toBe(2)
    expect(bad.stderr).toContain("multiplier_cap")
  })

  it("POST /v1/rules/dry-run: admin only, validates, answers 202 with a job whose result is the same report; the live state is untouched", async () => {
    const admin = await mintToken({ sub: "ops", scope: "admin", ttlSeconds: 600 }, JWT_SECRET)
    const producer = await mintToken({ sub: "producer", scope: "events:write", ttlSeconds: 600 }, JWT_SECRET)
    expect((await api(arena.baseUrl, "POST", "/v1/rules/dry-run", { body: docProposed })).status).toBe(401)
    expect((await api(arena.baseUrl, "POST", "/v1/rules/dry-run", { token: producer, body: docProposed })).status).toBe(403)
    const invalid = await api(arena.baseUrl, "POST", "/v1/rules/dry-run", { token: admin, body: { ...docProposed, levels: [] } })
    expect(invalid.status).toBe(400)
    expect(invalid.json.error.code).toBe("invalid_rules")
    expect(invalid.json.error.details.map((d) => d.path)).toContain("body.levels")

    const started = await api<{ job_id: string; status: string; version: string }>(arena.baseUrl, "POST", "/v1/rules/dry-run", { token: admin, body: docProposed })
    expect(started.status).toBe(202)
    expect(started.json).toMatchObject({ status: "running", version: "dr-proposed" })
    expect(started.headers.get("location")).toBe(`/v1/rules/dry-run/${started.json.job_id}`)
    const busy = await api(arena.baseUrl, "POST", "/v1/rules/dry-run", { token: admin, body: docProposed })
    if (busy.status === 409) expect(busy.json.error.code).toBe("dry_run_running") // unless the first one already finished
    else expect(busy.status).toBe(202)
    expect((await api(arena.baseUrl, "GET", `/v1/rules/dry-run/${started.json.job_id}`, { token: producer })).status).toBe(403)
    let job = await api<{ status: string; result: Report; error: string | null; progress: { percent: number } | null }>(arena.baseUrl, "GET", `/v1/rules/dry-run/${started.json.job_id}`, { token: admin })
    for (let i = 0; i < 1200 && job.json.status === "running"; i++) {
      await sleep(100)
      job = await api(arena.baseUrl, "GET", `/v1/rules/dry-run/${started.json.job_id}`, { token: admin })
    }
    expect(job.json.error).toBeNull()
    expect(job.json.status).toBe("done")
    expect(job.json.progress).toMatchObject({ percent: 100 })
    expectReport(job.json.result)
    expect((await api(arena.baseUrl, "GET", "/v1/rules/dry-run/AAAAAAAAAAAA", { token: admin })).status).toBe(404)

    // Nothing changed: the rules in force, the history and the board.
    const rules = await api<{ version: string; history: Array<unknown> }>(arena.baseUrl, "GET", "/v1/rules")
    expect(rules.json.version).toBe("dr-now")
    expect(rules.json.history).toHaveLength(1)
    const board = await api<{ entries: Array<{ user_id: string; xp: number }> }>(arena.baseUrl, "GET", "/v1/leaderboards/global?window=all&limit=100")
    expect(board.json.entries.map((e) => e.user_id)).toEqual(ranking(xpNow))
  })
})
