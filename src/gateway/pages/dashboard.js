// The analytics page: lists the dashboards (GET /v1/analytics/dashboards), runs each over the
// chosen range (GET /v1/analytics/dashboards/{name}?from=<ms>&to=<ms> → {name, columns, types,
// rows}) and draws it with uPlot (served from /assets, no CDN): time series, bars plus a table,
// or a table. Relative ranges follow the clock; the page refreshes every 5 s while enabled.
// DOM text only through textContent (strict CSP, no inline code or markup from data).

const uPlot = /** @type {any} */ (window).uPlot
const REFRESH_MS = 5000
const COLORS = ["#6ea8fe", "#3ccf8e", "#f5c451", "#f06a6a", "#c58af9", "#5fd4e6", "#ff9f5a", "#a3b1cc"]
const AXIS = { stroke: "#8d97b5", grid: { stroke: "#26304a", width: 1 }, ticks: { stroke: "#26304a", width: 1 } }

const $ = (/** @type {string} */ id) => /** @type {HTMLElement} */ (document.getElementById(id))
const preset = /** @type {HTMLSelectElement} */ ($("preset"))
const fromInput = /** @type {HTMLInputElement} */ ($("from"))
const toInput = /** @type {HTMLInputElement} */ ($("to"))
const auto = /** @type {HTMLInputElement} */ ($("auto"))
const status = $("status")
const grid = $("grid")

/** @type {Map<string, {info: any, card: HTMLElement, chart: HTMLElement, table: HTMLElement, plot: any, shape: string}>} */
const cards = new Map()
let timer = 0
let generation = 0

const el = (/** @type {string} */ tag, /** @type {string} */ cls = "", /** @type {string} */ text = "") => {
  const e = document.createElement(tag)
  if (cls) e.className = cls
  if (text) e.textContent = text
  return e
}

// datetime-local inputs are read and written as UTC, like everything on this page.
const toInputValue = (/** @type {number} */ ms) => new Date(ms).toISOString().slice(0, 16)
const fromInputValue = (/** @type {string} */ v) => Date.parse(v + ":00Z")

const currentRange = () => {
  if (preset.value === "custom") {
    const fromMs = fromInputValue(fromInput.value)
    const toMs = fromInputValue(toInput.value)
    if (!Number.isFinite(fromMs) || !Number.isFinite(toMs) || fromMs >= toMs) return null
    return { fromMs, toMs }
  }
  const toMs = Date.now()
  return { fromMs: toMs - Number(preset.value), toMs }
}

const isNumeric = (/** @type {string} */ t) => /^(Nullable\()?(U?Int|Float|Decimal)/.test(t)
const isTime = (/** @type {string} */ t) => /^(Nullable\()?(Date|DateTime)/.test(t)
/** Date / Date32: one value per UTC day. */
const isDay = (/** @type {string} */ t) => /^(Nullable\()?Date(32)?\)?$/.test(t)
const dayText = (/** @type {number} */ s) => new Date(s * 1000).toISOString().slice(0, 10)
const minuteText = (/** @type {number} */ s) => new Date(s * 1000).toISOString().slice(11, 16)
/** ClickHouse Date / DateTime / DateTime64 text (UTC) → epoch seconds. */
const toEpochSeconds = (/** @type {string} */ v) => Date.parse(v.length <= 10 ? v + "T00:00:00Z" : v.replace(" ", "T") + "Z") / 1000

const fmt = (/** @type {unknown} */ v) => {
  if (v === null || v === undefined) return "–"
  if (typeof v === "number") return Number.isInteger(v) ? v.toLocaleString("en-US") : v.toLocaleString("en-US", { maximumFractionDigits: 4 })
  if (Array.isArray(v)) return v.join(", ")
  return String(v)
}

const renderTable = (/** @type {HTMLElement} */ host, /** @type {any} */ res) => {
  host.replaceChildren()
  const wrap = el("div", "tablewrap")
  const table = el("table")
  const head = el("tr")
  res.columns.forEach((/** @type {string} */ c, /** @type {number} */ i) => head.append(el("th", isNumeric(res.types[i]) ? "num" : "", c)))
  const thead = el("thead")
  thead.append(head)
  const tbody = el("tbody")
  for (const row of res.rows) {
    const tr = el("tr")
    row.forEach((/** @type {unknown} */ v, /** @type {number} */ i) => tr.append(el("td", isNumeric(res.types[i]) ? "num" : "", fmt(v))))
    tbody.append(tr)
  }
  table.append(thead, tbody)
  wrap.append(table)
  host.append(wrap)
}

/** uPlot options and data for a result, or null when it cannot be charted. */
const chartOf = (/** @type {string} */ kind, /** @type {any} */ res, /** @type {number} */ width) => {
  const numeric = res.columns.map((/** @type {string} */ _c, /** @type {number} */ i) => i).filter((/** @type {number} */ i) => i > 0 && isNumeric(res.types[i]))
  if (numeric.length === 0 || res.rows.length === 0) return null
  const base = { width, height: 220, legend: { live: false }, cursor: { drag: { x: false, y: false } } }
  if (kind === "timeseries" && isTime(res.types[0])) {
    const xs = res.rows.map((/** @type {any[]} */ r) => toEpochSeconds(String(r[0])))
    const data = [xs, ...numeric.map((/** @type {number} */ i) => res.rows.map((/** @type {any[]} */ r) => Number(r[i])))]
    const daily = isDay(res.types[0])
    // One instant (one row, or rows at one time): uPlot widens a zero-width time range to
    // [x, x + 86400 / ms] — 1000 days with seconds (one point once spanned 2027–2029). Centre it in
    // a day (daily data) or an hour instead, with one tick at the point, labelled with its own day
    // (and minute). Two or more instants: exactly the data's span. The ranges read the plot's
    // current data, since setData reuses these options while the shape stays the same.
    const single = xs.every((/** @type {number} */ x) => x === xs[0])
    const pad = daily ? 43_200 : 1800
    const first = (/** @type {any} */ u) => /** @type {number} */ (u.data[0][0])
    const last = (/** @type {any} */ u) => /** @type {number} */ (u.data[0][u.data[0].length - 1])
    const label = (/** @type {number} */ x) => (daily ? dayText(x) : `${dayText(x)} ${minuteText(x)}`)
    const xAxis = single
      ? { ...AXIS, splits: (/** @type {any} */ u) => [first(u)], values: (/** @type {any} */ _u, /** @type {number[]} */ splits) => splits.map(label) }
      : { ...AXIS }
    const opts = {
      ...base,
      tzDate: (/** @type {number} */ ts) => uPlot.tzDate(new Date(ts * 1000), "Etc/UTC"),
      scales: { x: { time: true, range: (/** @type {any} */ u) => (single ? [first(u) - pad, first(u) + pad] : [first(u), last(u)]) } },
      series: [{}, ...numeric.map((/** @type {number} */ i, /** @type {number} */ k) => ({ label: res.columns[i], stroke: COLORS[k % COLORS.length], width: 1.5, points: { show: xs.length <= 60 } }))],
      axes: [xAxis, { ...AXIS, size: 56 }],
      // What the x axis shows, for tests and for reading the page's DOM: the range and the tick
      // labels (uPlot keeps the drawn labels in axis._values).
      hooks: { draw: [(/** @type {any} */ u) => {
        u.root.dataset["xRange"] = `${u.scales.x.min},${u.scales.x.max}`
        u.root.dataset["xLabels"] = JSON.stringify(u.axes[0]._values ?? [])
      }] }
    }
    return { opts, data, shape: `ts|${res.columns.join(",")}|${single ? "one" : "many"}` }
  }
  // Bars: one bar per row for the first numeric column; the table below has every column.
  const labels = res.rows.map((/** @type {any[]} */ r) => fmt(r[0]))
  const y = numeric[0]
  const xs = labels.map((/** @type {string} */ _l, /** @type {number} */ i) => i)
  // Rotate labels that would not fit side by side (~7 px per character).
  const crowded = labels.reduce((/** @type {number} */ a, /** @type {string} */ l) => a + l.length + 2, 0) * 7 > width - 80
  const data = [xs, res.rows.map((/** @type {any[]} */ r) => Number(r[y]))]
  const opts = {
    ...base,
    scales: { x: { time: false, range: () => [-0.5, Math.max(0.5, labels.length - 0.5)] }, y: { range: (/** @type {any} */ _u, /** @type {number} */ _min, /** @type {number} */ max) => [0, max > 0 ? max * 1.1 : 1] } },
    series: [{}, { label: res.columns[y], fill: COLORS[0] + "cc", stroke: COLORS[0], width: 1, paths: uPlot.paths.bars({ size: [0.7, 80] }), points: { show: false } }],
    axes: [
      { ...AXIS, splits: () => xs, values: (/** @type {any} */ _u, /** @type {number[]} */ splits) => splits.map((i) => labels[i] ?? ""), rotate: crowded ? -30 : 0, size: crowded ? 80 : 40 },
      { ...AXIS, size: 56 }
    ]
  }
  return { opts, data, shape: `bars|${res.columns.join(",")}|${labels.join("\u0000")}` }
}

const render = (/** @type {string} */ name, /** @type {any} */ res) => {
  const c = cards.get(name)
  if (c === undefined) return
  c.card.dataset["rows"] = String(res.rows.length)
  const kind = c.info.chart
  if (res.rows.length === 0) {
    if (c.plot) { c.plot.destroy(); c.plot = null; c.shape = "" }
    c.chart.replaceChildren(el("div", "empty", "No data in this range."))
    c.table.replaceChildren()
    return
  }
  if (kind !== "table") {
    const spec = chartOf(kind, res, Math.max(280, c.chart.clientWidth || c.card.clientWidth - 32))
    if (spec === null) {
      if (c.plot) { c.plot.destroy(); c.plot = null; c.shape = "" }
      c.chart.replaceChildren()
    } else if (c.plot && c.shape === spec.shape) {
      c.plot.setData(spec.data)
    } else {
      if (c.plot) c.plot.destroy()
      c.chart.replaceChildren()
      c.plot = new uPlot(spec.opts, spec.data, c.chart)
      c.shape = spec.shape
    }
  }
  if (kind === "table" || kind === "bars") renderTable(c.table, res)
}

const fetchJson = async (/** @type {string} */ url) => {
  const r = await fetch(url, { headers: { accept: "application/json" } })
  const body = await r.json().catch(() => null)
  if (!r.ok) throw new Error(body?.error?.message ?? `${r.status} ${r.statusText}`)
  return body
}

const refresh = async () => {
  window.clearTimeout(timer)
  const mine = ++generation
  const range = currentRange()
  if (range === null) {
    status.textContent = "choose a range: From must be before To"
    status.className = "status down"
    return
  }
  status.textContent = "updating…"
  let failed = 0
  // One dashboard at a time: an analyst's page should not load the service in bursts.
  for (const [name, c] of cards) {
    if (mine !== generation) return
    try {
      render(name, await fetchJson(`/v1/analytics/dashboards/${encodeURIComponent(name)}?from=${range.fromMs}&to=${range.toMs}`))
      c.card.querySelector(".error")?.remove()
    } catch (e) {
      failed++
      const err = c.card.querySelector(".error") ?? c.card.appendChild(el("div", "error"))
      err.textContent = String(e instanceof Error ? e.message : e)
    }
  }
  if (mine !== generation) return
  status.textContent = `${failed === 0 ? "updated" : `${failed} failed,`} ${new Date().toISOString().slice(11, 19)} UTC · ${new Date(range.fromMs).toISOString().slice(0, 16).replace("T", " ")} → ${new Date(range.toMs).toISOString().slice(0, 16).replace("T", " ")}`
  status.className = failed === 0 ? "status ok" : "status down"
  if (auto.checked) timer = window.setTimeout(refresh, REFRESH_MS)
}

const start = async () => {
  try {
    const list = await fetchJson("/v1/analytics/dashboards")
    const dashboards = Array.isArray(list) ? list : list.dashboards
    for (const info of dashboards) {
      const card = el("section", "card")
      card.dataset["name"] = info.name
      card.dataset["chart"] = info.chart
      const chart = el("div", "chart")
      const table = el("div", "table")
      card.append(el("h2", "", info.title), el("p", "desc", info.description), chart, table)
      grid.append(card)
      cards.set(info.name, { info, card, chart, table, plot: null, shape: "" })
    }
  } catch (e) {
    status.textContent = `cannot list dashboards: ${e instanceof Error ? e.message : String(e)}`
    status.className = "status down"
    return
  }
  const now = Date.now()
  toInput.value = toInputValue(now)
  fromInput.value = toInputValue(now - Number(preset.options[preset.selectedIndex]?.value ?? 604800000))
  await refresh()
}

preset.addEventListener("change", () => {
  const custom = preset.value === "custom"
  for (const e of document.querySelectorAll(".custom")) /** @type {HTMLElement} */ (e).hidden = !custom
  if (!custom) void refresh()
})
$("range").addEventListener("submit", (e) => { e.preventDefault(); void refresh() })
auto.addEventListener("change", () => { if (auto.checked) void refresh(); else window.clearTimeout(timer) })
window.addEventListener("resize", () => {
  for (const c of cards.values()) if (c.plot) c.plot.setSize({ width: Math.max(280, c.chart.clientWidth), height: 220 })
})

void start()
