// The gateway under test: real uWS on an ephemeral port, real Postgres (a fresh database per
// test file) for shares, and the in-memory pipeline of test/support/memoryPorts.ts. Same shape as
// the lead's startArena (port, baseUrl, publish, token, waitForSeq, stop), so a test switches by
// changing its start function.
import { randomBytes } from "node:crypto"
import { Effect } from "effect"
import postgres from "postgres"
import { PostgresShareStore } from "../../src/adapters/postgres/ShareStore.js"
import { migrate } from "../../src/adapters/postgres/Migrations.js"
import { mintToken } from "../../src/gateway/auth/Auth.js"
import type { AnalyticsRoutesPort } from "../../src/ports/AnalyticsQueries.js"
import type { RunningGateway } from "../../src/gateway/Gateway.js"
import { startGateway } from "../../src/gateway/Gateway.js"
import type { GatewayOverrides } from "../../src/gateway/GatewayConfig.js"
import { gatewayConfig } from "../../src/gateway/GatewayConfig.js"
import type { PublishResult } from "../../src/ports/Ingest.js"
import { MemoryLeaderboards, MemoryPipeline } from "../support/memoryPorts.js"

export const SECRET = "gateway-test-secret-0123456789abcdef-xyz"
const PG_URL = process.env["DATABASE_URL"] ?? "postgres://postgres@127.0.0.1:5432/arena"

export interface Arena {
  readonly port: number
  readonly baseUrl: string
  publish(events: ReadonlyArray<unknown>): Promise<{ results: ReadonlyArray<PublishResult>; lastSeq: number }>
  token(sub: string, scope?: string, ttlSeconds?: number): Promise<string>
  waitForSeq(seq: number): Promise<void>
  stop(): Promise<void>
}

export interface MemoryArena extends Arena {
  readonly boards: MemoryLeaderboards
  readonly pipeline: MemoryPipeline
  readonly gateway: RunningGateway
  readonly sql: postgres.Sql
}

export interface MemoryArenaOptions {
  readonly overrides?: GatewayOverrides
  readonly authEnabled?: boolean
  readonly production?: boolean
  readonly analytics?: AnalyticsRoutesPort
  /** WS worker threads (0: sockets on the main thread). */
  readonly threads?: number
}

/** The compiled worker script: tests run the TypeScript sources, workers need JavaScript (globalSetup builds dist/). */
export const WORKER_URL = new URL("../../dist/gateway/threads/wsWorker.js", import.meta.url).href

const dbUrl = (name: string): string => {
  const u = new URL(PG_URL)
  u.pathname = `/${name}`
  return u.toString()
}

export const startMemoryArena = async (opts: MemoryArenaOptions = {}): Promise<MemoryArena> => {
  const dbName = `arena_gw_${randomBytes(4).toString("hex")}`
  const admin = postgres(dbUrl("postgres"), { max: 1, onnotice: () => {} })
  await admin.unsafe(`CREATE DATABASE "${dbName}"`)
  await admin.end()
  const sql = postgres(dbUrl(dbName), { max: 4, onnotice: () => {} })
  await Effect.runPromise(migrate(sql))
  const boards = new MemoryLeaderboards()
  const pipeline = new MemoryPipeline(boards)
  const config = gatewayConfig(
    { host: "127.0.0.1", port: 0, jwtSecret: SECRET, authEnabled: opts.authEnabled ?? true, production: opts.production ?? false },
    { rateLimit: { perIp: 100_000, perToken: 100_000 }, wsThreads: opts.threads ?? 0, wsWorkerUrl: WORKER_URL, ...opts.overrides }
  )
  const gateway = await startGateway({
    leaderboards: boards, users: pipeline, ingest: pipeline, health: pipeline, notifications: pipeline, rules: pipeline,
    shares: new PostgresShareStore(sql), analytics: opts.analytics, config,
    log: { warn: () => {}, error: (m, f) => console.error(m, f) }
  })
  const baseUrl = `http://127.0.0.1:${gateway.port}`
  return {
    port: gateway.port, baseUrl, boards, pipeline, gateway, sql,
    publish: async (events) => {
      const results = await pipeline.publish(events)
      return { results, lastSeq: pipeline.seq }
    },
    token: (sub, scope = "", ttlSeconds = 3600) => mintToken({ sub, scope, ttlSeconds }, SECRET),
    waitForSeq: async () => {},
    stop: async () => {
      await gateway.close()
      await sql.end({ timeout: 5 })
      const a = postgres(dbUrl("postgres"), { max: 1, onnotice: () => {} })
      await a.unsafe(`DROP DATABASE IF EXISTS "${dbName}" WITH (FORCE)`)
      await a.end()
    }
  }
}

let n = 0
/** A valid event for `user` (unique event_id). */
export const event = (user: string, action = "task_completed", agent = "coder", extra: Record<string, unknown> = {}): Record<string, unknown> => ({
  event_id: `e-${Date.now().toString(36)}-${(n++).toString(36)}-${randomBytes(3).toString("hex")}`,
  user_id: user,
  username: user.toUpperCase(),
  agent_name: agent,
  action_type: action,
  timestamp: new Date().toISOString(),
  ...extra
})
