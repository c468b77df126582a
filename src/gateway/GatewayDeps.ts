// Everything startGateway needs: the core's ports (src/ports/), its settings and its logger.
import type { GatewayConfig } from "./GatewayConfig.js"
import type { HealthPort } from "../ports/Health.js"
import type { IngestPort } from "../ports/Ingest.js"
import type { SettingsPort } from "../ports/Settings.js"
import type { LeaderboardPort, UserPort } from "../ports/ReadModel.js"
import type { NotificationPort } from "../ports/LiveFeed.js"
import type { ShareStore } from "../ports/Shares.js"
import type { AnalyticsRoutesPort } from "../ports/AnalyticsQueries.js"
import type { RulesPort } from "../ports/ReadModel.js"
import type { DryRunPort } from "../ports/DryRuns.js"
import type { RulesApplyPort } from "../ports/RulesApply.js"
import type { CorrectionsPort } from "../ports/Corrections.js"
import type { ErasurePort } from "../ports/Erasures.js"
import type { GroupsPort } from "../ports/Groups.js"

export interface GatewayLogger {
  warn(message: string, fields?: Readonly<Record<string, unknown>>): void
  error(message: string, fields?: Readonly<Record<string, unknown>>): void
}

export interface GatewayDeps {
  readonly leaderboards: LeaderboardPort
  readonly users: UserPort
  readonly ingest: IngestPort
  /** PUT /v1/users/{id}/settings publishes through it (absent: the route is not served). */
  readonly settings?: SettingsPort
  readonly health: HealthPort
  readonly notifications: NotificationPort
  readonly shares: ShareStore
  /** PUT/GET/DELETE /v1/groups/{group_id} are mounted only with it. */
  readonly groups?: GroupsPort | undefined
  readonly rules: RulesPort
  /** POST /v1/rules/dry-run and GET /v1/rules/dry-run/{id} are mounted only with it. */
  readonly dryRuns?: DryRunPort | undefined
  /** POST /v1/rules/apply and GET /v1/rules/apply are mounted only with it. */
  readonly rulesApply?: RulesApplyPort | undefined
  readonly analytics?: AnalyticsRoutesPort | undefined
  /** POST /v1/corrections is mounted only with it. */
  readonly corrections?: CorrectionsPort | undefined
  /** DELETE /v1/users/{id} and GET /v1/erasures/{id} are mounted only with it. */
  readonly erasures?: ErasurePort | undefined
  readonly config: GatewayConfig
  readonly log?: GatewayLogger | undefined
}

export const consoleLogger: GatewayLogger = {
  warn: (message, fields) => console.warn(JSON.stringify({ level: "warn", component: "gateway", message, ...fields })),
  error: (message, fields) => console.error(JSON.stringify({ level: "error", component: "gateway", message, ...fields }))
}
