// Bench-only preload for `arena serve` (NODE_OPTIONS=--import=bench/preload.mjs): lifts the gateway's
// rate limits (only configurable in code; a bench from one loopback IP would get 429s), optionally CPU-
// profiles from start-up ($ARENA_BENCH_PROFILE; --cpu-prof is refused in NODE_OPTIONS), and on SIGUSR2
// writes memory before/after a full GC to $ARENA_BENCH_MEMFILE and the profile, if any.
import * as fs from "node:fs"
import { Session } from "node:inspector"
import v8 from "node:v8"

// Forked children (the chDB process) inherit NODE_OPTIONS; only the service itself is touched.
if (process.argv[2] === "serve") {
  const { DEFAULT_RATE_LIMIT } = await import("../dist/gateway/GatewayConfig.js")
  // The limiter still runs per request (its cost stays in the measurement); it just never refuses.
  Object.assign(DEFAULT_RATE_LIMIT, { perIp: 1e12, perToken: 1e12 })

  const profileFile = process.env.ARENA_BENCH_PROFILE
  let session = null
  if (profileFile) {
    session = new Session()
    session.connect()
    session.post("Profiler.enable")
    session.post("Profiler.setSamplingInterval", { interval: 1000 })
    session.post("Profiler.start")
  }
  process.on("SIGUSR2", () => {
    const before = process.memoryUsage()
    globalThis.gc?.()
    const after = process.memoryUsage()
    const file = process.env.ARENA_BENCH_MEMFILE
    if (file) fs.writeFileSync(file, JSON.stringify({ before, after, heap: v8.getHeapStatistics() }))
    if (session !== null) {
      const s = session
      session = null
      s.post("Profiler.stop", (err, r) => {
        fs.writeFileSync(profileFile, err ? JSON.stringify({ error: String(err) }) : JSON.stringify(r.profile))
        s.disconnect()
      })
    }
  })
}
