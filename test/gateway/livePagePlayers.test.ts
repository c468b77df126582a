/// <reference lib="dom" />
// The live page in headless Chromium against the real service (`arena serve`): the window around
// a looked-up user follows live updates (equal to REST's around-me), a group board chosen by id
// replaces the board and follows its members' events (equal to REST's group:<id> page), the
// around-me window moves to the group board too, all under the strict CSP without errors.
// Saves docs/live-page-groups.png.
import * as path from "node:path"
import { chromium } from "playwright-core"
import type { Browser, Page } from "playwright-core"
import { afterAll, beforeAll, expect, it } from "vitest"
import { mintToken } from "../../src/gateway/auth/Auth.js"
import type { RankedEntry } from "../../src/ports/ReadModel.js"
import { ArenaProcess, JWT_SECRET, cleanup, freshNames } from "../support/arena.js"
import { api } from "./client.js"
import { event } from "./harness.js"

const names = freshNames("page")
const arena = new ArenaProcess(names)
const token = (sub: string, scope = "") => mintToken({ sub, scope, ttlSeconds: 600 }, JWT_SECRET)
let browser: Browser

const post = async (events: Array<Record<string, unknown>>): Promise<void> => {
  const r = await api<{ results: Array<{ seq: number }> }>(arena.baseUrl, "POST", "/v1/events", { token: await token("producer", "events:write"), body: events })
  expect(r.status).toBe(202)
  await arena.waitForSeq(Math.max(...r.json.results.map((x) => x.seq)))
}

beforeAll(async () => {
  await arena.start()
  await arena.waitForSeq(0)
  const evs: Array<Record<string, unknown>> = []
  for (let i = 0; i < 30; i++) for (let k = 0; k <= i % 15; k++) evs.push(event(`p${i}`))
  await post(evs)
  browser = await chromium.launch({
    executablePath: "/usr/bin/chromium",
    args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"]
  })
})
afterAll(async () => {
  await browser?.close()
  await arena.stop()
  await cleanup(names)
})

const ids = (entries: Array<RankedEntry>) => entries.map((e) => e.user_id)
const restIds = async (q: string) => ids((await api<{ entries: Array<RankedEntry> }>(arena.baseUrl, "GET", `/v1/leaderboards/${q}`)).json.entries)
/** Waits until the page's rows under `selector` show exactly `want` (user ids in order). */
const shows = (page: Page, selector: string, want: Array<string>) =>
  page.waitForFunction(([sel, w]) => JSON.stringify([...document.querySelectorAll(sel)].map((tr) => (tr as HTMLElement).dataset["user"])) === w,
    [selector, JSON.stringify(want)] as const, { timeout: 10_000 })

it("shows the live window around a user and group boards", async () => {
  const page = await browser.newPage({ viewport: { width: 1280, height: 900 } })
  const problems: Array<string> = []
  page.on("console", (m) => { if (m.type() === "error") problems.push(m.text()) })
  page.on("pageerror", (e) => problems.push(e.message))
  await page.goto(arena.baseUrl + "/")
  await page.waitForSelector("[data-testid=status].live")
  await shows(page, "#rows tr", await restIds("global?limit=20"))

  // Around me: look up p3, then p3 climbs.
  await page.fill("[data-testid=user-input]", "p3")
  await page.click(".lookup button")
  await page.waitForSelector("#around-status.live")
  await shows(page, "#around-rows tr", await restIds("global/users/p3?radius=3"))
  await post(Array.from({ length: 6 }, () => event("p3")))
  await shows(page, "#around-rows tr", await restIds("global/users/p3?radius=3"))
  expect(await page.getAttribute("#around-rows tr.me", "data-user")).toBe("p3")

  // A group board by id: the board and the around-me window switch to it and follow events.
  const put = await api(arena.baseUrl, "PUT", "/v1/groups/crew", { token: await token("p3"), body: { name: "The crew", members: ["p1", "p3", "p7", "p12", "p20", "nobody"] } })
  expect(put.status).toBe(201)
  await page.fill("[data-testid=group-input]", "crew")
  await page.click("#group-form button")
  await page.waitForFunction(() => (document.querySelector("#group-info")?.textContent ?? "").startsWith("The crew"))
  expect(await page.inputValue("[data-testid=board]")).toBe("group:crew")
  await shows(page, "#rows tr", await restIds("group:crew?limit=20"))
  await shows(page, "#around-rows tr", await restIds("group:crew/users/p3?radius=3"))
  await post([...Array.from({ length: 9 }, () => event("p1")), event("nobody"), event("p30")])
  await shows(page, "#rows tr", await restIds("group:crew?limit=20"))
  await shows(page, "#around-rows tr", await restIds("group:crew/users/p3?radius=3"))
  expect(await restIds("group:crew?limit=20")).toContain("nobody")

  expect(problems).toEqual([])
  // An unknown group says so (the browser logs the 404 itself) and leaves the board as it is.
  await page.fill("[data-testid=group-input]", "no-such-group")
  await page.click("#group-form button")
  await page.waitForSelector("#group-info.error")
  expect(await page.inputValue("[data-testid=board]")).toBe("group:crew")
  await page.screenshot({ path: path.resolve(import.meta.dirname, "../../docs/live-page-groups.png") })
  expect(problems.filter((m) => !m.includes("status of 404"))).toEqual([])
  await page.close()
})
