// Dry runs of a rules change started over HTTP (POST /v1/rules/dry-run, admin): each runs as a
// child process (`arena rules diff --json`), off the live path; the gateway starts one and polls
// it by id. Implemented by adapters/process/DryRunJobs.ts.
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

export interface DryRunPort {
  /** Validates the proposed rules document and starts a dry run (one at a time). */
  start(rules: unknown): DryRunStart
  get(jobId: string): DryRunJobView | null
}
