// Helpers of the `arena rules apply` tests (test/pipeline/rulesApply*.test.ts): rules files,
// rounds of task_completed events (xp = the rules' points: one day, no streak tier or multiplier,
// first_steps has no bonus), the global board, the CLI as an operator runs it, Postgres' view of
// the projections, and ClickHouse's (through the service: only it may open the embedded engine).
import { execFile } from "node:child_process"
import * as fs from "node:fs"
import * as path from "node:path"
import { expect } from "vitest"
import { DEFAULT_RULES_DOCUMENT } from "../../src/domain/DefaultRules.js"
import { mintToken } from "../../src/gateway/auth/Auth.js"
import { ArenaProcess, JWT_SECRET, NATS_URL, db, publishAll } from "./arena.js"
import type { Names, Nats } from "./arena.js"

const ROOT = path.resolve(import.meta.dirname, "../..")
export const USERS = 10

export const rulesApplyHarness = (names: Names, nats: () => Nats) => {
  let next = 0
  return {
    /** A rules file: the default rules with task_completed worth `points` (and other level thresholds when given). */
    rulesFile: (version: string, points: number, levels?: typeof DEFAULT_RULES_DOCUMENT.levels): string => {
      const file = path.join(names.dataDir, `rules-${version}-${points}.json`)
      fs.mkdirSync(names.dataDir, { recursive: true })
      fs.writeFileSync(file, JSON.stringify({ ...DEFAULT_RULES_DOCUMENT, version, actions: { ...DEFAULT_RULES_DOCUMENT.actions, task_completed: { points } }, ...(levels === undefined ? {} : { levels }) }, null, 2))
      return file
    },
    /** One task_completed event for one user (now); resolves with its seq. */
    publishOne: async (userId: string): Promise<number> => {
      next++
      const [ack] = await publishAll(nats().js, names.subject, [{ event_id: `${names.id}-${next}`, user_id: userId, agent_name: "coder", action_type: "task_completed", timestamp: new Date().toISOString() }])
      return ack!.seq
    },
    publishRound: async (perUser: number): Promise<number> => {
      const now = new Date().toISOString()
      const events = []
      for (let i = 0; i < perUser * USERS; i++) {
        next++
        events.push({ event_id: `${names.id}-${next}`, user_id: `u${i % USERS}`, agent_name: "coder", action_type: "task_completed", timestamp: now })
      }
      const acks = await publishAll(nats().js, names.subject, events)
      return Math.max(...acks.map((a) => a.seq))
    },
    board: async (arena: ArenaProcess): Promise<Record<string, number>> => {
      const r = await fetch(`${arena.baseUrl}/v1/leaderboards/global?window=all&limit=100`)
      expect(r.status).toBe(200)
      const body = await r.json() as { entries: Array<{ user_id: string; xp: number }> }
      return Object.fromEntries(body.entries.map((e) => [e.user_id, e.xp]))
    },
    /** `arena rules apply` as an operator runs it, against the running service. */
    cli: (arena: ArenaProcess, args: ReadonlyArray<string>): Promise<{ code: number; stdout: string; stderr: string }> =>
      new Promise((resolve) => {
        execFile(process.execPath, [path.join(ROOT, "bin/arena"), "rules", "apply", ...args], {
          cwd: ROOT,
          env: { ...process.env, NATS_URL, DATABASE_URL: names.databaseUrl, ARENA_STREAM: names.stream, ARENA_JWT_SECRET: JWT_SECRET, ARENA_URL: arena.baseUrl }
        }, (err, stdout, stderr) => resolve({ code: err === null ? 0 : (err as { code?: number }).code ?? 1, stdout, stderr }))
      }),
    serve: async (rules: string, env: Record<string, string> = {}): Promise<ArenaProcess> => {
      const a = new ArenaProcess(names, { ARENA_RULES: rules, ARENA_SNAPSHOT_INTERVAL: "1h", ...env })
      await a.start()
      return a
    },
    /** Postgres' view of the projections: the current one, each re-projection's state, shadow rows left, the snapshot's projection. */
    projections: async () => {
      const sql = db(names)
      try {
        const current = (await sql<{ current: number }[]>`SELECT current FROM arena_projection`)[0]!.current
        const rows = await sql<{ projection: number; state: string }[]>`SELECT projection, state FROM arena_reprojection ORDER BY projection`
        const shadow = Number((await sql<{ n: string }[]>`SELECT count(*) AS n FROM arena_shadow_checkpoint`)[0]!.n)
        const checkpoint = (await sql<{ projection: number }[]>`SELECT projection FROM arena_checkpoint`)[0]
        return { current, states: rows.map((r) => [r.projection, r.state] as [number, string]), shadow, checkpointProjection: checkpoint?.projection ?? null }
      } finally { await sql.end() }
    }
  }
}

const adminHeaders = async () => ({ authorization: `Bearer ${await mintToken({ sub: "ops", scope: "admin", ttlSeconds: 600 }, JWT_SECRET)}` })

/** Rows of a read-only query on the service's ClickHouse (POST /v1/analytics/sql), as objects. */
export const chRows = async (arena: ArenaProcess, query: string): Promise<Array<Record<string, unknown>>> => {
  const r = await fetch(`${arena.baseUrl}/v1/analytics/sql`, { method: "POST", headers: { "content-type": "application/json", ...await adminHeaders() }, body: JSON.stringify({ query }) })
  const body = await r.json() as { columns: string[]; rows: unknown[][] }
  expect(r.status, JSON.stringify(body)).toBe(200)
  return body.rows.map((row) => Object.fromEntries(body.columns.map((c, i) => [c, row[i]])))
}

/** A user's whole ledger as the API serves it (read from ClickHouse, plus what the sink has not flushed yet). */
export const ledgerOf = async (arena: ArenaProcess, userId: string): Promise<Array<Record<string, unknown>>> => {
  const r = await fetch(`${arena.baseUrl}/v1/users/${encodeURIComponent(userId)}/ledger?limit=1000`, { headers: await adminHeaders() })
  expect(r.status).toBe(200)
  return (await r.json() as { entries: Array<Record<string, unknown>> }).entries
}

/** A dashboard's rows over the last week and the next hour (GET /v1/analytics/dashboards/{name}). */
export const dashboardOf = async (arena: ArenaProcess, name: string): Promise<unknown[][]> => {
  const now = Date.now()
  const r = await fetch(`${arena.baseUrl}/v1/analytics/dashboards/${name}?from=${now - 7 * 86_400_000}&to=${now + 3_600_000}`, { headers: await adminHeaders() })
  const body = await r.json() as { rows: unknown[][] }
  expect(r.status, JSON.stringify(body)).toBe(200)
  return body.rows
}

export const everyone = (xp: number) => Object.fromEntries(Array.from({ length: USERS }, (_, i) => [`u${i}`, xp]))

/** Polls `f` until it gives a value (state, not time: the timeout only bounds a hang). */
export const waitFor = async <T>(what: string, f: () => Promise<T | undefined | false>, timeoutMs = 120_000): Promise<T> => {
  const t0 = Date.now()
  for (;;) {
    const v = await f()
    if (v !== undefined && v !== false) return v
    if (Date.now() - t0 > timeoutMs) throw new Error(`timed out waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 50))
  }
}
