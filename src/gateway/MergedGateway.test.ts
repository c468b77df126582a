// The partitioned gateway's admission on its merged reads (board pages, rank and around-me,
// profiles, /v1/partitions): the single process's per-IP and per-token limits (429 with
// Retry-After) and token check (401), and probes (/healthz, /readyz) never limited. In process:
// startMergedGateway on loopback over a stand-in MergedReadsPort (no NATS, no partitions), limiters
// on a frozen clock so the counts are exact.
import { afterEach, describe, expect, it } from "vitest"
import type { MergedReadsPort } from "../ports/MergedReads.js"
import { Authenticator, mintToken } from "./auth/Auth.js"
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

const start = async (perIp: number, perToken: number) => {
  const frozen = () => 1_000_000
  gw = await startMergedGateway({
    reads,
    admission: {
      auth: new Authenticator(true, SECRET),
      bodyLimitBytes: 1 << 20,
      ipLimiter: new RateLimiter(perIp, 60_000, 1000, frozen),
      tokenLimiter: new RateLimiter(perToken, 60_000, 1000, frozen),
      trustProxy: false
    },
    host: "127.0.0.1",
    port: 0,
    retryAfterS: 3,
    log: { warn: () => undefined }
  })
  const port = gw.port
  return (p: string, token?: string) =>
    fetch(`http://127.0.0.1:${port}${p}`, { headers: token === undefined ? {} : { authorization: `Bearer ${token}` } })
}

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
