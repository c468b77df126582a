// How long one synchronous piece of work holds the main thread's event loop, by kind: a board's
// delta waits behind whatever runs before it, so the tail of fan-out latency is the tail of these
// (`arena_loop_block_seconds{kind}`), plus garbage-collection pauses (kind gc_*).
import { PerformanceObserver, constants } from "node:perf_hooks"
import type { Labels } from "./Metrics.js"
import { registry } from "./Metrics.js"

/**
 * pipeline_slice: the processor applying one slice of events; views: the slice's board views
 * (and period rollovers) handed to the live feed; slice_output: dead letters, notifications and
 * analytics records of a slice; hub_flush: board views turned into deltas and handed to socket
 * hosts; cut_step: one turn of a snapshot cut's encoding; analytics_flush: one turn of an
 * analytics flush on this thread (batch split, RowBinary copy, bookkeeping once written).
 */
export type BlockKind = "pipeline_slice" | "views" | "slice_output" | "hub_flush" | "cut_step" | "analytics_flush"

const hist = registry.histogram(
  "arena_loop_block_seconds",
  "Time one synchronous piece of main-thread work held the event loop, by kind (pipeline_slice, views, slice_output, hub_flush, cut_step, analytics_flush; gc_minor, gc_major, gc_incremental, gc_other)",
  [0.00025, 0.0005, 0.001, 0.002, 0.004, 0.008, 0.016, 0.032, 0.064, 0.128, 0.256, 0.512]
)

// One label object per kind: observe() is called several times per slice.
const labels = new Map<string, Labels>()
const labelOf = (kind: string): Labels => {
  let l = labels.get(kind)
  if (l === undefined) labels.set(kind, (l = { kind }))
  return l
}

/** Records one piece of work of `kind` that started at `startedMs` (performance.now()) and ends now. */
export const blocked = (kind: BlockKind, startedMs: number): void => {
  hist.observe((performance.now() - startedMs) / 1000, labelOf(kind))
}

/** Runs `f`, recording how long it held the loop. */
export const timed = <A>(kind: BlockKind, f: () => A): A => {
  const t = performance.now()
  try {
    return f()
  } finally {
    blocked(kind, t)
  }
}

/** The histogram's count and sum for one kind (tests). */
export const blockSnapshot = (kind: string) => hist.snapshot(labelOf(kind))

let gcObserver: PerformanceObserver | null = null

/** Records this thread's garbage-collection pauses as gc_minor (scavenges), gc_major (mark-compact), gc_incremental (marking steps), gc_other. Idempotent. */
export const watchGc = (): void => {
  if (gcObserver !== null) return
  gcObserver = new PerformanceObserver((list) => {
    for (const e of list.getEntries()) {
      const kind = (e.detail as { kind?: number } | undefined)?.kind
      const name = kind === constants.NODE_PERFORMANCE_GC_MINOR ? "gc_minor"
        : kind === constants.NODE_PERFORMANCE_GC_INCREMENTAL ? "gc_incremental"
        : kind === constants.NODE_PERFORMANCE_GC_MAJOR ? "gc_major" : "gc_other"
      hist.observe(e.duration / 1000, labelOf(name))
    }
  })
  gcObserver.observe({ entryTypes: ["gc"] })
}
