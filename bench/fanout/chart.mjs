// The latency histogram of a fan-out run (bench/fanout/last-run.json → bench/fanout-latency.png):
// share of probe frames per log-spaced latency bin, Arena vs the bare uWS broadcaster, with
// p50/p99 marks. Drawn as SVG, rendered to PNG by headless Chromium (playwright-core).
// Run: node bench/fanout/chart.mjs [run.json] [out.png]
import * as fs from "node:fs"
import * as path from "node:path"

const BINS_PER_DECADE = 10, MIN_MS = 0.1, MAX_MS = 10_000
const W = 900, H = 480, L = 70, R = 20, T = 60, B = 60

const bins = () => {
  const edges = []
  for (let e = Math.log10(MIN_MS); e <= Math.log10(MAX_MS) + 1e-9; e += 1 / BINS_PER_DECADE) edges.push(10 ** e)
  return edges
}

const histogram = (xs, edges) => {
  const counts = new Array(edges.length - 1).fill(0)
  for (const x of xs) {
    const i = Math.min(edges.length - 2, Math.max(0, Math.floor((Math.log10(Math.max(x, MIN_MS)) - Math.log10(MIN_MS)) * BINS_PER_DECADE)))
    counts[i]++
  }
  return counts.map((c) => c / Math.max(1, xs.length))
}

export const svgOf = (run) => {
  const edges = bins()
  const series = [
    { name: "Arena (NATS publish → delta frame)", color: "#d9480f", data: run.arena.hist, q: run.arena },
    ...(run.bare ? [{ name: "bare uWS broadcaster (send → frame)", color: "#1971c2", data: run.bare.hist, q: run.bare }] : [])
  ]
  const hs = series.map((s) => histogram(s.data, edges))
  const ymax = Math.max(0.01, ...hs.flat()) * 1.1
  const x = (ms) => L + ((Math.log10(ms) - Math.log10(MIN_MS)) / (Math.log10(MAX_MS) - Math.log10(MIN_MS))) * (W - L - R)
  const y = (f) => H - B - (f / ymax) * (H - T - B)
  const out = [`<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" font-family="DejaVu Sans, sans-serif" font-size="12">`,
    `<rect width="${W}" height="${H}" fill="white"/>`,
    `<text x="${L}" y="24" font-size="15" font-weight="bold">Fan-out latency: ${run.sockets.toLocaleString("en-US")} WebSockets + ${run.probes} probes, ${run.rate} events/s, ARENA_WS_THREADS=${run.threads}</text>`,
    `<text x="${L}" y="42" fill="#555">${run.when.slice(0, 16).replace("T", " ")} · ${run.machine.split(", Linux")[0]} · share of probe frames per latency bin (log scale)</text>`]
  for (const ms of [0.1, 1, 10, 100, 1000, 10000]) {
    out.push(`<line x1="${x(ms)}" y1="${T}" x2="${x(ms)}" y2="${H - B}" stroke="#eee"/>`,
      `<text x="${x(ms)}" y="${H - B + 18}" text-anchor="middle">${ms} ms</text>`)
  }
  for (let k = 0; k <= 4; k++) {
    const f = (ymax / 4) * k
    out.push(`<text x="${L - 8}" y="${y(f) + 4}" text-anchor="end">${(f * 100).toFixed(0)}%</text>`, `<line x1="${L}" y1="${y(f)}" x2="${W - R}" y2="${y(f)}" stroke="#f3f3f3"/>`)
  }
  out.push(`<line x1="${L}" y1="${H - B}" x2="${W - R}" y2="${H - B}" stroke="#333"/>`)
  series.forEach((s, i) => {
    let d = `M ${x(edges[0])} ${y(0)}`
    hs[i].forEach((f, j) => { d += ` L ${x(edges[j])} ${y(f)} L ${x(edges[j + 1])} ${y(f)}` })
    d += ` L ${x(edges[edges.length - 1])} ${y(0)}`
    out.push(`<path d="${d}" fill="${s.color}" fill-opacity="0.18" stroke="${s.color}" stroke-width="1.6"/>`)
    for (const [label, v, dash] of [["p50", s.q.p50, "4 3"], ["p99", s.q.p99, "1 3"]]) {
      if (!(v > 0)) continue
      const right = x(v) > W - R - 120
      out.push(`<line x1="${x(v)}" y1="${T + 48}" x2="${x(v)}" y2="${H - B}" stroke="${s.color}" stroke-dasharray="${dash}" stroke-width="1.5"/>`,
        `<text x="${x(v) + (right ? -3 : 3)}" y="${T + 60 + i * 14 + (label === "p99" ? 28 : 0)}" text-anchor="${right ? "end" : "start"}" fill="${s.color}">${label} ${v.toFixed(1)} ms</text>`)
    }
    out.push(`<rect x="${L + 10}" y="${T + 6 + i * 18}" width="12" height="12" fill="${s.color}"/>`,
      `<text x="${L + 28}" y="${T + 16 + i * 18}">${s.name}</text>`)
  })
  out.push(`<text x="${(L + W - R) / 2}" y="${H - 14}" text-anchor="middle" fill="#555">latency (probe clients in a separate process, connected last)</text>`, "</svg>")
  return out.join("\n")
}

export const renderPng = async (svg, file) => {
  const { chromium } = await import("playwright-core")
  const browser = await chromium.launch({ executablePath: "/usr/bin/chromium", args: ["--no-sandbox"] })
  try {
    const page = await browser.newPage({ viewport: { width: W, height: H } })
    await page.setContent(`<html><body style="margin:0">${svg}</body></html>`)
    await page.screenshot({ path: file, clip: { x: 0, y: 0, width: W, height: H } })
  } finally {
    await browser.close()
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const input = process.argv[2] ?? path.join(import.meta.dirname, "last-run.json")
  const output = process.argv[3] ?? path.join(import.meta.dirname, "..", "fanout-latency.png")
  await renderPng(svgOf(JSON.parse(fs.readFileSync(input, "utf8"))), output)
  console.log(`wrote ${output}`)
}

/**
 * The rate curve (run.mjs --curve): p50 and p99 latency against the background event rate, Arena
 * (probes connected last, and first) beside bare uWS of the same runs, log scales, the 50 ms target
 * marked, each point's load average under the axis. Plain SVG (no renderer needed).
 */
export const curveSvg = (runs) => {
  const rates = runs.map((r) => r.rate)
  const vals = runs.flatMap((r) => [r.arena.p50, r.arena.p99, r.arena.firstProbes?.p99, r.bare?.p50, r.bare?.p99]).filter((v) => v > 0)
  const lo = 10 ** Math.floor(Math.log10(Math.min(1, ...vals))), hi = 10 ** Math.ceil(Math.log10(Math.max(100, ...vals)))
  const rLo = Math.min(...rates) / 1.5, rHi = Math.max(...rates) * 1.5
  const x = (rate) => L + ((Math.log10(rate) - Math.log10(rLo)) / (Math.log10(rHi) - Math.log10(rLo))) * (W - L - R)
  const y = (ms) => H - B - ((Math.log10(Math.max(ms, lo)) - Math.log10(lo)) / (Math.log10(hi) - Math.log10(lo))) * (H - T - B)
  const r0 = runs[0]
  const out = [`<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" font-family="DejaVu Sans, sans-serif" font-size="12">`,
    `<rect width="${W}" height="${H}" fill="white"/>`,
    `<text x="${L}" y="24" font-size="15" font-weight="bold">Fan-out latency against event rate: ${r0.sockets.toLocaleString("en-US")} WebSockets, ${r0.threadsNote ?? `ARENA_WS_THREADS=${r0.threads}`}</text>`,
    `<text x="${L}" y="42" fill="#555">${r0.when.slice(0, 16).replace("T", " ")} · ${r0.machine.split(", Linux")[0]} · build ${r0.buildId} · NATS publish → delta frame at probe clients</text>`]
  for (let d = lo; d <= hi; d *= 10) {
    out.push(`<line x1="${L}" y1="${y(d)}" x2="${W - R}" y2="${y(d)}" stroke="#eee"/>`, `<text x="${L - 8}" y="${y(d) + 4}" text-anchor="end">${d} ms</text>`)
  }
  out.push(`<line x1="${L}" y1="${y(50)}" x2="${W - R}" y2="${y(50)}" stroke="#2b8a3e" stroke-dasharray="6 4"/>`,
    `<text x="${W - R - 4}" y="${y(50) - 4}" text-anchor="end" fill="#2b8a3e">50 ms target</text>`)
  for (const r of runs) {
    const la = r.arena.loadAvg ? ` · load ${((r.arena.loadAvg[0] + r.arena.loadAvg[1]) / 2).toFixed(1)}` : ""
    out.push(`<line x1="${x(r.rate)}" y1="${T}" x2="${x(r.rate)}" y2="${H - B}" stroke="#f3f3f3"/>`,
      `<text x="${x(r.rate)}" y="${H - B + 18}" text-anchor="middle">${r.rate.toLocaleString("en-US")} ev/s${la}</text>`)
  }
  out.push(`<line x1="${L}" y1="${H - B}" x2="${W - R}" y2="${H - B}" stroke="#333"/>`)
  const series = [
    { name: "Arena p99 (probes connected last)", color: "#d9480f", dash: "", get: (r) => r.arena.p99 },
    { name: "Arena p99 (probes connected first)", color: "#e8590c", dash: "2 3", get: (r) => r.arena.firstProbes?.p99 },
    { name: "Arena p50", color: "#d9480f", dash: "6 3", get: (r) => r.arena.p50 },
    { name: "bare uWS p99", color: "#1971c2", dash: "", get: (r) => r.bare?.p99 },
    { name: "bare uWS p50", color: "#1971c2", dash: "6 3", get: (r) => r.bare?.p50 }
  ]
  series.forEach((s, i) => {
    const pts = runs.filter((r) => s.get(r) > 0).map((r) => [x(r.rate), y(s.get(r)), s.get(r)])
    if (pts.length === 0) return
    out.push(`<polyline points="${pts.map(([px, py]) => `${px},${py}`).join(" ")}" fill="none" stroke="${s.color}" stroke-width="2" stroke-dasharray="${s.dash}"/>`)
    for (const [px, py, v] of pts) out.push(`<circle cx="${px}" cy="${py}" r="3.5" fill="${s.color}"/>`, `<text x="${px + 6}" y="${py - 6}" fill="${s.color}" font-size="11">${v.toFixed(0)}</text>`)
    out.push(`<line x1="${L + 10}" y1="${T + 12 + i * 18}" x2="${L + 34}" y2="${T + 12 + i * 18}" stroke="${s.color}" stroke-width="2" stroke-dasharray="${s.dash}"/>`,
      `<text x="${L + 40}" y="${T + 16 + i * 18}">${s.name}</text>`)
  })
  out.push(`<text x="${(L + W - R) / 2}" y="${H - 14}" text-anchor="middle" fill="#555">background event rate (log scale); latency log scale</text>`, "</svg>")
  return out.join("\n")
}
