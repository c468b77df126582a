// The DryRunRecords of a partitioned deployment (ports/DryRuns.ts): the jobs' records in Postgres
// (table arena_dry_runs, sql/postgres/0013_dry_runs.sql), so every gateway sees every job and one
// runs at a time across gateways (a partial unique index on the running row). The gateway running
// a job saves it on each progress line and every few seconds (beat_at, Postgres' clock); a running
// row silent for STALE_S (its gateway died or was cut off) is marked failed by the next claim or
// read, so it never blocks the next dry run. Postgres that cannot answer: DryRunRecordsUnavailable.
import type postgres from "postgres"
import { DryRunRecordsUnavailable } from "../../ports/DryRuns.js"
import type { DryRunJobView, DryRunRecords } from "../../ports/DryRuns.js"
import { requestStatement, storeStatement } from "./Db.js"

const KEEP = 16
/** Seconds without a save after which a running job counts as failed (its gateway saves every 5 s). */
export const STALE_S = 30
const STALE_ERROR = `the gateway running this dry run stopped (no sign of life for ${STALE_S} s); start it again`

interface Row {
  job_id: string
  status: DryRunJobView["status"]
  version: string
  started_at: Date
  finished_at: Date | null
  progress: DryRunJobView["progress"]
  result: unknown
  error: string | null
}

/** As text (sql.json would send jsonb, which reorders the report's keys): null stays null. */
const json = (v: unknown): string | null => (v === null || v === undefined ? null : JSON.stringify(v))

const toView = (r: Row): DryRunJobView => ({
  job_id: r.job_id, status: r.status, version: r.version, started_at: r.started_at.toISOString(), finished_at: r.finished_at?.toISOString() ?? null,
  progress: r.progress, result: r.result, error: r.error
})

export class PostgresDryRunRecords implements DryRunRecords {
  readonly kept = `in Postgres: the last ${KEEP} of the deployment`

  constructor(private readonly sql: postgres.Sql) {}

  /** Running rows without a sign of life for STALE_S become failed. */
  private expire(tx: postgres.Sql | postgres.TransactionSql) {
    return tx`UPDATE arena_dry_runs SET status = 'failed', finished_at = now(), error = ${STALE_ERROR}
      WHERE status = 'running' AND beat_at < now() - make_interval(secs => ${STALE_S})`
  }

  async claim(v: DryRunJobView): Promise<string | null> {
    const sql = this.sql
    return requestStatement("dry runs: claim", DryRunRecordsUnavailable, () => sql.begin(async (tx) => {
      await this.expire(tx)
      const inserted = await tx`INSERT INTO arena_dry_runs (job_id, status, version, started_at, progress, result, error)
        VALUES (${v.job_id}, 'running', ${v.version}, ${v.started_at}, NULL, NULL, NULL)
        ON CONFLICT DO NOTHING RETURNING job_id`
      if (inserted.length === 0) {
        const running = await tx<Array<{ job_id: string }>>`SELECT job_id FROM arena_dry_runs WHERE status = 'running'`
        return running[0]?.job_id ?? "unknown"
      }
      await tx`DELETE FROM arena_dry_runs WHERE status <> 'running' AND job_id NOT IN (SELECT job_id FROM arena_dry_runs ORDER BY started_at DESC, job_id LIMIT ${KEEP})`
      return null
    }))
  }

  async save(v: DryRunJobView): Promise<void> {
    const sql = this.sql
    // Not a request's statement: the job's own saves wait for Postgres (the next beat saves the latest view anyway).
    await storeStatement("dry runs: save", DryRunRecordsUnavailable, () => sql`UPDATE arena_dry_runs SET
        status = ${v.status}, finished_at = ${v.finished_at}, progress = ${json(v.progress)}::text::json,
        result = ${json(v.result)}::text::json, error = ${v.error}, beat_at = now()
      WHERE job_id = ${v.job_id} AND status = 'running'`)
  }

  async get(jobId: string): Promise<DryRunJobView | null> {
    const sql = this.sql
    const rows = await requestStatement("dry runs: get", DryRunRecordsUnavailable, () => sql.begin(async (tx) => {
      await this.expire(tx)
      return tx<Array<Row>>`SELECT job_id, status, version, started_at, finished_at, progress, result, error FROM arena_dry_runs WHERE job_id = ${jobId}`
    }))
    return rows.length === 0 ? null : toView(rows[0]!)
  }
}
