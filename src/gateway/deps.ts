// Everything startGateway needs: the core's ports (ports.ts), shares storage, and the small ports
// declared here for rules and the optional analytics routes.
import type { GatewayConfig } from "./GatewayConfig.js"
import type { HealthPort, IngestPort, LeaderboardPort, NotificationPort, UserPort } from "./ports.js"
import type { ShareStore } from "./SharePort.js"

/** GET /v1/rules and GET /v1/achievements: JSON-ready documents (with the rules version). */
export interface RulesPort {
  rules(): unknown
  achievements(): unknown
}

/** Placeholder until the analytics engineer fixes the shape; mounted only when given. */
export interface AnalyticsRoutesPort {
  listDashboards(): Promise<unknown>
  dashboard(name: string, range: { fromMs: number; toMs: number }): Promise<unknown>
  /** Read-only query; admin only. */
  sql(query: string): Promise<unknown>
}

export interface GatewayLogger {
  warn(message: string, fields?: Readonly<Record<string, unknown>>): void
  error(message: string, fields?: Readonly<Record<string, unknown>>): void
}

export interface GatewayDeps {
  readonly leaderboards: LeaderboardPort
  readonly users: UserPort
  readonly ingest: IngestPort
  readonly health: HealthPort
  readonly notifications: NotificationPort
  readonly shares: ShareStore
  readonly rules: RulesPort
  readonly analytics?: AnalyticsRoutesPort | undefined
  readonly config: GatewayConfig
  readonly log?: GatewayLogger | undefined
}

export const consoleLogger: GatewayLogger = {
  warn: (message, fields) => console.warn(JSON.stringify({ level: "warn", component: "gateway", message, ...fields })),
  error: (message, fields) => console.error(JSON.stringify({ level: "error", component: "gateway", message, ...fields }))
}
