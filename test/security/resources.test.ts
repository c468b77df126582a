// OWASP API4 (unrestricted resource consumption) on the real service with its default limits:
// WebSocket connections per source address, rate limits that a spoofed X-Forwarded-For cannot
// dodge, a chunked body that grows past 1 MiB, and oversized client frames — each refused with a
// bounded cost while other clients carry on.
import * as net from "node:net"
import { afterAll, beforeAll, expect, it } from "vitest"
import WebSocket from "ws"
import { mintToken } from "../../src/gateway/auth/Auth.js"
import { ArenaProcess, JWT_SECRET, cleanup, freshNames } from "../support/arena.js"
import { request } from "../reliability/lib/http.js"

const names = freshNames("res")
const arena = new ArenaProcess(names)

beforeAll(async () => {
  await arena.start()
  await arena.waitForSeq(0)
})
afterAll(async () => {
  await arena.kill()
  await cleanup(names)
})

const open = (path: string, from: string): Promise<WebSocket | number> =>
  new Promise((resolve) => {
    const ws = new WebSocket(arena.baseUrl.replace("http", "ws") + path, { localAddress: from })
    ws.once("open", () => resolve(ws))
    ws.once("unexpected-response", (_q, res) => resolve(res.statusCode ?? 0))
    ws.once("error", () => resolve(0))
  })

it("caps WebSocket connections per address at 64 (429 + Retry-After), without affecting other addresses", async () => {
  const mine = await Promise.all(Array.from({ length: 64 }, () => open("/ws/leaderboard/global?limit=5", "127.0.20.2")))
  expect(mine.every((w) => typeof w !== "number")).toBe(true)
  const refused = await request(arena.baseUrl, "GET", "/ws/leaderboard/global", {
    from: "127.0.20.2", headers: { connection: "Upgrade", upgrade: "websocket", "sec-websocket-version": "13", "sec-websocket-key": "dGhlIHNhbXBsZSBub25jZQ==" }
  })
  expect([refused.status, refused.headers["retry-after"], (refused.json as { error: { code: string } }).error.code]).toEqual([429, "5", "too_many_connections"])
  const other = await open("/ws/leaderboard/global?limit=5", "127.0.20.3")
  expect(typeof other).not.toBe("number")
  for (const w of [...mine, other]) if (typeof w !== "number") w.close()
})

it("rate-limits by the socket's address: X-Forwarded-For from the client does not reset the budget", async () => {
  const from = "127.0.21.2"
  let last = 200
  for (let i = 0; i < 1300 && last !== 429; i++) last = (await request(arena.baseUrl, "GET", "/v1/rules", { from })).status
  expect(last).toBe(429)
  const spoofed = await request(arena.baseUrl, "GET", "/v1/rules", { from, headers: { "x-forwarded-for": "203.0.113.9", "x-real-ip": "203.0.113.9" } })
  expect([spoofed.status, Number(spoofed.headers["retry-after"]) >= 1]).toEqual([429, true])
  expect((await request(arena.baseUrl, "GET", "/v1/rules", { from: "127.0.21.3" })).status).toBe(200)
  expect((await request(arena.baseUrl, "GET", "/healthz", { from })).status).toBe(200) // probes are never limited
})

it("stops reading a chunked body (no Content-Length) once it passes 1 MiB: 413, connection closed", async () => {
  const t = await mintToken({ sub: "producer", scope: "events:write", ttlSeconds: 60 }, JWT_SECRET)
  const answer = await new Promise<string>((resolve) => {
    const s = net.connect({ host: "127.0.0.1", port: arena.port, localAddress: "127.0.22.2" })
    let out = ""
    let sent = 0
    s.on("data", (b: Buffer) => (out += b.toString()))
    s.on("close", () => resolve(out))
    s.on("error", () => undefined)
    s.write(`POST /v1/events HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${t}\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n`)
    const chunk = "x".repeat(64 * 1024)
    const pump = () => {
      // Keep sending (bounded at 4 MiB) until the server answers or hangs up.
      while (sent < 4 * 1024 * 1024 && out === "" && !s.destroyed) {
        sent += chunk.length
        if (!s.write(`${chunk.length.toString(16)}\r\n${chunk}\r\n`)) return void s.once("drain", pump)
      }
    }
    pump()
    setTimeout(() => s.destroy(), 20_000)
  })
  expect(answer).toMatch(/^HTTP\/1\.1 413/)
  expect(answer).toContain("payload_too_large")
})

it("closes a socket that sends frames over 1 KiB; its neighbours keep their feed", async () => {
  const neighbour = await open("/ws/leaderboard/global?limit=5", "127.0.23.2")
  const loud = await open("/ws/leaderboard/global?limit=5", "127.0.23.3")
  if (typeof neighbour === "number" || typeof loud === "number") throw new Error("upgrade refused")
  const closed = new Promise<number>((r) => loud.once("close", (code) => r(code)))
  for (let i = 0; i < 100; i++) loud.send("x".repeat(100)) // small frames: ignored
  loud.send("y".repeat(4096))
  expect([1006, 1009]).toContain(await closed)
  expect(neighbour.readyState).toBe(WebSocket.OPEN)
  neighbour.close()
})
