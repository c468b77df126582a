// Readiness (/readyz): the pipeline caught up, NATS connected, snapshots succeeding, analytics
// keeping up. Each reason is one sentence. Reads the running parts through the small shapes below
// (the pipeline's status fits them), so observability depends on nothing but itself.
import type { Readiness } from "../ports/Health.js"

/** What readiness reads of a running pipeline (actors/Pipeline.ts's status). */
export interface PipelineHealth {
  readonly status: {
    readonly phase: string
    readonly headAtStart: number
    readonly ingest: { readonly applied: number; readonly pending: number; readonly visible: number; readonly ingested: number }
    readonly snapshot: { readonly lastSeq: number; readonly lastAtMs: number; readonly lastError: string | null; readonly lastErrorFrom?: string | null }
    readonly deadLetters?: { readonly unstored: number; readonly attempts: number; readonly lastError: string | null }
  }
}

/** What readiness reads of the analytics sink. */
export interface AnalyticsHealth {
  readonly connected: boolean
  readonly lastError: string | null
  readonly durableSeq: number
  readonly bufferedRecords: number
}

export interface ReadinessInputs {
  readonly pipeline: () => PipelineHealth | null
  /** Why no pipeline runs (a sentence), or null. */
  readonly pipelineError: () => string | null
  /** Set when the pipeline failed in a way no retry fixes: it is not restarted. */
  readonly pipelineFatal: () => string | null
  readonly natsConnected: () => boolean
  readonly analytics: () => AnalyticsHealth | null
  readonly now: () => number
}

export const readiness = (i: ReadinessInputs): Readiness => {
  const reasons: string[] = []
  const p = i.pipeline()
  const error = i.pipelineError()
  const fatal = i.pipelineFatal()
  if (fatal !== null) reasons.push(`fatal, not retried: ${fatal}`)
  else if (p === null) reasons.push(`pipeline not running${error ? `: ${error}` : ""}`)
  else if (p.status.phase !== "ready") reasons.push(`pipeline ${p.status.phase}: at seq ${p.status.ingest.applied} of ${p.status.headAtStart}`)
  if (!i.natsConnected()) reasons.push("nats: disconnected")
  const dl = p?.status.deadLetters
  if (dl !== undefined && dl.attempts > 0) {
    reasons.push(`dead letters: ${dl.unstored} not stored after ${dl.attempts} attempt(s), still retrying; snapshots wait for them (${dl.lastError})`)
  }
  if (p !== null && p.status.snapshot.lastError !== null && p.status.snapshot.lastErrorFrom !== "dead_letters") reasons.push(`postgres: snapshots failing (${p.status.snapshot.lastError})`)
  const a = i.analytics()
  if (a !== null && !a.connected) reasons.push(`clickhouse: unavailable${a.lastError ? ` (${a.lastError})` : ""}`)
  return {
    ready: reasons.length === 0,
    fatal: fatal !== null,
    reasons,
    details: p === null ? {} : {
      // Visible in boards, profiles and ledgers; what ingest holds beyond it is ingested_seq.
      seq: p.status.ingest.visible,
      ingested_seq: Math.max(p.status.ingest.ingested, p.status.ingest.visible),
      pending: p.status.ingest.pending,
      phase: p.status.phase,
      snapshot_seq: p.status.snapshot.lastSeq,
      ...(dl === undefined || dl.unstored === 0 ? {} : { dead_letters_unstored: dl.unstored, dead_letter_attempts: dl.attempts }),
      snapshot_age_seconds: Math.round((i.now() - p.status.snapshot.lastAtMs) / 1000),
      ...(a === null ? {} : { analytics_durable_seq: a.durableSeq, analytics_buffered: a.bufferedRecords })
    }
  }
}
