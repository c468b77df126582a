// The partitioned gateway's admission on its merged reads (board pages, rank and around-me,
// profiles, /v1/partitions): the single process's per-IP and per-token limits (429 with
// Retry-After) and token check (401), and probes (/healthz, /readyz) never limited. Being the
// single process's Router, it also answers HEAD, OPTIONS (Allow, CORS preflight), 405 with Allow,
// counts its routes on /metrics, and serves the WebSocket feed on the same port under the same
// per-IP limit. In process: startMergedGateway on loopback over a stand-in MergedReadsPort (no
// NATS, no partitions), limiters on a frozen clock so the counts are exact.
import WebSocket from "ws"
import { afterEach, describe, expect, it } from "vitest"
import type { MergedReadsPort } from "../ports/MergedReads.js"
import type { LeaderboardPort } from "../ports/ReadModel.js"
import { Authenticator, mintToken } from "./auth/Auth.js"
import { DEFAULT_WS } from "./GatewayConfig.js"
import { RateLimiter } from "./limits/RateLimiter.js"
import { startMergedGateway } from "./MergedGateway.js"
import type { RunningMergedGateway } from "./MergedGateway.js"

const SECRET = "merged-gateway-test-secret-0123456789abcdef"
const KEY = { board: "global", window: "all" as const, period: "all" }
const ROW = { rank: 1, user_id: "alice", username: "alice", xp: 10, level: 1 }

/** Every partition ready, one user on the board. */
const reads: MergedReadsPort = {
  partitions: 2,
  page: () => Promise.resolve({ key: KEY, seq: 7, total: 1, entries: [{ ...ROW, reached_seq: 7 }] }),
  around: () => Promise.resolve({ key: KEY, seq: 7, total: 1, user: ROW, entries: [ROW] }),
  groupPage: () => Promise.reject(new Error("no groups here")),
  groupAround: () => Promise.reject(new Error("no groups here")),
  profile: (userId) => Promise.resolve(userId === "alice" ? { user_id: "alice", total_xp: 10 } : null),
  states: () => Promise.resolve([0, 1].map((partition) => ({ partition, phase: "ready", applied: 7, streamTimeMs: 0, users: 1 })))
}

const READS = ["/v1/leaderboards/global", "/v1/leaderboards/global/users/alice", "/v1/users/alice", "/v1/partitions"]

let gw: RunningMergedGateway | null = null
afterEach(async () => { await gw?.close(); gw = null })

/** A live board of one row that never changes (the feed's stand-in for the mergers' chains). */
const boards: LeaderboardPort = {
  unavailable: () => null,
  currentPeriod: () => "all",
  list: () => [],
  page: () => null,
  around: () => null,
  watch: () => ({ key: KEY, seq: 7, entries: [ROW], total: 1 }),
  unwatch: () => undefined,
  watchAround: () => null,
  unwatchAround: () => undefined,
  onView: () => () => undefined,
  onRollover: () => () => undefined
}

const start = async (perIp: number, perToken: number, more: { readonly reads?: MergedReadsPort; readonly sockets?: boolean; readonly corsOrigins?: ReadonlyArray<string> } = {}) => {
  const frozen = () => 1_000_000
  gw = await startMergedGateway({
    reads: more.reads ?? reads,
    admission: {
      auth: new Authenticator(true, SECRET),
      bodyLimitBytes: 1 << 20,
      ipLimiter: new RateLimiter(perIp, 60_000, 1000, frozen),
      tokenLimiter: new RateLimiter(perToken, 60_000, 1000, frozen),
      trustProxy: false,
      ...(more.corsOrigins === undefined ? {} : { corsOrigins: more.corsOrigins })
    },
    host: "127.0.0.1",
    port: 0,
    retryAfterS: 3,
    log: { warn: () => undefined },
    ...(more.sockets === true ? { sockets: { boards, cfg: DEFAULT_WS } } : {})
  })
  const port = gw.port
  return (p: string, token?: string, init: RequestInit = {}) =>
    fetch(`http://127.0.0.1:${port}${p}`, { ...init, headers: { ...(token === undefined ? {} : { authorization: `Bearer ${token}` }), ...(init.headers as Record<string, string> | undefined) } })
}

/** The upgrade's outcome: the first frame's type, or the refusal's status. */
const upgrade = (p: string): Promise<string | number> =>
  new Promise((resolve, reject) => {
    const ws = new WebSocket(`ws://127.0.0.1:${gw!.port}${p}`)
    ws.once("message", (data: Buffer) => { resolve((JSON.parse(data.toString()) as { type: string }).type); ws.close() })
    ws.once("unexpected-response", (_req, res) => { resolve(res.statusCode ?? 0); res.resume() })
    ws.once("error", reject)
  })

describe("merged reads are admitted as in one process", () => {
  it("answers 429 with Retry-After past the per-IP limit on every merged read; the probes never", async () => {
    const get = await start(READS.length, 0)
    for (const p of READS) expect((await get(p)).status, p).toBe(200)
    for (const p of READS) {
      const r = await get(p)
      expect(r.status, p).toBe(429)
      expect(Number(r.headers.get("retry-after")), p).toBeGreaterThanOrEqual(1)
      expect(((await r.json()) as { error: { code: string } }).error.code).toBe("rate_limited")
    }
    for (let i = 0; i < 20; i++) {
      expect((await get("/healthz")).status).toBe(200)
      expect((await get("/readyz")).status).toBe(200)
    }
  })

  it("answers 429 past the per-token limit, counted per token", async () => {
    const get = await start(0, 2)
    const alice = await mintToken({ sub: "alice", scope: "", ttlSeconds: 60 }, SECRET)
    const bob = await mintToken({ sub: "bob", scope: "", ttlSeconds: 60 }, SECRET)
    expect((await get(READS[0]!, alice)).status).toBe(200)
    expect((await get(READS[1]!, alice)).status).toBe(200)
    const r = await get(READS[2]!, alice)
    expect(r.status).toBe(429)
    expect(r.headers.get("retry-after")).not.toBeNull()
    expect((await get(READS[2]!, bob)).status).toBe(200)
    // Anonymous reads have no token to count (the per-IP limit is theirs).
    expect((await get(READS[2]!)).status).toBe(200)
  })

  it("answers 401 to a bad token on every merged read", async () => {
    const get = await start(0, 0)
    const forged = await mintToken({ sub: "alice", scope: "admin", ttlSeconds: 60 }, "another-secret-0123456789abcdef-0123456789")
    for (const p of READS) {
      const r = await get(p, forged)
      expect(r.status, p).toBe(401)
      expect(((await r.json()) as { error: { code: string } }).error.code).toBe("unauthorized")
    }
    for (const p of READS) expect((await get(p, "not-a-jwt")).status, p).toBe(401)
  })
})

describe("the single process's Router on the merged reads", () => {
  it("answers HEAD with the GET's headers and no body, OPTIONS with Allow, a wrong method 405 with Allow", async () => {
    const get = await start(0, 0)
    for (const p of READS) {
      const full = await get(p)
      const text = await full.text()
      const head = await get(p, undefined, { method: "HEAD" })
      expect(head.status, p).toBe(200)
      expect(head.headers.get("content-length"), p).toBe(String(Buffer.byteLength(text)))
      expect(await head.text(), p).toBe("")
      const options = await get(p, undefined, { method: "OPTIONS" })
      expect(options.status, p).toBe(204)
      expect(options.headers.get("allow"), p).toBe("GET, HEAD, OPTIONS")
      const post = await get(p, undefined, { method: "POST" })
      expect(post.status, p).toBe(405)
      expect(post.headers.get("allow"), p).toBe("GET, HEAD, OPTIONS")
      expect(((await post.json()) as { error: { code: string } }).error.code).toBe("method_not_allowed")
    }
  })

  it("answers a CORS preflight and CORS headers for an allowed origin", async () => {
    const get = await start(0, 0, { corsOrigins: ["https://app.example"] })
    const pre = await get(READS[0]!, undefined, { method: "OPTIONS", headers: { origin: "https://app.example" } })
    expect(pre.status).toBe(204)
    expect(pre.headers.get("access-control-allow-origin")).toBe("https://app.example")
    expect(pre.headers.get("access-control-allow-methods")).toBe("GET, HEAD, OPTIONS")
    const r = await get(READS[0]!, undefined, { headers: { origin: "https://app.example" } })
    expect(r.headers.get("access-control-allow-origin")).toBe("https://app.example")
    expect((await get(READS[0]!, undefined, { headers: { origin: "https://other.example" } })).headers.get("access-control-allow-origin")).toBeNull()
  })

  it("counts the merged routes on /metrics (never rate limited)", async () => {
    const get = await start(1, 0)
    expect((await get(READS[0]!)).status).toBe(200)
    expect((await get(READS[0]!)).status).toBe(429)
    const text = await (await get("/metrics")).text()
    expect(text).toMatch(/arena_http_requests_total\{[^}]*route="\/v1\/leaderboards\/:board"[^}]*status="200"[^}]*\} [1-9]/)
    expect(text).toMatch(/arena_http_requests_total\{[^}]*route="\/v1\/leaderboards\/:board"[^}]*status="429"[^}]*\} [1-9]/)
    expect((await get("/metrics")).status).toBe(200)
  })

  it("answers 503 partition_unavailable with Retry-After when a partition has no owner", async () => {
    const gone = Promise.reject({ _tag: "PartitionUnavailable", partitions: [1], message: "partition 1 has no owner" })
    gone.catch(() => undefined)
    const get = await start(0, 0, { reads: { ...reads, page: () => gone, around: () => gone, profile: () => gone, states: () => gone } })
    for (const p of READS) {
      const r = await get(p)
      expect(r.status, p).toBe(503)
      expect(r.headers.get("retry-after"), p).toBe("3")
      expect(((await r.json()) as { error: { code: string } }).error.code).toBe("partition_unavailable")
    }
  })

  it("answers what it does not serve 501 naming docs/scaling.md", async () => {
    const get = await start(0, 0)
    for (const [method, p] of [["GET", "/v1/leaderboards"], ["POST", "/v1/rules/dry-run"], ["GET", "/v1/analytics/dashboards"], ["POST", "/v1/events"], ["GET", "/ws/leaderboard/global"]] as const) {
      const r = await get(p, undefined, { method })
      expect(r.status, `${method} ${p}`).toBe(501)
      expect(((await r.json()) as { error: { message: string } }).error.message).toMatch(/docs\/scaling\.md/)
    }
  })
})

describe("the WebSocket feed on the gateway's own port", () => {
  it("upgrades /ws/leaderboard/{board} and sends the snapshot; a plain GET there is 426", async () => {
    const get = await start(0, 0, { sockets: true })
    expect(await upgrade("/ws/leaderboard/global")).toBe("snapshot")
    const plain = await get("/ws/leaderboard/global")
    expect(plain.status).toBe(426)
    expect(gw!.stats()).toMatchObject({ topics: expect.any(Number) as number })
  })

  it("counts upgrades against the per-IP limit of the HTTP routes (429 past it)", async () => {
    const get = await start(2, 0, { sockets: true })
    expect((await get(READS[0]!)).status).toBe(200)
    expect(await upgrade("/ws/leaderboard/global")).toBe("snapshot")
    expect(await upgrade("/ws/leaderboard/global")).toBe(429)
    expect((await get(READS[0]!)).status).toBe(429)
  })
})
