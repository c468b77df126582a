// The WebSocket metrics of the main thread's registry, and the HostMetrics that feed them: direct
// for the main thread's own sockets, and from the totals that worker hosts report.
import { registry } from "../../observability/Metrics.js"
import type { HostMetrics } from "./HostLink.js"

export const sentTotal = registry.counter("arena_ws_messages_sent_total", "WebSocket frames sent, by type")
const skips = registry.counter("arena_ws_backpressure_skips_total", "Sockets marked stale (skipped by deltas) because their send buffer was over the bound")
const resyncs = registry.counter("arena_ws_resyncs_total", "Snapshots sent to stale sockets once they drained")

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
}

export const countingMetrics = (): HostMetrics & { take(): MetricTotals | null } => {
  let t: MetricTotals = { deltas: 0, snapshots: 0, skips: 0, resyncs: 0 }
  return {
    sent: (type, n) => { if (type === "delta") t.deltas += n; else t.snapshots += n },
    skipped: () => { t.skips++ },
    resynced: () => { t.resyncs++ },
    take: () => {
      if (t.deltas + t.snapshots + t.skips + t.resyncs === 0) return null
      const out = t
      t = { deltas: 0, snapshots: 0, skips: 0, resyncs: 0 }
      return out
    }
  }
}

export const addTotals = (t: MetricTotals): void => {
  if (t.deltas > 0) sentTotal.inc({ type: "delta" }, t.deltas)
  if (t.snapshots > 0) sentTotal.inc({ type: "snapshot" }, t.snapshots)
  if (t.skips > 0) skips.inc(undefined, t.skips)
  if (t.resyncs > 0) resyncs.inc(undefined, t.resyncs)
}
