// The rate limits are settings: `arena serve` reads ARENA_RATE_LIMIT_PER_IP / _PER_TOKEN / _WINDOW
// from its environment (no code change, no preload), answers 429 + Retry-After past them, and
// refuses to start on a bad value, naming the variable.
import { spawnSync } from "node:child_process"
import * as path from "node:path"
import { afterAll, beforeAll, expect, it } from "vitest"
import { mintToken } from "../../src/gateway/auth/Auth.js"
import { ArenaProcess, JWT_SECRET, cleanup, freshNames } from "../support/arena.js"
import { api } from "./client.js"

const names = freshNames("rlenv")
const arena = new ArenaProcess(names, { ARENA_RATE_LIMIT_PER_IP: "6", ARENA_RATE_LIMIT_PER_TOKEN: "2", ARENA_RATE_LIMIT_WINDOW: "1h" })

beforeAll(async () => {
  await arena.start()
})
afterAll(async () => {
  await arena.stop()
  await cleanup(names)
})

it("applies the per-token and per-IP limits given in the environment, never to health probes", async () => {
  const token = await mintToken({ sub: "limited", scope: "", ttlSeconds: 600 }, JWT_SECRET)
  const withToken: Array<number> = []
  for (let i = 0; i < 3; i++) withToken.push((await api(arena.baseUrl, "GET", "/v1/rules", { token })).status)
  expect(withToken).toEqual([200, 200, 429]) // ARENA_RATE_LIMIT_PER_TOKEN=2
  const anonymous: Array<number> = []
  for (let i = 0; i < 4; i++) anonymous.push((await api(arena.baseUrl, "GET", "/v1/rules")).status)
  expect(anonymous).toEqual([200, 200, 200, 429]) // ARENA_RATE_LIMIT_PER_IP=6: 3 requests above + 3 here
  const r = await api(arena.baseUrl, "GET", "/v1/rules")
  expect(r.status).toBe(429)
  expect(r.json.error.code).toBe("rate_limited")
  // A 1 h window: the next slot is far away, and Retry-After says so.
  expect(Number(r.headers.get("retry-after"))).toBeGreaterThan(60)
  expect((await api(arena.baseUrl, "GET", "/healthz")).status).toBe(200)
})

it("refuses to start with a bad limit, naming the variable and what it expects", async () => {
  const bad = freshNames("rlbad")
  const r = spawnSync(process.execPath, [path.resolve("bin/arena"), "serve"], {
    env: { ...process.env, ARENA_RATE_LIMIT_PER_IP: "plenty", ARENA_RATE_LIMIT_WINDOW: "0s", DATABASE_URL: bad.databaseUrl, ARENA_DATA_DIR: bad.dataDir, PORT: "0" },
    encoding: "utf8",
    timeout: 60_000
  })
  expect(r.status).not.toBe(0)
  const out = r.stdout + r.stderr
  expect(out).toMatch(/ARENA_RATE_LIMIT_PER_IP/)
  expect(out).toMatch(/whole number of requests per window/)
  expect(out).toMatch(/ARENA_RATE_LIMIT_WINDOW/)
  await cleanup(bad) // nothing should exist, but never leave a database or directory behind
})
