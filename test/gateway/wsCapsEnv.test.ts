// The WebSocket caps and threads are settings: `arena serve` reads ARENA_WS_MAX_CONNECTIONS,
// ARENA_WS_MAX_CONNECTIONS_PER_IP, ARENA_WS_MAX_SUBSCRIPTIONS_PER_IP and ARENA_WS_THREADS from its
// environment (no code change), applies each, and refuses to start on a bad value, naming it.
import { spawnSync } from "node:child_process"
import * as path from "node:path"
import { afterAll, beforeAll, expect, it } from "vitest"
import WebSocket from "ws"
import { mintToken } from "../../src/gateway/auth/Auth.js"
import { ArenaProcess, JWT_SECRET, cleanup, freshNames, sleep } from "../support/arena.js"
import { request } from "../reliability/lib/http.js"

const names = freshNames("wscap")
const arena = new ArenaProcess(names, {
  ARENA_WS_THREADS: "2",
  ARENA_WS_MAX_CONNECTIONS: "6",
  ARENA_WS_MAX_CONNECTIONS_PER_IP: "3",
  ARENA_WS_MAX_SUBSCRIPTIONS_PER_IP: "2"
})

beforeAll(async () => {
  await arena.start()
  await arena.waitForSeq(0)
})
afterAll(async () => {
  await arena.stop()
  await cleanup(names)
})

type Opened = { ws: WebSocket } | { status: number; code: string; message: string }

const open = (p: string, from: string, token?: string): Promise<Opened> =>
  new Promise((resolve) => {
    const ws = new WebSocket(arena.baseUrl.replace("http", "ws") + p, { localAddress: from, ...(token === undefined ? {} : { headers: { authorization: `Bearer ${token}` } }) })
    ws.once("open", () => resolve({ ws }))
    ws.once("unexpected-response", (_q, res) => {
      let body = ""
      res.on("data", (b: Buffer) => (body += b.toString()))
      res.on("end", () => {
        const e = (JSON.parse(body) as { error: { code: string; message: string } }).error
        resolve({ status: res.statusCode ?? 0, code: e.code, message: e.message })
      })
    })
    ws.once("error", () => undefined)
  })

const refusal = (o: Opened) => ("ws" in o ? "opened" : { status: o.status, code: o.code, message: o.message })

/** A metric's series from /metrics: label text → value. */
const series = async (name: string): Promise<Map<string, number>> => {
  const text = (await request(arena.baseUrl, "GET", "/metrics")).text
  const out = new Map<string, number>()
  for (const m of text.matchAll(new RegExp(`^${name}(\\{[^}]*\\})? (\\S+)$`, "gm"))) out.set(m[1] ?? "", Number(m[2]))
  return out
}

/** Sockets are released on the main thread after a worker reports the close: wait for none open. */
const closeAll = async (sockets: ReadonlyArray<Opened>): Promise<void> => {
  for (const s of sockets) if ("ws" in s) s.ws.close()
  for (let i = 0; i < 200; i++) {
    const open = [...(await series("arena_ws_connections")).values()].reduce((a, b) => a + b, 0)
    if (open === 0) return
    await sleep(50)
  }
  throw new Error("sockets were not released")
}

it("caps subscriptions and connections per IP as ARENA_WS_MAX_SUBSCRIPTIONS_PER_IP=2 and _CONNECTIONS_PER_IP=3 say", async () => {
  const ip = "127.0.40.2"
  const token = await mintToken({ sub: "cap-user", scope: "", ttlSeconds: 600 }, JWT_SECRET)
  const boards = [await open("/ws/leaderboard/global?limit=5", ip), await open("/ws/leaderboard/global?limit=5", ip)]
  expect(boards.map(refusal)).toEqual(["opened", "opened"])
  // A third subscription is over its cap; a user feed is no subscription, so it is the third connection.
  const third = await open("/ws/leaderboard/global?limit=5", ip)
  expect(refusal(third)).toEqual({ status: 429, code: "too_many_connections", message: "WebSocket limit reached (subscriptions per ip)" })
  const feed = await open("/ws/users/cap-user", ip, token)
  expect(refusal(feed)).toBe("opened")
  const fourth = await open("/ws/users/cap-user", ip, token)
  expect(refusal(fourth)).toEqual({ status: 429, code: "too_many_connections", message: "WebSocket limit reached (connections per ip)" })
  // Another address has its own allowance.
  const other = await open("/ws/leaderboard/global?limit=5", "127.0.40.3")
  expect(refusal(other)).toBe("opened")
  await closeAll([...boards, third, feed, fourth, other])
})

it("caps all connections as ARENA_WS_MAX_CONNECTIONS=6 says (503 server_full), held by the ARENA_WS_THREADS=2 worker threads", async () => {
  const held: Array<Opened> = []
  for (let i = 0; i < 6; i++) held.push(await open("/ws/leaderboard/global?limit=5", `127.0.41.${2 + (i % 3)}`))
  expect(held.map(refusal)).toEqual(Array(6).fill("opened"))
  const seventh = await open("/ws/leaderboard/global?limit=5", "127.0.41.9")
  expect(refusal(seventh)).toEqual({ status: 503, code: "server_full", message: "too many WebSocket connections; retry later" })
  // Two worker threads report the sockets they hold (every 0.5 s): together, all six.
  let threads = new Map<string, number>()
  for (let i = 0; i < 100; i++) {
    threads = await series("arena_ws_thread_sockets")
    if ([...threads.values()].reduce((a, b) => a + b, 0) === 6) break
    await sleep(50)
  }
  expect([...threads.keys()].sort()).toEqual(['{thread="0"}', '{thread="1"}'])
  expect([...threads.values()].reduce((a, b) => a + b, 0)).toBe(6)
  await closeAll([...held, seventh])
})

it("refuses to start with bad WebSocket settings, naming each variable and what it expects", async () => {
  const bad = freshNames("wsbad")
  const r = spawnSync(process.execPath, [path.resolve("bin/arena"), "serve"], {
    env: {
      ...process.env, ARENA_WS_THREADS: "32", ARENA_WS_MAX_CONNECTIONS: "off", ARENA_WS_MAX_CONNECTIONS_PER_IP: "lots", ARENA_WS_MAX_SUBSCRIPTIONS_PER_IP: "-1",
      DATABASE_URL: bad.databaseUrl, ARENA_DATA_DIR: bad.dataDir, PORT: "0"
    },
    encoding: "utf8",
    timeout: 60_000
  })
  expect(r.status).not.toBe(0)
  const out = r.stdout + r.stderr
  for (const v of ["ARENA_WS_THREADS", "ARENA_WS_MAX_CONNECTIONS", "ARENA_WS_MAX_CONNECTIONS_PER_IP", "ARENA_WS_MAX_SUBSCRIPTIONS_PER_IP"]) expect(out).toContain(v)
  expect(out).toMatch(/from 0 to 16/)
  expect(out).toMatch(/cannot be turned off/)
  expect(out).toMatch(/sockets per client IP/)
  await cleanup(bad)
})
