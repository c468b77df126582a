/// <reference lib="dom" />
// The "Pipeline health" time axis with one and two points, in headless Chromium, over the real
// AnalyticsQueries on the embedded engine: one point once drew an axis spanning 2027–2029 (uPlot
// pads a zero-width time range by the value's magnitude); now its one label is the point's own day
// and minute, and two points span exactly the data — even across midnight.
import { chromium } from "playwright-core"
import type { Browser, Page } from "playwright-core"
import { afterAll, beforeAll, expect, it } from "vitest"
import { AnalyticsQueries } from "../../src/adapters/clickhouse/AnalyticsQueries.js"
import type { AnalyticsRecord } from "../../src/ports/Analytics.js"
import { startMemoryArena } from "../gateway/harness.js"
import type { MemoryArena } from "../gateway/harness.js"
import { freshDir, startSink } from "./records.js"
import type { SinkEnv } from "./records.js"

// Two awards five minutes apart around a midnight: 23:58 and 00:03 (UTC).
const FIRST = Date.UTC(2026, 2, 3, 23, 58, 20)
const SECOND = Date.UTC(2026, 2, 4, 0, 3, 40)
const award = (seq: number, ms: number): AnalyticsRecord => {
  const iso = new Date(ms).toISOString()
  return {
    kind: "award",
    entry: {
      event_id: `axis-${seq}`, seq, user_id: `axis${seq}`, agent_name: "axis-agent", action_type: "task_completed", base_points: 10,
      multipliers: [], streak_days: 1, streak_multiplier: "1", total_multiplier: "1", applied_multiplier: "1", xp: 10, bonuses: [],
      total_awarded: 10, total_xp_after: 10, level_before: 1, level_after: 1, rules_version: "2026-11-01", event_time: iso, stream_time: iso
    }
  }
}

let env: SinkEnv
let arena: MemoryArena
let browser: Browser

beforeAll(async () => {
  env = await startSink(freshDir("axis"), { options: { flushIntervalMs: 100 } })
  await env.run(env.sink.submit([award(1, FIRST), award(2, SECOND)], 2))
  await env.run(env.sink.awaitDurable(2))
  arena = await startMemoryArena({ analytics: new AnalyticsQueries(env.handle.client) })
  browser = await chromium.launch({
    executablePath: "/usr/bin/chromium",
    args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"]
  })
})
afterAll(async () => {
  await browser?.close()
  await arena?.stop()
  await env?.close()
})

const minute = (ms: number) => new Date(ms).toISOString().slice(0, 16)

/** Opens the dashboard on a custom UTC range and returns the pipeline_health chart's x axis once drawn with `rows` rows. */
const pipelineAxis = async (page: Page, fromMs: number, toMs: number, rows: number) => {
  await page.goto(arena.baseUrl + "/dashboard")
  await page.waitForSelector("[data-testid=status].ok")
  await page.selectOption("[data-testid=preset]", "custom")
  await page.fill("[data-testid=from]", minute(fromMs))
  await page.fill("[data-testid=to]", minute(toMs))
  await page.click("[data-testid=apply]")
  const card = '.card[data-name="pipeline_health"]'
  await page.waitForFunction(([c, n]) => {
    const el = document.querySelector(c as string) as HTMLElement | null
    return el?.dataset["rows"] === String(n) && el.querySelector(".uplot")?.getAttribute("data-x-labels") != null
  }, [card, rows] as const, { timeout: 30_000 })
  return page.$eval(`${card} .uplot`, (u) => ({
    range: (u.getAttribute("data-x-range") ?? "").split(",").map(Number),
    labels: JSON.parse(u.getAttribute("data-x-labels") ?? "[]") as Array<string>
  }))
}

it("labels a one-point chart with the point's own day and minute, never years around it", async () => {
  // The range holds only the 23:58 minute: one row.
  const r = await (await fetch(`${arena.baseUrl}/v1/analytics/dashboards/pipeline_health?from=${FIRST - 60_000}&to=${FIRST + 60_000}`)).json() as { rows: Array<Array<unknown>> }
  expect(r.rows).toHaveLength(1)
  const page = await browser.newPage({ viewport: { width: 1400, height: 900 } })
  const problems: Array<string> = []
  page.on("pageerror", (e) => problems.push(e.message))
  const axis = await pipelineAxis(page, FIRST - 60_000, FIRST + 60_000, 1)
  expect(axis.labels).toEqual(["2026-03-03 23:58"])
  // The scale is centred on the point, an hour wide (not years).
  const x = Date.UTC(2026, 2, 3, 23, 58) / 1000
  expect(axis.range).toEqual([x - 1800, x + 1800])
  expect(problems).toEqual([])
  await page.close()
})

it("spans exactly the data with two points, across midnight, with labels only from those days", async () => {
  const page = await browser.newPage({ viewport: { width: 1400, height: 900 } })
  const axis = await pipelineAxis(page, FIRST - 60_000, SECOND + 60_000, 2)
  const first = Date.UTC(2026, 2, 3, 23, 58) / 1000
  const second = Date.UTC(2026, 2, 4, 0, 3) / 1000
  expect(axis.range).toEqual([first, second])
  expect(axis.labels.length).toBeGreaterThan(0)
  // uPlot's own time labels (":00\n3/3/26 11:58pm", ":30", ":00\n3/4 12:00am", …): only times of
  // these five minutes, only these two days, only this year.
  for (const l of axis.labels) expect(l, JSON.stringify(axis.labels)).toMatch(/^:(00|30)(\n(3\/3\/26 |3\/4 )?(11:5[89]pm|12:0[0-3]am))?$/)
  await page.close()
})
