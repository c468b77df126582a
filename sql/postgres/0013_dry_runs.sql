-- Rules dry runs started over HTTP (POST /v1/rules/dry-run, ARCHITECTURE §10) in partitioned mode:
-- each gateway records its jobs here (src/adapters/postgres/DryRunStore.ts), so a GET on any
-- gateway sees every job, and one runs at a time across the deployment (the partial unique index).
-- The gateway running a job saves it on each progress line and every 5 s (beat_at): a running row
-- without a sign of life for 30 s is shown and kept as failed. The last 16 jobs are kept.
-- progress and result are json (the report as written, its key order kept). Single-process mode
-- keeps its jobs in memory and does not use this table.
CREATE TABLE arena_dry_runs (
  job_id      text        PRIMARY KEY,
  status      text        NOT NULL CHECK (status IN ('running', 'done', 'failed')),
  version     text        NOT NULL,
  started_at  timestamptz NOT NULL,
  finished_at timestamptz,
  progress    json,
  result      json,
  error       text,
  beat_at     timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX arena_dry_runs_one_running ON arena_dry_runs ((true)) WHERE status = 'running';
CREATE INDEX arena_dry_runs_by_start ON arena_dry_runs (started_at);
