// Every write of `arena serve` is corked: under load — many concurrent HTTP requests answered
// asynchronously (NATS publishes, Postgres shares, token checks, refused bodies), WebSocket upgrades
// admitted asynchronously (user feeds; every upgrade with worker threads), snapshots and deltas to
// many sockets — uWS never prints "writes must be made from within a corked callback" (it does for
// any write outside res.cork, e.g. an upgrade after an await) on the service's stderr.
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import WebSocket from "ws"
import { mintToken } from "../../src/gateway/auth/Auth.js"
import { ArenaProcess, JWT_SECRET, cleanup, freshNames } from "../support/arena.js"
import { SourceIps, request } from "../reliability/lib/http.js"

const CORK_WARNING = /^.*corked callback.*$/gm

describe.each([0, 2])("corked writes under load (ws threads: %i)", (threads) => {
  const names = freshNames(`cork${threads}`)
  const arena = new ArenaProcess(names, { ARENA_WS_THREADS: String(threads), ARENA_RATE_LIMIT_PER_IP: "off", ARENA_RATE_LIMIT_PER_TOKEN: "off" })
  const ips = new SourceIps(200, 50 + threads)

  beforeAll(async () => {
    await arena.start()
    await arena.waitForSeq(0)
  })
  afterAll(async () => {
    await arena.stop()
    await cleanup(names)
  })

  const open = (path: string, opts: { token?: string; from: string }): Promise<{ ws: WebSocket; messages: Array<string> } | number> =>
    new Promise((resolve) => {
      const ws = new WebSocket(arena.baseUrl.replace("http", "ws") + path, {
        localAddress: opts.from, ...(opts.token === undefined ? {} : { headers: { authorization: `Bearer ${opts.token}` } })
      })
      const messages: Array<string> = []
      ws.on("message", (m) => messages.push(String(m)))
      ws.once("open", () => resolve({ ws, messages }))
      ws.once("unexpected-response", (_q, res) => resolve(res.statusCode ?? 0))
      ws.once("error", () => resolve(0))
    })

  it("never writes outside a cork: async HTTP answers, async upgrades, snapshots and deltas", async () => {
    const writer = await mintToken({ sub: "cork-producer", scope: "events:write", ttlSeconds: 600 }, JWT_SECRET)
    const users = await Promise.all(Array.from({ length: 40 }, (_, i) => mintToken({ sub: `cork-${i}`, scope: "", ttlSeconds: 600 }, JWT_SECRET)))

    // Round 1, no socket open yet: user feeds whose admission awaits a token check (fresh tokens),
    // next to leaderboard subscriptions, all at once.
    const feeds = await Promise.all(users.map((t, i) => open(`/ws/users/cork-${i}`, { token: t, from: ips.next() })))
    const boards = await Promise.all(Array.from({ length: 60 }, () => open("/ws/leaderboard/global?limit=10", { from: ips.next() })))
    const sockets = [...feeds, ...boards].filter((s): s is { ws: WebSocket; messages: Array<string> } => typeof s !== "number")
    expect(sockets).toHaveLength(100)

    // Round 2: 600 concurrent requests answered after an await (publish to NATS, Postgres, a token
    // check), refused before or while reading a body, HEAD, 404 — while deltas go to every board.
    const event = (i: number) => ({ event_id: `cork-${threads}-${i}`, user_id: `cork-${i % 40}`, agent_name: "cork", action_type: "task_completed", timestamp: new Date().toISOString() })
    const big = JSON.stringify([{ ...event(-1), metadata: { pad: "x".repeat(1100 * 1024) } }])
    const calls: Array<Promise<unknown>> = []
    for (let i = 0; i < 600; i++) {
      const from = ips.next()
      switch (i % 6) {
        case 0: calls.push(request(arena.baseUrl, "POST", "/v1/events", { token: writer, json: [event(i), event(i + 100_000)], from })); break
        case 1: calls.push(request(arena.baseUrl, "POST", "/v1/shares", { token: writer, json: { title: `t${i}`, content: "c", tags: ["x"], privacy_level: "public" }, from })); break
        case 2: calls.push(request(arena.baseUrl, "GET", `/v1/users/cork-${i % 40}/ledger`, { token: users[i % 40]!, from })); break
        case 3: calls.push(request(arena.baseUrl, "POST", "/v1/events", { body: JSON.stringify([event(i)]), headers: { "content-type": "application/json" }, from })); break
        case 4: calls.push(request(arena.baseUrl, i % 12 === 4 ? "POST" : "HEAD", i % 12 === 4 ? "/v1/events" : "/v1/leaderboards/global", { token: writer, ...(i % 12 === 4 ? { body: big, headers: { "content-type": "application/json" } } : {}), from, timeoutMs: 60_000 })); break
        default: calls.push(request(arena.baseUrl, "GET", `/v1/nothing/${i}`, { from }))
      }
    }
    const answers = await Promise.all(calls)
    expect(answers.map((a) => (a as { status: number }).status).filter((s) => s >= 500)).toEqual([])

    // The deltas reached the boards (so the sends happened), then close everything.
    const head = (await arena.readyz()).body.details.seq ?? 0
    await arena.waitForSeq(head)
    for (let i = 0; i < 200 && boards.some((b) => typeof b !== "number" && b.messages.length < 2); i++) await new Promise((r) => setTimeout(r, 50))
    for (const b of boards) if (typeof b !== "number") expect(b.messages.length).toBeGreaterThanOrEqual(2)
    for (const s of sockets) s.ws.close()

    expect(arena.log.match(CORK_WARNING) ?? []).toEqual([])
  })
})
