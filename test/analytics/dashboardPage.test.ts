/// <reference lib="dom" />
// The analyst's dashboard page in headless Chromium, served by the real gateway (uWS) with the
// real AnalyticsQueries over the embedded engine: every dashboard renders (uPlot canvases, tables
// that match the API), new records appear on the next refresh, a custom range works, and the
// page runs under the gateway's strict CSP without errors.
import { chromium } from "playwright-core"
import type { Browser } from "playwright-core"
import { afterAll, beforeAll, expect, it } from "vitest"
import { AnalyticsQueries } from "../../src/adapters/clickhouse/AnalyticsQueries.js"
import type { AnalyticsRecord } from "../../src/ports/Analytics.js"
import { startMemoryArena } from "../gateway/harness.js"
import type { MemoryArena } from "../gateway/harness.js"
import { DAY_MS, freshDir, generate, startSink, submitRange } from "./records.js"
import type { SinkEnv } from "./records.js"

const now = Date.now()
const g = generate(3000, 60, 5, 6, now - 6 * DAY_MS) // the last six days: inside the default "last 7 days"
const awards = g.all.filter((r) => r.kind === "award").length
let env: SinkEnv
let arena: MemoryArena
let browser: Browser

beforeAll(async () => {
  env = await startSink(freshDir("page"), { options: { flushIntervalMs: 100 } })
  await submitRange(env, g, 1, g.lastSeq, 500)
  await env.run(env.sink.awaitDurable(g.lastSeq))
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

it("renders every dashboard, follows new data, takes a custom range, under a strict CSP", async () => {
  const page = await browser.newPage({ viewport: { width: 1400, height: 900 } })
  const problems: string[] = []
  page.on("console", (m) => { if (m.type() === "error") problems.push(m.text()) })
  page.on("pageerror", (e) => problems.push(e.message))
  const resp = await page.goto(arena.baseUrl + "/dashboard")
  expect(resp!.headers()["content-security-policy"]).toContain("default-src 'none'")
  await page.waitForSelector("[data-testid=status].ok")

  const list = (await (await fetch(arena.baseUrl + "/v1/analytics/dashboards")).json()) as Array<{ name: string; chart: string }>
  expect(await page.$$eval(".card", (cs) => cs.map((c) => (c as HTMLElement).dataset["name"]))).toEqual(list.map((d) => d.name))
  for (const d of list) {
    const card = `.card[data-name="${d.name}"]`
    const rows = Number(await page.getAttribute(card, "data-rows"))
    if (d.chart !== "table" && rows > 0) expect(await page.$$(`${card} .chart canvas`), d.name).not.toHaveLength(0)
    if (d.chart !== "timeseries") expect(await page.$$(`${card} .table tbody tr`), d.name).toHaveLength(rows)
  }
  // The page shows what the records say: every award counted once per agent.
  const agentEvents = async () => (await page.$$eval('.card[data-name="agent_popularity"] .table tbody tr', (trs) =>
    trs.map((tr) => [tr.children[0]!.textContent, Number(tr.children[1]!.textContent!.replace(/,/g, ""))] as const)))
  expect((await agentEvents()).reduce((a, [, n]) => a + n, 0)).toBe(awards)
  const shot = `${freshDir("shot")}/dashboard.png`
  await page.screenshot({ path: shot, fullPage: true })
  console.log(`dashboard screenshot: ${shot}`)

  // New records reach the page on its next refresh, without a reload.
  const iso = new Date(now - 60_000).toISOString()
  const extra: AnalyticsRecord[] = Array.from({ length: 7 }, (_, i) => ({
    kind: "award",
    entry: {
      event_id: `late-${i}`, seq: g.lastSeq + 1 + i, user_id: `late${i}`, agent_name: "newcomer-agent", action_type: "task_completed", base_points: 10,
      multipliers: [], streak_days: 1, streak_multiplier: "1", total_multiplier: "1", applied_multiplier: "1", xp: 10, bonuses: [],
      total_awarded: 10, total_xp_after: 10, level_before: 1, level_after: 1, rules_version: "2026-11-01", event_time: iso, stream_time: iso
    }
  }))
  await env.run(env.sink.submit(extra, g.lastSeq + 7))
  await env.run(env.sink.awaitDurable(g.lastSeq + 7))
  await page.waitForFunction(() => [...document.querySelectorAll('.card[data-name="agent_popularity"] .table tbody tr td:first-child')].some((td) => td.textContent === "newcomer-agent"), null, { timeout: 30_000 })
  expect((await agentEvents()).find(([a]) => a === "newcomer-agent")?.[1]).toBe(7)

  // A custom range before any data: every card says so.
  await page.selectOption("[data-testid=preset]", "custom")
  await page.fill("[data-testid=from]", "2020-01-01T00:00")
  await page.fill("[data-testid=to]", "2020-01-08T00:00")
  await page.click("[data-testid=apply]")
  await page.waitForFunction(() => [...document.querySelectorAll(".card")].every((c) => (c as HTMLElement).dataset["rows"] === "0" || (c as HTMLElement).dataset["chart"] === "timeseries"))
  expect(await page.$$eval('.card[data-name="agent_popularity"] .empty', (e) => e.length)).toBe(1)
  expect(problems).toEqual([])
  await page.close()
})
