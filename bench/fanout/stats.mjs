// Latency statistics for the fan-out bench: the join of probe deltas with the producer's publish
// log (per delta: the oldest of the events that set its changed rows), quantiles, the replay trace.
import * as fs from "node:fs"

export const quantiles = (xs) => {
  const s = Float64Array.from(xs).sort()
  const q = (p) => (s.length === 0 ? NaN : s[Math.min(s.length - 1, Math.floor(p * s.length))])
  return { n: s.length, p50: q(0.5), p90: q(0.9), p99: q(0.99), p999: q(0.999), max: s.length ? s[s.length - 1] : NaN, sorted: s }
}

export const readProbeLog = (file) =>
  fs.readFileSync(file, "utf8").split("\n").filter((l) => l !== "").map((l) => JSON.parse(l))

/**
 * Latency of each probe delta from NATS publish: a delta shows each changed user at the XP of
 * their latest event in (prev_seq, seq]; the oldest of those events (per user, the last one on that
 * board) is the oldest news the frame carries. `last` uses the event named by `seq` instead.
 */
export const joinLatency = (probeLog, producerFile) => {
  const p = JSON.parse(fs.readFileSync(producerFile, "utf8"))
  let maxSeq = 0
  for (const s of p.seq) maxSeq = Math.max(maxSeq, s)
  const t = new Float64Array(maxSeq + 1).fill(NaN), user = new Array(maxSeq + 1), agent = new Array(maxSeq + 1)
  for (let i = 0; i < p.seq.length; i++) { t[p.seq[i]] = p.t[i]; user[p.seq[i]] = p.user[i]; agent[p.seq[i]] = p.agent[i] }
  const cache = new Map()
  const first = [], last = [], unmatched = { n: 0 }, series = []
  for (const [topic, prev, seq, tRecv, , , users] of probeLog) {
    const key = `${topic}|${seq}`
    let t0 = cache.get(key)
    if (t0 === undefined) {
      const board = topic.split("|")[0]
      const wanted = new Set(users.split(" "))
      const ag = board.startsWith("agent:") ? board.slice(6) : null
      t0 = Infinity
      // Newest first: the first event met per user is that user's latest in the range.
      for (let s = Math.min(seq, maxSeq); s > prev && wanted.size > 0; s--) {
        if (Number.isNaN(t[s]) || !wanted.has(user[s]) || (ag !== null && agent[s] !== ag)) continue
        wanted.delete(user[s])
        if (t[s] < t0) t0 = t[s]
      }
      if (t0 === Infinity) { unmatched.n++; t0 = seq <= maxSeq ? t[seq] : NaN }
      cache.set(key, t0)
    }
    if (!Number.isNaN(t0)) { first.push(tRecv - t0); series.push([tRecv, tRecv - t0]) }
    if (seq <= maxSeq && !Number.isNaN(t[seq])) last.push(tRecv - t[seq])
  }
  return { first: quantiles(first), last: quantiles(last), unmatched: unmatched.n, series }
}

/** Bare baseline frames carry their send time as `t`. */
export const bareLatency = (probeLog) => {
  const rows = probeLog.filter((r) => r[5] > 0)
  return { ...quantiles(rows.map((r) => r[3] - r[5])), series: rows.map((r) => [r[3], r[3] - r[5]]) }
}

/** Per-second latency of a run ([receive time, ms] pairs): [second, frames, p50, p99, max]. */
export const perSecond = (series, t0) => {
  const by = new Map()
  for (const [t, l] of series) {
    const k = Math.floor((t - t0) / 1000)
    let a = by.get(k)
    if (a === undefined) by.set(k, (a = []))
    a.push(l)
  }
  return [...by].sort((x, y) => x[0] - y[0]).map(([k, a]) => {
    const q = quantiles(a)
    return [k, q.n, Math.round(q.p50 * 10) / 10, Math.round(q.p99 * 10) / 10, Math.round(q.max * 10) / 10]
  })
}

/** Per-topic frame schedule seen by the probes (one probe per topic), for the bare replay. */
export const traceOf = (probeLog, t0) => {
  const seen = new Set(), out = []
  for (const [topic, , seq, tRecv, bytes] of probeLog) {
    const k = `${topic}|${seq}`
    if (seen.has(k)) continue
    seen.add(k)
    out.push([tRecv - t0, topic, bytes])
  }
  return out.sort((a, b) => a[0] - b[0])
}
