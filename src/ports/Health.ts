// Liveness, readiness and metrics as the gateway serves them (/healthz, /readyz, /metrics);
// observability/Readiness.ts decides readiness from the running parts.
export interface Readiness {
  readonly ready: boolean
  /** Not ready for a reason no retry fixes: an operator must act (the reasons say what). */
  readonly fatal?: boolean
  /** One sentence per reason (never a raw Cause dump). */
  readonly reasons: ReadonlyArray<string>
  readonly details: Readonly<Record<string, unknown>>
}

export interface HealthPort {
  readiness(): Readiness
  /** Prometheus text exposition of every metric. */
  metrics(): string
}
