// Helpers shared by the scenario benches (pipeline, ingest, queries, memory) on top of lib.mjs:
// tokens, WebSocket watchers, process-tree CPU/RSS, readiness timelines, CPU-profile summaries,
// board keys for the Redis baseline, percentiles, a throughput chart rendered with Chromium.
import { execFileSync } from "node:child_process"
import * as fs from "node:fs"
import * as net from "node:net"
import * as path from "node:path"
import { SignJWT } from "jose"
import WebSocket from "ws"
import { ROOT, cpuOf, readyz, rssOf } from "./lib.mjs"

export const SECRET = "bench-secret-0123456789abcdef" // the one lib.mjs's envFor gives the service
export const PRELOAD = path.join(ROOT, "bench/preload.mjs")
export const log = (s) => process.stdout.write(`${new Date().toISOString().slice(11, 19)} ${s}\n`)
export const sleep = (ms) => new Promise((r) => setTimeout(r, ms))
export const median = (xs) => { const s = [...xs].sort((a, b) => a - b); return s.length === 0 ? NaN : s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2 }
export const pct = (sorted, p) => sorted.length === 0 ? NaN : sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]

export const mintToken = (sub = "bench", scope = "events:write admin") =>
  new SignJWT({ scope }).setProtectedHeader({ alg: "HS256" }).setSubject(sub).setIssuedAt().setExpirationTime("2h").sign(new TextEncoder().encode(SECRET))

/**
 * Environment for a bench service: the preload defaults ARENA_RATE_LIMIT_PER_IP / _PER_TOKEN to
 * `off` unless `extra` sets them (see bench/README.md) and answers SIGUSR2 with a memory report.
 */
export const benchEnv = (extra = {}, nodeOptions = "") =>
  ({ NODE_OPTIONS: `--import=${PRELOAD} --expose-gc ${nodeOptions}`.trim(), ...extra })

/** Every descendant pid of `pid` (the chDB child and anything it forks). */
export const descendants = (pid) => {
  const out = []
  const walk = (p) => {
    let kids = []
    try { kids = fs.readFileSync(`/proc/${p}/task/${p}/children`, "utf8").trim().split(/\s+/).filter(Boolean).map(Number) } catch {}
    for (const k of kids) { out.push(k); walk(k) }
  }
  walk(pid)
  return out
}
export const treeCpu = (pid) => [pid, ...descendants(pid)].reduce((a, p) => { try { return a + cpuOf(p) } catch { return a } }, 0)
export const treeRss = (pid) => [pid, ...descendants(pid)].reduce((a, p) => a + rssOf(p), 0)

/** The unlabelled samples of the service's /metrics (name → value); {} when it does not answer. */
export const metricsOf = async (port) => {
  try {
    const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text()
    const out = {}
    for (const m of text.matchAll(/^([a-z_]+) ([-\d.e+]+)$/gm)) out[m[1]] = Number(m[2])
    return out
  } catch { return {} }
}

/** Samples /readyz (and the analytics buffer from /metrics) every `everyMs` until stopped: [{t (ms since start), seq, rss, cpu}]. */
export const timeline = (svc, everyMs = 250) => {
  const points = []
  const t0 = Date.now()
  let on = true
  const loop = (async () => {
    while (on) {
      const r = await readyz(svc.port)
      const m = await metricsOf(svc.port)
      points.push({
        t: Date.now() - t0, seq: r.body.details?.seq ?? 0, rss: rssOf(svc.child.pid), cpu: treeCpu(svc.child.pid),
        chBuffered: m.arena_analytics_buffered_records ?? 0, chDurable: m.arena_analytics_durable_seq ?? 0
      })
      await sleep(everyMs)
    }
  })()
  return { points, t0, stop: async () => { on = false; await loop } }
}

/** Per-interval rates from a timeline: [{t, rate}] over `binMs` bins. */
export const rates = (points, binMs = 1000) => {
  const out = []
  let prev = points[0]
  for (const p of points) {
    if (p.t - prev.t >= binMs) { out.push({ t: p.t, rate: ((p.seq - prev.seq) * 1000) / (p.t - prev.t) }); prev = p }
  }
  return out
}

/**
 * Leaderboard watchers (a few WS clients, so board views and deltas are really computed).
 * Each checks the §7 chain: a delta's prev_seq equals the previous message's seq.
 */
export const watchers = async (port, specs) => {
  const stats = specs.map((s) => ({ spec: s, snapshots: 0, deltas: 0, bytes: 0, gaps: 0, lastSeq: -1 }))
  const sockets = await Promise.all(specs.map((s, i) => new Promise((resolve, reject) => {
    const ws = new WebSocket(`ws://127.0.0.1:${port}/ws/leaderboard/${encodeURIComponent(s.board)}?window=${s.window}&limit=${s.limit ?? 100}`)
    const st = stats[i]
    ws.on("message", (data) => {
      st.bytes += data.length
      const m = JSON.parse(data.toString())
      if (m.type === "snapshot") st.snapshots++
      else if (m.type === "delta") { st.deltas++; if (m.prev_seq !== st.lastSeq) st.gaps++ }
      st.lastSeq = m.seq
    })
    ws.once("open", () => resolve(ws))
    ws.once("error", reject)
  })))
  return { stats, close: () => { for (const s of sockets) s.terminate() } }
}

/** The boards an event touches (global and its agent × 4 windows), named like Arena's periods. */
const periodCache = new Map()
export const periodsOf = (iso) => {
  const hit = periodCache.get(iso.slice(0, 10))
  if (hit !== undefined) return hit
  const d = new Date(iso)
  const day = iso.slice(0, 10)
  // ISO week: the Thursday of this week decides the year.
  const t = new Date(Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate()))
  t.setUTCDate(t.getUTCDate() + 4 - (t.getUTCDay() || 7))
  const week = Math.ceil(((t - Date.UTC(t.getUTCFullYear(), 0, 1)) / 86_400_000 + 1) / 7)
  const out = ["all", `day:${day}`, `week:${t.getUTCFullYear()}-W${String(week).padStart(2, "0")}`, `month:${iso.slice(0, 7)}`]
  periodCache.set(day, out)
  return out
}
export const boardKeys = (prefix, ev) => {
  const ps = periodsOf(ev.timestamp)
  const out = []
  for (const p of ps) { out.push(`${prefix}:global:${p}`); out.push(`${prefix}:agent:${ev.agent_name}:${p}`) }
  return out
}
export const BASE_POINTS = {
  task_completed: 10, error_resolved: 20, speed_bonus: 5, complex_api_design: 25, performance_optimization: 30, security_implementation: 35,
  realtime_feature: 40, mission_architecture: 75, mission_performance: 100, mission_security: 125, mission_analytics: 150
}
export const pointsOf = (ev) => ev.base_points ?? BASE_POINTS[ev.action_type] ?? 10

/**
 * Top self-time functions of a .cpuprofile, restricted to samples taken between `fromUs` and
 * `toUs` (CLOCK_MONOTONIC µs, the clock of process.hrtime in the bench process too).
 */
export const summarizeProfile = (file, fromUs = 0, toUs = Infinity, top = 20) => {
  const prof = JSON.parse(fs.readFileSync(file, "utf8"))
  const byId = new Map(prof.nodes.map((n) => [n.id, n]))
  const self = new Map()
  const byArea = new Map()
  let t = prof.startTime, total = 0
  for (let i = 0; i < prof.samples.length; i++) {
    t += prof.timeDeltas[i]
    const dt = prof.timeDeltas[i + 1] ?? 0
    if (t < fromUs || t > toUs) continue
    const cf = byId.get(prof.samples[i]).callFrame
    const file = cf.url.replace(/^file:\/\//, "").replace(ROOT + "/", "")
    const key = `${cf.functionName || "(anonymous)"}  ${file ? `${file.replace(/^.*node_modules\//, "~/")}:${cf.lineNumber + 1}` : ""}`
    self.set(key, (self.get(key) ?? 0) + dt)
    const area = !file ? (cf.functionName || "(native)") : file.startsWith("dist/") ? file.split("/").slice(0, 2).join("/") :
      file.includes("node_modules/") ? file.replace(/^.*node_modules\/((@[^/]+\/)?[^/]+).*$/, "$1") : file.startsWith("node:") ? "node:*" : file
    byArea.set(area, (byArea.get(area) ?? 0) + dt)
    total += dt
  }
  const sorted = (m) => [...m].sort((a, b) => b[1] - a[1])
  return { totalMs: total / 1000, top: sorted(self).slice(0, top).map(([k, us]) => ({ fn: k, ms: us / 1000, share: us / total })), areas: sorted(byArea).slice(0, 12).map(([k, us]) => ({ area: k, ms: us / 1000, share: us / total })) }
}

/** A line chart (SVG in headless Chromium via playwright-core) saved as PNG. */
const esc = (s) => String(s).replaceAll("&", "&amp;").replaceAll("<", "&lt;").replaceAll(">", "&gt;")
export const renderChart = async (pngPath, { title, xLabel, yLabel, series, hlines = [], note = "" }) => {
  title = esc(title); note = esc(note)
  const W = 1000, H = 480, L = 80, R = 30, T = 50, B = 70
  const xs = series.flatMap((s) => s.points.map((p) => p[0]))
  const ys = [...series.flatMap((s) => s.points.map((p) => p[1])), ...hlines.map((h) => h.y)]
  const xMax = Math.max(1, ...xs), yMax = Math.max(1, ...ys) * 1.1
  const X = (x) => L + (x / xMax) * (W - L - R), Y = (y) => H - B - (y / yMax) * (H - T - B)
  const colors = ["#2563eb", "#dc2626", "#16a34a", "#9333ea", "#ea580c"]
  const nice = (v) => v >= 1e6 ? `${(v / 1e6).toFixed(1)}M` : v >= 1e3 ? `${Math.round(v / 1e3)}k` : String(Math.round(v))
  let svg = `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" font-family="sans-serif" font-size="13"><rect width="100%" height="100%" fill="white"/>`
  svg += `<text x="${W / 2}" y="28" text-anchor="middle" font-size="17" font-weight="bold">${title}</text>`
  for (let i = 0; i <= 5; i++) {
    const y = (yMax / 5) * i
    svg += `<line x1="${L}" x2="${W - R}" y1="${Y(y)}" y2="${Y(y)}" stroke="#e5e7eb"/><text x="${L - 8}" y="${Y(y) + 4}" text-anchor="end">${nice(y)}</text>`
    const x = (xMax / 5) * i
    svg += `<text x="${X(x)}" y="${H - B + 20}" text-anchor="middle">${x.toFixed(xMax < 10 ? 1 : 0)}</text>`
  }
  svg += `<text x="${(W + L) / 2}" y="${H - B + 42}" text-anchor="middle">${xLabel}</text><text transform="translate(20 ${(H - B + T) / 2}) rotate(-90)" text-anchor="middle">${yLabel}</text>`
  hlines.forEach((h, i) => { svg += `<line x1="${L}" x2="${W - R}" y1="${Y(h.y)}" y2="${Y(h.y)}" stroke="${h.color ?? "#6b7280"}" stroke-dasharray="6 4" stroke-width="1.5"/><text x="${W - R - 4}" y="${Y(h.y) - 6}" text-anchor="end" fill="${h.color ?? "#374151"}">${h.label}</text>` })
  series.forEach((s, i) => {
    svg += `<polyline fill="none" stroke="${colors[i % colors.length]}" stroke-width="2" points="${s.points.map(([x, y]) => `${X(x).toFixed(1)},${Y(y).toFixed(1)}`).join(" ")}"/>`
    svg += `<rect x="${L + 10}" y="${T + 6 + i * 20}" width="14" height="4" fill="${colors[i % colors.length]}"/><text x="${L + 30}" y="${T + 12 + i * 20}">${s.label}</text>`
  })
  svg += `<text x="${L}" y="${H - 12}" font-size="11" fill="#6b7280">${note}</text></svg>`
  const { chromium } = await import("playwright-core")
  const browser = await chromium.launch({ executablePath: "/usr/bin/chromium", args: ["--no-sandbox"] })
  try {
    const page = await browser.newPage({ viewport: { width: W, height: H } })
    await page.setContent(`<html><body style="margin:0">${svg}</body></html>`)
    await page.screenshot({ path: pngPath })
  } finally { await browser.close() }
}

/**
 * A minimal RESP pipeline to Redis (pre-encoded commands, replies only counted), so a Redis
 * baseline measures Redis plus a thin client rather than a driver's per-command JS overhead.
 * Every reply must be a bulk string (ZINCRBY) or an integer (ZADD, UNLINK); errors throw.
 */
export const rawRedis = async (host = "127.0.0.1", port = 6379) => {
  const net = await import("node:net")
  const sock = net.connect(port, host)
  await new Promise((res, rej) => { sock.once("connect", res); sock.once("error", rej) })
  sock.setNoDelay(true)
  let lines = 0, expectLines = 0, failure = null
  let waiters = []
  sock.on("data", (d) => {
    for (let i = 0; i < d.length; i++) if (d[i] === 10) lines++
    if (d.includes("\r\n-") || d[0] === 45) failure = new Error(`redis error: ${d.toString().slice(0, 200)}`)
    const ready = waiters.filter((w) => lines >= w.lines || failure)
    waiters = waiters.filter((w) => !(lines >= w.lines || failure))
    for (const w of ready) failure ? w.reject(failure) : w.resolve()
  })
  const enc = (args) => { let s = `*${args.length}\r\n`; for (const a of args) { const v = String(a); s += `$${v.length}\r\n${v}\r\n` } return s }
  return {
    /** Send commands whose replies take `linesPerReply` lines each; resolves when the backlog ≤ maxLines. */
    send: async (cmds, linesPerReply, maxLines = 64_000) => {
      sock.write(cmds.map(enc).join(""))
      expectLines += cmds.length * linesPerReply
      if (expectLines - lines > maxLines) await new Promise((resolve, reject) => waiters.push({ lines: expectLines - maxLines, resolve, reject }))
    },
    drain: () => lines >= expectLines ? Promise.resolve() : new Promise((resolve, reject) => waiters.push({ lines: expectLines, resolve, reject })),
    close: () => sock.end()
  }
}

/** The commit the measured dist/ was most likely built from ("+dirty": src/ had local changes). */
export const buildId = () => {
  try {
    const git = (...a) => execFileSync("git", a, { cwd: ROOT }).toString().trim()
    return `${git("rev-parse", "--short", "HEAD")}${git("status", "--porcelain", "src") ? "+dirty" : ""}`
  } catch { return "unknown" }
}

/** Progress stalls in a timeline: seconds with no seq progress, and the longest /readyz silence. */
export const stalls = (points, chFullAt = 180_000) => {
  let still = 0, gap = 0, chFull = 0
  for (let i = 1; i < points.length; i++) {
    const dt = points[i].t - points[i - 1].t
    gap = Math.max(gap, dt)
    if (points[i].seq === points[i - 1].seq) {
      still += dt
      // The analytics buffer near its bound (200,000 records): ClickHouse back-pressure.
      if (Math.max(points[i].chBuffered ?? 0, points[i - 1].chBuffered ?? 0) >= chFullAt) chFull += dt
    }
  }
  return { stillSecs: still / 1000, longestGapMs: gap, analyticsFullSecs: chFull / 1000 }
}

/**
 * Open-loop HTTP/1.1 load at a fixed rate over keep-alive sockets (one request in flight per socket,
 * up to `maxConns`). Requests are dispatched on schedule whether or not earlier ones have returned, so a
 * server stall shows up in the tail instead of silently lowering the rate (no coordinated omission). autocannon's overallRate sends each connection's
 * per-second quota back to back and then pauses, which is a burst per second, not a fixed rate.
 *
 * Every scheduled request ends in exactly one outcome: a 2xx answer (its latency goes in `lat`), a
 * non-2xx answer, a socket error/close while it was in flight, or lost (no answer `graceMs` after the
 * last request was due). `failed` counts all but the first; `latencyAt` ranks failures after every
 * success, so a lost request is never left out of the percentiles (see bench/README.md, queries).
 */
export const fixedRate = (port, rate, ms, nextPath, maxConns = 64, graceMs = 10_000) => new Promise((resolve) => {
  const idle = [], lat = [], status = new Map()
  let conns = 0, sent = 0, done = 0, failed = 0, queue = [], finished = false
  const t0 = performance.now()
  const total = Math.floor((rate * ms) / 1000)
  const count = (code) => status.set(code, (status.get(code) ?? 0) + 1)
  const settle = () => { done++; if (done === total) finish() }
  const open = () => {
    conns++
    const s = net.connect(port, "127.0.0.1")
    s.setNoDelay(true)
    let buf = "", due = 0
    s.busy = false
    s.on("data", (d) => {
      buf += d.toString("latin1")
      for (;;) {
        const he = buf.indexOf("\r\n\r\n")
        if (he < 0) return
        const m = /content-length: *(\d+)/i.exec(buf.slice(0, he))
        const end = he + 4 + (m ? Number(m[1]) : 0)
        if (buf.length < end) return
        const code = buf.slice(9, 12)
        count(code)
        if (code[0] === "2") lat.push(performance.now() - due); else failed++
        buf = buf.slice(end)
        s.busy = false
        settle()
        if (finished) return
        give(s)
      }
    })
    // A socket that fails takes its in-flight request with it (counted as failed, not left to the
    // grace timer); the socket is not reused, later requests go to the others or a new one.
    s.on("error", () => {})
    s.on("close", () => {
      conns--
      const i = idle.indexOf(s)
      if (i >= 0) idle.splice(i, 1)
      if (finished || !s.busy) return
      s.busy = false
      count("socket closed")
      failed++
      settle()
    })
    s.send = (p, at) => { due = at; s.busy = true; s.write(`GET ${p} HTTP/1.1\r\nHost: bench\r\n\r\n`) }
    all.push(s)
    return s
  }
  const all = []
  // No answer `graceMs` after the last request was due: what is still queued, in flight or not yet
  // sent is lost (counted, and failed).
  const guard = setTimeout(() => {
    if (finished) return
    const lost = total - done
    if (lost > 0) { status.set("lost", lost); failed += lost; done = total }
    finish()
  }, ms + graceMs)
  const finish = () => {
    if (finished) return
    finished = true
    clearTimeout(guard)
    for (const c of all) c.destroy()
    resolve({ lat, status, failed, total, conns: all.length, secs: (performance.now() - t0) / 1000 })
  }
  const give = (s) => { const q = queue.shift(); if (q) s.send(q.p, q.at); else idle.push(s) }
  const tick = () => {
    if (finished) return
    const now = performance.now()
    const due = Math.min(total, Math.floor(((now - t0) * rate) / 1000))
    for (; sent < due; sent++) {
      // Measured from this dispatch (not from the ideal schedule): the 1 ms timer's jitter is the
      // client's, but waiting for a free socket is queueing the server caused, so it counts.
      const at = now
      const s = idle.pop() ?? (conns < maxConns ? open() : null)
      if (s) s.send(nextPath(), at); else queue.push({ p: nextPath(), at })
    }
    // A 1 ms timer, not a busy setImmediate loop: the client must not eat the CPU the server needs.
    if (sent < total) setTimeout(tick, 1)
  }
  for (let i = 0; i < Math.min(8, maxConns); i++) idle.push(open())
  setTimeout(tick, 1)
})

/**
 * The p-th percentile of a fixedRate run over every scheduled request: `sortedOk` are the 2xx
 * latencies, the `failed` requests rank after all of them (a failure is never faster than a
 * success). Infinity when the percentile falls among the failures.
 */
export const latencyAt = (sortedOk, failed, p) => {
  const n = sortedOk.length + failed
  if (n === 0) return NaN
  const rank = Math.min(n - 1, Math.floor((p / 100) * n))
  return rank < sortedOk.length ? sortedOk[rank] : Infinity
}
