// The WebSocket metrics of the main thread's registry, and the HostMetrics that feed them: direct
// for the main thread's own sockets, and from the totals that worker hosts report.
import { registry } from "../../observability/Metrics.js"
import type { HostMetrics } from "./HostLink.js"

export const sentTotal = registry.counter("arena_ws_messages_sent_total", "WebSocket frames sent, by type")
const skips = registry.counter("arena_ws_backpressure_skips_total", "Sockets marked stale (skipped by deltas) because their send buffer was over the bound")
const resyncs = registry.counter("arena_ws_resyncs_total", "Snapshots sent to stale sockets once they drained")
const handoff = registry.histogram("arena_ws_handoff_seconds", "Delta batch handed to a WS worker thread → published there (the wait in its port; ARENA_WS_THREADS ≥ 1)",
  [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5])
const written = registry.histogram("arena_ws_write_seconds", "Delta batch published on a WS worker thread → the loop iteration's frames written (its sockets' send calls; ARENA_WS_THREADS ≥ 1)",
  [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5])

export const registryMetrics: HostMetrics = {
  sent: (type, n) => sentTotal.inc({ type }, n),
  skipped: () => skips.inc(),
  resynced: () => resyncs.inc()
}

/** Counts kept by a worker between two reports. */
export interface MetricTotals {
  deltas: number
  snapshots: number
  skips: number
  resyncs: number
  /** Hand-off delays (seconds) of the batches published since the last report. */
  handoffs: Array<number>
  /** Published → written (seconds), per loop iteration that published batches, since the last report. */
  writes?: Array<number>
}

/** A worker's HostMetrics, counted between reports; `handoff` records one batch's wait in the port. */
export const countingMetrics = (): HostMetrics & { handoff(seconds: number): void; written(seconds: number): void; take(): MetricTotals | null } => {
  const fresh = (): MetricTotals => ({ deltas: 0, snapshots: 0, skips: 0, resyncs: 0, handoffs: [], writes: [] })
  let t = fresh()
  return {
    sent: (type, n) => { if (type === "delta") t.deltas += n; else t.snapshots += n },
    skipped: () => { t.skips++ },
    resynced: () => { t.resyncs++ },
    // Bounded between reports (every 0.5 s): a batch is at least one flush of the hub.
    handoff: (seconds) => { if (t.handoffs.length < 10_000) t.handoffs.push(seconds) },
    written: (seconds) => { if (t.writes!.length < 10_000) t.writes!.push(seconds) },
    take: () => {
      if (t.deltas + t.snapshots + t.skips + t.resyncs + t.handoffs.length + t.writes!.length === 0) return null
      const out = t
      t = fresh()
      return out
    }
  }
}

export const addTotals = (t: MetricTotals): void => {
  if (t.deltas > 0) sentTotal.inc({ type: "delta" }, t.deltas)
  if (t.snapshots > 0) sentTotal.inc({ type: "snapshot" }, t.snapshots)
  if (t.skips > 0) skips.inc(undefined, t.skips)
  if (t.resyncs > 0) resyncs.inc(undefined, t.resyncs)
  for (const h of t.handoffs) handoff.observe(h)
  for (const w of t.writes ?? []) written.observe(w)
}
