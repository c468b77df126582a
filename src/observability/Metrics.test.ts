import { describe, expect, it } from "vitest"
import { Registry } from "./Metrics.js"

describe("Metrics registry", () => {
  it("renders counters with labels in Prometheus text format", () => {
    const r = new Registry()
    const c = r.counter("arena_events_rejected_total", "Events rejected")
    c.inc({ reason: "invalid_event" })
    c.inc({ reason: "invalid_event" }, 2)
    c.inc({ reason: "say \"hi\"\n" })
    expect(r.render()).toBe(
      "# HELP arena_events_rejected_total Events rejected\n" +
        "# TYPE arena_events_rejected_total counter\n" +
        "arena_events_rejected_total{reason=\"invalid_event\"} 3\n" +
        "arena_events_rejected_total{reason=\"say \\\"hi\\\"\\n\"} 1\n"
    )
  })

  it("sorts labels so the same set is one series whatever the key order", () => {
    const r = new Registry()
    const c = r.counter("x_total", "x")
    c.inc({ a: "1", b: "2" })
    c.inc({ b: "2", a: "1" })
    expect(c.get({ a: "1", b: "2" })).toBe(2)
  })

  it("calls a gauge's collect callback at render time", () => {
    const r = new Registry()
    let lag = 5
    r.gauge("arena_consumer_lag", "lag", (g) => g.set(lag))
    expect(r.render()).toContain("arena_consumer_lag 5\n")
    lag = 7
    expect(r.render()).toContain("arena_consumer_lag 7\n")
  })

  it("renders cumulative histogram buckets, sum and count", () => {
    const r = new Registry()
    const h = r.histogram("lat_seconds", "latency", [0.01, 0.1, 1])
    h.observe(0.005)
    h.observe(0.05)
    h.observe(5)
    const text = r.render()
    expect(text).toContain("lat_seconds_bucket{le=\"0.01\"} 1\n")
    expect(text).toContain("lat_seconds_bucket{le=\"0.1\"} 2\n")
    expect(text).toContain("lat_seconds_bucket{le=\"1\"} 2\n")
    expect(text).toContain("lat_seconds_bucket{le=\"+Inf\"} 3\n")
    expect(text).toContain("lat_seconds_sum 5.055\n")
    expect(text).toContain("lat_seconds_count 3\n")
  })

  it("returns the same instance on re-registration and refuses a type clash", () => {
    const r = new Registry()
    expect(r.counter("a_total", "a")).toBe(r.counter("a_total", "a"))
    expect(() => r.gauge("a_total", "a")).toThrow(/already registered/)
    expect(() => r.counter("bad name", "a")).toThrow(/invalid metric name/)
    expect(() => r.counter("c_total", "c").inc(undefined, -1)).toThrow()
  })
})

describe("merging exposition texts", () => {
  it("skips families another text already declares", async () => {
    const { declaredFamilies } = await import("./Metrics.js")
    const r = new Registry()
    r.counter("a_total", "a").inc()
    r.counter("b_total", "b").inc()
    const other = "# HELP a_total a\n# TYPE a_total counter\na_total 7\n"
    const merged = other + r.render(declaredFamilies(other))
    expect(merged.match(/# TYPE a_total/g)).toHaveLength(1)
    expect(merged).toContain("b_total 1\n")
  })
})
