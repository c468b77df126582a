/// <reference lib="dom" />
// The live page in headless Chromium: it renders the top 20 over the WebSocket protocol, follows
// live updates (matching REST), shows rank movement, looks up a profile, and runs under a strict
// CSP without violations. Saves docs/live-page.png.
import * as path from "node:path"
import { chromium } from "playwright-core"
import type { Browser } from "playwright-core"
import { afterAll, beforeAll, expect, it } from "vitest"
import type { RankedEntry } from "../../src/ports/ReadModel.js"
import { api } from "./client.js"
import type { MemoryArena } from "./harness.js"
import { event, startMemoryArena } from "./harness.js"

const NAMES = ["ada", "grace", "linus", "margaret", "ken", "barbara", "dennis", "edsger", "frances", "john", "alan", "radia",
  "donald", "leslie", "tim", "guido", "bjarne", "anders", "james", "yukihiro", "rob", "brian", "niklaus", "sophie"]
const ACTIONS = ["task_completed", "error_resolved", "complex_api_design", "performance_optimization", "security_implementation", "realtime_feature"]
const AGENTS = ["coder", "reviewer", "tester"]

const ev = (n: string, action: string, agent = "coder") => event(n, action, agent, { username: n[0]!.toUpperCase() + n.slice(1) })

let arena: MemoryArena
let browser: Browser
beforeAll(async () => {
  arena = await startMemoryArena()
  const evs = []
  for (let i = 0; i < 240; i++) {
    const n = NAMES[(i * 7) % NAMES.length]!
    evs.push(ev(n, ACTIONS[(i * 5) % ACTIONS.length]!, AGENTS[i % 3]))
  }
  await arena.publish(evs)
  browser = await chromium.launch({
    executablePath: "/usr/bin/chromium",
    args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"]
  })
})
afterAll(async () => {
  await browser?.close()
  await arena?.stop()
})

it("renders the board live, matching REST, with rank movement and profile lookup, under a strict CSP", async () => {
  const page = await browser.newPage({ viewport: { width: 1280, height: 820 } })
  const problems: Array<string> = []
  page.on("console", (m) => { if (m.type() === "error") problems.push(m.text()) })
  page.on("pageerror", (e) => problems.push(e.message))
  const resp = await page.goto(arena.baseUrl + "/")
  expect(resp!.headers()["content-type"]).toBe("text/html; charset=utf-8")
  expect(resp!.headers()["content-security-policy"]).toContain("default-src 'none'")
  await page.waitForSelector("[data-testid=status].live")
  await page.waitForFunction(() => document.querySelectorAll("#rows tr").length === 20)

  const shown = () => page.$$eval("#rows tr", (trs) => trs.map((tr) => (tr as HTMLElement).dataset["user"]))
  const top20 = async () => (await api<{ entries: Array<RankedEntry> }>(arena.baseUrl, "GET", "/v1/leaderboards/global?limit=20")).json.entries.map((e) => e.user_id)
  expect(await shown()).toEqual(await top20())

  // The 20th user jumps to first place: the page follows, marking the climb.
  const climber = (await top20())[19]!
  await arena.publish(Array.from({ length: 6 }, () => ev(climber, "mission_analytics")))
  await page.waitForFunction((u) => (document.querySelector("#rows tr") as HTMLElement | null)?.dataset["user"] === u, climber)
  expect(await shown()).toEqual(await top20())
  expect(await page.textContent(`#rows tr[data-user="${climber}"] td.move`)).toBe("▲19")
  // A newcomer straight into the top 20.
  await arena.publish(Array.from({ length: 3 }, () => ev("newbie", "mission_security")))
  await page.waitForSelector(`#rows tr[data-user="newbie"] td.move.new`)
  expect(await shown()).toEqual(await top20())

  await page.fill("[data-testid=user-input]", climber)
  await page.click(".lookup button")
  await page.waitForSelector("[data-testid=profile] h2")
  expect(await page.textContent("[data-testid=profile]")).toContain("total xp")

  // Switching window re-subscribes (today's board has the same events here).
  await page.selectOption("[data-testid=window]", "day")
  await page.waitForFunction(() => (document.querySelector("#period")?.textContent ?? "").startsWith("period "))
  await page.waitForFunction(() => document.querySelectorAll("#rows tr").length === 20)
  await page.selectOption("[data-testid=window]", "all")
  await page.waitForFunction(() => document.querySelectorAll("#rows tr").length === 20 && (document.querySelector("#period")?.textContent ?? "") === "")

  await arena.publish([ev("grace", "realtime_feature"), ev("ken", "performance_optimization")])
  await page.waitForFunction(() => document.querySelectorAll("#rows tr.flash").length > 0)
  await page.screenshot({ path: path.resolve(import.meta.dirname, "../../docs/live-page.png") })
  expect(problems).toEqual([])
  await page.close()
})
