// The analysts' reads the gateway serves (implemented by adapters/clickhouse/AnalyticsQueries.ts).
/** The analysts' reads the gateway serves (dashboards, ad-hoc SQL); mounted only when given. */
export interface AnalyticsRoutesPort {
  listDashboards(): Promise<unknown>
  dashboard(name: string, range: { fromMs: number; toMs: number }): Promise<unknown>
  /** Read-only query; admin only. */
  sql(query: string): Promise<unknown>
}
