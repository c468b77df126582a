// A tiny Prometheus registry (text exposition format 0.0.4): counters and gauges with
// labels, histograms with fixed buckets, and one shared `registry` every module records into.
// Plain synchronous code: recording sits on hot paths (per event, per publish).

export type Labels = Readonly<Record<string, string>>

interface Family {
  readonly name: string
  readonly help: string
  readonly type: "counter" | "gauge" | "histogram"
  render(out: Array<string>): void
}

const escapeLabel = (v: string): string => v.replace(/\\/g, "\\\\").replace(/\n/g, "\\n").replace(/"/g, "\\\"")
const escapeHelp = (v: string): string => v.replace(/\\/g, "\\\\").replace(/\n/g, "\\n")

/** Stable key for a label set: sorted `k="v"` pairs, also the rendered label body. */
const labelKey = (labels: Labels | undefined): string => {
  if (labels === undefined) return ""
  const keys = Object.keys(labels)
  if (keys.length === 0) return ""
  keys.sort()
  return keys.map((k) => `${k}="${escapeLabel(labels[k] ?? "")}"`).join(",")
}

const fmt = (n: number): string =>
  Number.isNaN(n) ? "NaN" : n === Infinity ? "+Inf" : n === -Infinity ? "-Inf" : String(n)

const series = (name: string, key: string, value: number): string =>
  key === "" ? `${name} ${fmt(value)}` : `${name}{${key}} ${fmt(value)}`

const NAME_RE = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/

export class Counter implements Family {
  readonly type = "counter" as const
  private readonly values = new Map<string, number>()
  constructor(readonly name: string, readonly help: string) {}
  inc(labels?: Labels, by = 1): void {
    if (by < 0) throw new Error(`counter ${this.name} cannot decrease`)
    const k = labelKey(labels)
    this.values.set(k, (this.values.get(k) ?? 0) + by)
  }
  get(labels?: Labels): number {
    return this.values.get(labelKey(labels)) ?? 0
  }
  render(out: Array<string>): void {
    for (const [k, v] of this.values) out.push(series(this.name, k, v))
  }
}

export class Gauge implements Family {
  readonly type = "gauge" as const
  private readonly values = new Map<string, number>()
  /** `collect` is called at render time and may set values (e.g. lag read from a consumer). */
  constructor(readonly name: string, readonly help: string, private readonly collect?: (g: Gauge) => void) {}
  set(value: number, labels?: Labels): void {
    this.values.set(labelKey(labels), value)
  }
  inc(labels?: Labels, by = 1): void {
    const k = labelKey(labels)
    this.values.set(k, (this.values.get(k) ?? 0) + by)
  }
  dec(labels?: Labels, by = 1): void {
    this.inc(labels, -by)
  }
  get(labels?: Labels): number {
    return this.values.get(labelKey(labels)) ?? 0
  }
  render(out: Array<string>): void {
    if (this.collect !== undefined) this.collect(this)
    for (const [k, v] of this.values) out.push(series(this.name, k, v))
  }
}

interface HistogramSeries {
  readonly counts: Float64Array // one slot per bucket, non-cumulative; +Inf is `count`
  sum: number
  count: number
}

export class Histogram implements Family {
  readonly type = "histogram" as const
  private readonly data = new Map<string, HistogramSeries>()
  readonly buckets: ReadonlyArray<number>
  constructor(readonly name: string, readonly help: string, buckets: ReadonlyArray<number>) {
    const sorted = [...buckets].sort((a, b) => a - b)
    for (let i = 1; i < sorted.length; i++) {
      if (sorted[i] === sorted[i - 1]) throw new Error(`histogram ${name}: duplicate bucket ${sorted[i]}`)
    }
    this.buckets = sorted.filter((b) => b !== Infinity)
  }
  observe(value: number, labels?: Labels): void {
    const k = labelKey(labels)
    let s = this.data.get(k)
    if (s === undefined) {
      s = { counts: new Float64Array(this.buckets.length), sum: 0, count: 0 }
      this.data.set(k, s)
    }
    // Linear scan: bucket lists are short (≤ ~20) and this beats a binary search there.
    for (let i = 0; i < this.buckets.length; i++) {
      if (value <= this.buckets[i]!) {
        s.counts[i]! += 1
        break
      }
    }
    s.sum += value
    s.count += 1
  }
  /** Count and sum of one label set (tests, quick summaries). */
  snapshot(labels?: Labels): { count: number; sum: number; buckets: ReadonlyArray<[number, number]> } {
    const s = this.data.get(labelKey(labels))
    if (s === undefined) return { count: 0, sum: 0, buckets: this.buckets.map((b) => [b, 0]) }
    let acc = 0
    return { count: s.count, sum: s.sum, buckets: this.buckets.map((b, i) => [b, (acc += s.counts[i]!)]) }
  }
  render(out: Array<string>): void {
    for (const [k, s] of this.data) {
      const pre = k === "" ? "" : `${k},`
      let acc = 0
      for (let i = 0; i < this.buckets.length; i++) {
        acc += s.counts[i]!
        out.push(`${this.name}_bucket{${pre}le="${fmt(this.buckets[i]!)}"} ${acc}`)
      }
      out.push(`${this.name}_bucket{${pre}le="+Inf"} ${s.count}`)
      out.push(series(`${this.name}_sum`, k, s.sum))
      out.push(series(`${this.name}_count`, k, s.count))
    }
  }
}

/** Exponential bucket bounds: start, start×factor, … (count of them). */
export const exponentialBuckets = (start: number, factor: number, count: number): ReadonlyArray<number> =>
  Array.from({ length: count }, (_, i) => start * factor ** i)

export class Registry {
  private readonly families = new Map<string, Family>()

  private register<F extends Family>(family: F): F {
    if (!NAME_RE.test(family.name)) throw new Error(`invalid metric name ${family.name}`)
    const existing = this.families.get(family.name)
    if (existing !== undefined) {
      // Re-registration returns the same instance so modules can declare metrics idempotently.
      if (existing.type !== family.type) throw new Error(`metric ${family.name} already registered as ${existing.type}`)
      return existing as F
    }
    this.families.set(family.name, family)
    return family
  }

  counter(name: string, help: string): Counter {
    return this.register(new Counter(name, help))
  }
  gauge(name: string, help: string, collect?: (g: Gauge) => void): Gauge {
    return this.register(new Gauge(name, help, collect))
  }
  histogram(name: string, help: string, buckets: ReadonlyArray<number>): Histogram {
    return this.register(new Histogram(name, help, buckets))
  }

  /** Prometheus text format 0.0.4 (Content-Type: text/plain; version=0.0.4). `exclude`: family names to skip. */
  render(exclude?: ReadonlySet<string>): string {
    const out: Array<string> = []
    for (const f of this.families.values()) {
      if (exclude !== undefined && exclude.has(f.name)) continue
      out.push(`# HELP ${f.name} ${escapeHelp(f.help)}`)
      out.push(`# TYPE ${f.name} ${f.type}`)
      f.render(out)
    }
    return out.length === 0 ? "" : out.join("\n") + "\n"
  }
}

/** Family names declared (`# TYPE name …`) in a Prometheus text, so two texts can be merged without duplicates. */
export const declaredFamilies = (text: string): Set<string> => {
  const names = new Set<string>()
  for (const m of text.matchAll(/^# TYPE ([a-zA-Z_:][a-zA-Z0-9_:]*) /gm)) names.add(m[1]!)
  return names
}

export const PROMETHEUS_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

/** The process-wide registry: every module records here; GET /metrics renders it. */
export const registry = new Registry()
