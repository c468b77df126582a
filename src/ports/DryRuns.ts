// Dry runs of a rules change started over HTTP (POST /v1/rules/dry-run, admin): each runs as a
// child process (`arena rules diff --json`), off the live path; the gateway starts one and polls
// it by id. Implemented by adapters/process/DryRunJobs.ts, which keeps the jobs' records in
// DryRunRecords: this process's memory (one process), or Postgres (adapters/postgres/DryRunStore.ts:
// every gateway of a partitioned deployment sees every job, and one runs at a time across them).
import { Data } from "effect"
import type { Issue } from "../domain/Model.js"

export interface DryRunJobView {
  readonly job_id: string
  readonly status: "running" | "done" | "failed"
  /** The proposed rules' version. */
  readonly version: string
  readonly started_at: string
  readonly finished_at: string | null
  readonly progress: { readonly seq: number; readonly last_seq: number; readonly percent: number; readonly events_per_second: number } | null
  /** The report (RulesDiffReport plus `run`) once done. */
  readonly result: unknown
  readonly error: string | null
}

export type DryRunStart =
  | { readonly ok: true; readonly job: DryRunJobView }
  | { readonly ok: false; readonly status: 400 | 409 | 503; readonly code: string; readonly message: string; readonly details: ReadonlyArray<Issue> }

/** The store of the jobs' records cannot be reached (Postgres): the routes answer 503 with Retry-After. */
export class DryRunRecordsUnavailable extends Data.TaggedError("DryRunRecordsUnavailable")<{ readonly message: string }> {}

export interface DryRunPort {
  /** Validates the proposed rules document and starts a dry run (one at a time). */
  start(rules: unknown): Promise<DryRunStart>
  /** Rejects with DryRunRecordsUnavailable when the records cannot be read. */
  get(jobId: string): Promise<DryRunJobView | null>
  /** Which jobs are kept and where, for a 404's message ("in memory: the last 16 since the service started"). */
  readonly kept: string
}

/** Where the jobs' records live; every method may reject with DryRunRecordsUnavailable. */
export interface DryRunRecords {
  readonly kept: string
  /** Records a new running job unless one is running: null when recorded, else the running job's id. */
  claim(view: DryRunJobView): Promise<string | null>
  /** A running job's new view (progress, or its end); also its sign of life. A job no longer running stays as it is. */
  save(view: DryRunJobView): Promise<void>
  get(jobId: string): Promise<DryRunJobView | null>
}
