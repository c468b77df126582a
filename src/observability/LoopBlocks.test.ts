// The loop-blocking histogram: every timed piece of work is counted under its kind (also when it
// throws), and GC pauses are recorded once watched.
import { describe, expect, it } from "vitest"
import { blockSnapshot, timed, watchGc } from "./LoopBlocks.js"
import { registry } from "./Metrics.js"

describe("arena_loop_block_seconds", () => {
  it("counts each timed piece of work under its kind, returns its value, and still counts one that throws", () => {
    const before = blockSnapshot("cut_step").count
    expect(timed("cut_step", () => 42)).toBe(42)
    expect(() => timed("cut_step", () => { throw new Error("boom") })).toThrow("boom")
    const after = blockSnapshot("cut_step")
    expect(after.count).toBe(before + 2)
    expect(registry.render()).toMatch(/^arena_loop_block_seconds_count\{kind="cut_step"\} \d+$/m)
  })

  it("records garbage-collection pauses once watched", async () => {
    watchGc()
    const kinds = ["gc_minor", "gc_major", "gc_incremental", "gc_other"]
    const total = () => kinds.reduce((s, k) => s + blockSnapshot(k).count, 0)
    const before = total()
    // Allocate until the young generation is collected at least once (entries arrive asynchronously).
    let keep: Array<Array<number>> = []
    await expect.poll(() => {
      for (let i = 0; i < 20_000; i++) keep.push([i, i + 1, i + 2])
      keep = keep.slice(-1000)
      return total()
    }, { timeout: 10_000, interval: 20 }).toBeGreaterThan(before)
  })
})
