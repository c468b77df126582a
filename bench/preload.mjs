// Bench-only preload for `arena serve` (NODE_OPTIONS=--import=bench/preload.mjs): optionally CPU-
// profiles from start-up ($ARENA_BENCH_PROFILE; --cpu-prof is refused in NODE_OPTIONS), and on SIGUSR2
// writes memory before/after a full GC to $ARENA_BENCH_MEMFILE and the profile, if any. Rate limits are
// a setting now (ARENA_RATE_LIMIT_PER_IP / _PER_TOKEN); nothing here patches the service's code.
import * as fs from "node:fs"
import { Session } from "node:inspector"
import v8 from "node:v8"

// Forked children (the chDB process) inherit NODE_OPTIONS; only the service itself is touched.
if (process.argv[2] === "serve") {
  // Every bench request comes from 127.0.0.1, so the default per-IP limit (1,200/min) would answer
  // 429. Scenarios that care set ARENA_RATE_LIMIT_* themselves (queries.mjs does); the others get
  // the limits off unless their environment says otherwise.
  process.env.ARENA_RATE_LIMIT_PER_IP ??= "off"
  process.env.ARENA_RATE_LIMIT_PER_TOKEN ??= "off"

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
