// The pipeline's gauges (consumer lag, applied seq, snapshot age and seq), registered once per
// process and read from whichever pipeline runs now (`watchPipeline` points them at it).
import type { PipelineHealth } from "./Readiness.js"
import { registry } from "./Metrics.js"

let running: (() => PipelineHealth | null) | null = null

registry.gauge("arena_consumer_lag", "Messages in the stream not yet applied", (g) => g.set(running?.()?.status.ingest.pending ?? 0))
registry.gauge("arena_applied_seq", "Last stream sequence applied", (g) => g.set(running?.()?.status.ingest.applied ?? 0))
registry.gauge("arena_snapshot_age_seconds", "Seconds since the last committed snapshot", (g) => {
  const p = running?.()
  g.set(p ? (Date.now() - p.status.snapshot.lastAtMs) / 1000 : 0)
})
registry.gauge("arena_snapshot_seq", "Stream sequence of the last committed snapshot", (g) => g.set(running?.()?.status.snapshot.lastSeq ?? 0))

export const watchPipeline = (current: () => PipelineHealth | null): void => { running = current }
