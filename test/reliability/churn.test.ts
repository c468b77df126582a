// Slow and churning clients (ARCHITECTURE §2.5, §2.6) on the real service: a child process opens
// and closes 3,000 leaderboard sockets per cycle from 100 loopback addresses, some of which never
// read, while events flow. No leak: after a forced GC (inspector), heap and RSS after the last
// cycle stay near the level after the first; every socket is released (gauges back to the
// observers); and observers watching throughout hold gapless folds equal to REST.
import { spawn } from "node:child_process"
import * as path from "node:path"
import { afterAll, beforeAll, expect, it } from "vitest"
import WebSocket from "ws"
import { ArenaProcess, cleanup, freshNames, natsClient, sleep } from "../support/arena.js"
import type { Nats } from "../support/arena.js"
import { AGENTS, makeWorkload } from "../oracle/workload.js"
import { SourceIps, request } from "./lib/http.js"
import { publishItems } from "./lib/publish.js"
import { BoardWatch } from "./lib/watch.js"
import type { Entry } from "./lib/watch.js"

const SOCKETS = Number(process.env["CHURN_SOCKETS"] ?? 3000)
const CYCLES = Number(process.env["CHURN_CYCLES"] ?? 4)
const names = freshNames("churn")
const arena = new ArenaProcess(names, { NODE_OPTIONS: "--inspect=127.0.0.1:0" })
let nats: Nats

beforeAll(async () => {
  nats = await natsClient()
  await arena.start()
  await arena.waitForSeq(0)
})
afterAll(async () => {
  await arena.kill()
  await nats?.nc.close()
  await cleanup(names)
})

/** Full GC in the service through its inspector (the first "Debugger listening" line is the service's). */
const collectGarbage = async (): Promise<void> => {
  const url = /Debugger listening on (ws:\/\/\S+)/.exec(arena.log)?.[1]
  if (url === undefined) throw new Error("no inspector URL in the service log")
  const ws = new WebSocket(url)
  await new Promise((r, j) => { ws.once("open", r); ws.once("error", j) })
  for (let id = 1; id <= 2; id++) {
    const done = new Promise<void>((r) => ws.on("message", (m) => { if ((JSON.parse(String(m)) as { id?: number }).id === id) r() }))
    ws.send(JSON.stringify({ id, method: "HeapProfiler.collectGarbage" }))
    await done
  }
  ws.close()
}

const metrics = async (): Promise<{ rss: number; heap: number; lbConnections: number; topics: number }> => {
  const text = (await request(arena.baseUrl, "GET", "/metrics")).text
  const num = (re: RegExp): number => Number(re.exec(text)?.[1] ?? NaN)
  return {
    rss: num(/^process_resident_memory_bytes (\S+)/m),
    heap: num(/^nodejs_heap_used_bytes (\S+)/m),
    lbConnections: num(/^arena_ws_connections\{route="leaderboard"\} (\S+)/m),
    topics: num(/^arena_ws_topics (\S+)/m)
  }
}

const settled = async () => {
  await sleep(1500)
  await collectGarbage()
  await sleep(200)
  return metrics()
}

/** Runs the churn child for `cycles` cycles; resolves with its per-cycle outcome counts. */
const churn = (cycles: number): Promise<Array<{ cycle: number; outcomes: Record<string, number> }>> =>
  new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [path.join(import.meta.dirname, "churnClient.mjs"), arena.baseUrl, String(SOCKETS), String(cycles), "1500", "150"], { stdio: ["ignore", "pipe", "inherit"] })
    let out = ""
    child.stdout.on("data", (b: Buffer) => (out += b.toString()))
    const timer = setTimeout(() => child.kill("SIGKILL"), 240_000)
    child.once("exit", (code) => {
      clearTimeout(timer)
      if (code !== 0) return reject(new Error(`churn client exited ${code}: ${out}`))
      resolve(out.trim().split("\n").map((l) => JSON.parse(l) as { cycle: number; outcomes: Record<string, number> }))
    })
  })

it(`holds no memory or sockets after ${CYCLES} × ${SOCKETS} sockets churn (some never reading); observers stay gapless and exact`, async () => {
  const items = makeWorkload({ events: 40_000, users: 400, seed: 3, runId: names.id, nowMs: Date.now() }).filter((i) => i.kind === "valid")
  await publishItems(nats.js, names.subject, items.slice(0, 4000))
  const ips = new SourceIps(10, 9)
  const subs = [{ board: "global", window: "all", limit: 100 }, { board: "global", window: "all", limit: 1000 }, { board: `agent:${AGENTS[0]}`, window: "all", limit: 25 }]
  const observers = await Promise.all(subs.map((s) => BoardWatch.open(arena.baseUrl, s, ips.next())))
  let flowing = true
  let next = 4000
  const flow = (async () => {
    while (flowing && next < items.length) {
      await publishItems(nats.js, names.subject, items.slice(next, next + 100))
      next += 100
      await sleep(50)
    }
  })()

  const before = await settled()
  const warm = await churn(1)
  const afterFirst = await settled()
  const rest = await churn(CYCLES - 1)
  const afterAll = await settled()
  flowing = false
  await flow

  const opened = [...warm, ...rest].reduce((s, c) => s + (c.outcomes["open"] ?? 0), 0)
  expect(opened).toBe(SOCKETS * CYCLES) // none refused, none timed out
  expect(afterAll.lbConnections).toBe(observers.length)
  expect(afterAll.topics).toBeLessThanOrEqual(8) // one per (board, window, limit) in use or lingering, not per socket
  const MiB = 1024 * 1024
  // Bounded, not leaking: what one cycle left behind is not multiplied by the cycles after it.
  expect(afterAll.heap).toBeLessThan(afterFirst.heap + 16 * MiB)
  expect(afterAll.rss).toBeLessThan(afterFirst.rss + 96 * MiB)

  const head = (await nats.jsm.streams.info(names.stream)).state.last_seq
  await arena.waitForSeq(head)
  for (const o of observers) {
    const page = await request<{ entries: Array<Entry> }>(arena.baseUrl, "GET", `/v1/leaderboards/${encodeURIComponent(o.sub.board)}?limit=${o.sub.limit}`)
    const s = await o.settle(page.json.entries)
    expect(s.entries).toEqual(page.json.entries)
    expect(s.snapshots).toBe(1) // never resynced: the churn around them did not make them stale
    o.close()
  }
  const f = (m: { rss: number; heap: number }) => `heap ${(m.heap / MiB).toFixed(1)} MiB, rss ${(m.rss / MiB).toFixed(1)} MiB`
  console.log(`churn: ${opened} sockets opened and closed in ${CYCLES} cycles (150 per cycle never reading), ${next} events flowing; ` +
    `before: ${f(before)}; after cycle 1: ${f(afterFirst)}; after cycle ${CYCLES}: ${f(afterAll)}`)
})
