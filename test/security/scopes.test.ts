// Scopes and share management (ARCHITECTURE §6) on the real service (`arena serve`, real NATS and
// Postgres): who may POST /v1/events and use each share route (no token, a plain user token,
// events:write, admin, both); PATCH/DELETE of shares by the owner, another user (404) and an
// admin; validation naming the field; and, with Postgres cut (a TCP proxy in front of it), every
// share route answering 503 with Retry-After — not a 500 — until it is back.
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { mintToken } from "../../src/gateway/auth/Auth.js"
import { ArenaProcess, JWT_SECRET, PG_URL, cleanup, freshNames, sleep } from "../support/arena.js"
import type { Names } from "../support/arena.js"
import { SourceIps, pathsOf, request } from "../reliability/lib/http.js"
import type { ErrorJson, Reply } from "../reliability/lib/http.js"
import { TcpProxy } from "../reliability/lib/tcpProxy.js"

interface ShareJson { id: string; owner: string; title: string; content: string; privacy_level: string; agents_used: Array<string>; xp_earned: number; tags: Array<string>; created_at: string }

const pg = new URL(PG_URL)
const proxy = new TcpProxy(pg.hostname, Number(pg.port || 5432))
const base = freshNames("scope")
const ips = new SourceIps(20, 7)
let names: Names
let arena: ArenaProcess
/** The five kinds of caller: sub and scope. */
const tokens: Record<"user" | "writer" | "admin" | "both", string> = { user: "", writer: "", admin: "", both: "" }
const SUBS = { user: "sc-user", writer: "sc-producer", admin: "sc-admin", both: "sc-ops" } as const
type Caller = "none" | keyof typeof tokens
const CALLERS: ReadonlyArray<Caller> = ["none", "user", "writer", "admin", "both"]

beforeAll(async () => {
  const port = await proxy.listen()
  const u = new URL(base.databaseUrl)
  u.port = String(port)
  names = { ...base, databaseUrl: u.toString() }
  arena = new ArenaProcess(names)
  await arena.start()
  await arena.waitForSeq(0)
  tokens.user = await mintToken({ sub: SUBS.user, scope: "", ttlSeconds: 3600 }, JWT_SECRET)
  tokens.writer = await mintToken({ sub: SUBS.writer, scope: "events:write", ttlSeconds: 3600 }, JWT_SECRET)
  tokens.admin = await mintToken({ sub: SUBS.admin, scope: "admin", ttlSeconds: 3600 }, JWT_SECRET)
  tokens.both = await mintToken({ sub: SUBS.both, scope: "admin events:write", ttlSeconds: 3600 }, JWT_SECRET)
})
afterAll(async () => {
  await arena?.kill()
  await proxy.close()
  await cleanup(base)
})

const call = <T = ErrorJson>(who: Caller, method: string, path: string, json?: unknown): Promise<Reply<T>> =>
  request<T>(arena.baseUrl, method, path, { ...(who === "none" ? {} : { token: tokens[who] }), ...(json === undefined ? {} : { json }), from: ips.next() })
/** The status each caller gets. */
const matrix = async (method: string, path: (who: Caller) => string, json?: (who: Caller) => unknown): Promise<Record<Caller, number>> => {
  const out = {} as Record<Caller, number>
  for (const who of CALLERS) out[who] = (await call(who, method, path(who), json?.(who))).status
  return out
}
const newShare = async (who: Exclude<Caller, "none">, privacy = "private", title = "chat"): Promise<ShareJson> => {
  const r = await call<ShareJson>(who, "POST", "/v1/shares", { title, content: `${who}'s ${privacy} content`, privacy_level: privacy, tags: ["a"] })
  expect(r.status).toBe(201)
  return r.json
}
let n = 0
const ev = () => ({ event_id: `sc-${n++}`, user_id: "sc-player", agent_name: "coder", action_type: "task_completed", timestamp: new Date().toISOString() })

describe("scopes", () => {
  it("POST /v1/events needs events:write: admin alone is 403, admin with events:write is 202", async () => {
    expect(await matrix("POST", () => "/v1/events", ev)).toEqual({ none: 401, user: 403, writer: 202, admin: 403, both: 202 })
    const r = await call("admin", "POST", "/v1/events", ev())
    expect([r.json.error.code, r.json.error.message]).toEqual(["forbidden", "token lacks scope events:write"])
  })

  it("any valid token creates its own shares (owner = sub); lists need a token only for mine=1", async () => {
    expect(await matrix("POST", () => "/v1/shares", () => ({ title: "t", content: "c" }))).toEqual({ none: 401, user: 201, writer: 201, admin: 201, both: 201 })
    expect((await newShare("user")).owner).toBe(SUBS.user)
    expect(await matrix("GET", () => "/v1/shares")).toEqual({ none: 200, user: 200, writer: 200, admin: 200, both: 200 })
    expect(await matrix("GET", () => "/v1/shares?mine=1")).toEqual({ none: 401, user: 200, writer: 200, admin: 200, both: 200 })
  })

  it("a private share: read, edited and deleted by its owner or an admin; everyone else gets 404 (401 without a token for changes)", async () => {
    const s = await newShare("user")
    const path = () => `/v1/shares/${s.id}`
    expect(await matrix("GET", path)).toEqual({ none: 404, user: 200, writer: 404, admin: 200, both: 200 })
    expect(await matrix("PATCH", path, (who) => ({ title: `by ${who}` }))).toEqual({ none: 401, user: 200, writer: 404, admin: 200, both: 200 })
    // A delete that is refused changes nothing; the owner's delete is final.
    const refused = await matrix("DELETE", path)
    expect([refused.none, refused.writer]).toEqual([401, 404])
    for (const who of ["user", "admin", "both"] as const) {
      const t = await newShare("user")
      expect((await call(who, "DELETE", `/v1/shares/${t.id}`)).status).toBe(204)
      expect((await call("user", "GET", `/v1/shares/${t.id}`)).status).toBe(404)
    }
  })

  it("a public share is readable by anyone but changed only by its owner or an admin", async () => {
    const s = await newShare("writer", "public")
    const path = () => `/v1/shares/${s.id}`
    expect(await matrix("GET", path)).toEqual({ none: 200, user: 200, writer: 200, admin: 200, both: 200 })
    expect(await matrix("PATCH", path, () => ({ tags: ["x"] }))).toEqual({ none: 401, user: 404, writer: 200, admin: 200, both: 200 })
    const other = await call("user", "DELETE", path())
    const missing = await call("user", "DELETE", `/v1/shares/${"Z".repeat(22)}`)
    // The same answer as for a share that does not exist (modulo the id).
    expect([other.status, other.json]).toEqual([404, { error: { ...missing.json.error, message: `no share ${s.id}` } }])
    expect((await call("none", "GET", path())).status).toBe(200)
  })
})

describe("PATCH and DELETE /v1/shares/{id}", () => {
  it("PATCH changes only the fields sent and returns the share; owner, id and created_at stay", async () => {
    const s = await newShare("user", "public", "before")
    const r = await call<ShareJson>("user", "PATCH", `/v1/shares/${s.id}`, { title: "after", privacy_level: "unlisted", agents_used: ["coder"], xp_earned: 7 })
    expect(r.status).toBe(200)
    expect(r.json).toEqual({ ...s, title: "after", privacy_level: "unlisted", agents_used: ["coder"], xp_earned: 7 })
    expect((await call<ShareJson>("none", "GET", `/v1/shares/${s.id}`)).json).toEqual(r.json)
    // Now unlisted: out of everyone else's list; made private by an admin: unreadable to others.
    const list = await call<{ shares: Array<ShareJson> }>("writer", "GET", "/v1/shares?limit=100")
    expect(list.json.shares.map((x) => x.id)).not.toContain(s.id)
    const byAdmin = await call<ShareJson>("admin", "PATCH", `/v1/shares/${s.id}`, { privacy_level: "private", content: "" })
    expect([byAdmin.status, byAdmin.json.owner, byAdmin.json.content, byAdmin.json.title]).toEqual([200, SUBS.user, "", "after"])
    expect((await call("writer", "GET", `/v1/shares/${s.id}`)).status).toBe(404)
  })

  it("validates PATCH like create, naming each field; an empty patch and a bad id are 400 too", async () => {
    const s = await newShare("user")
    const bad = await call("user", "PATCH", `/v1/shares/${s.id}`, { title: "", privacy_level: "secret", tags: "x", xp_earned: -1, agents_used: ["Not Valid"] })
    expect(bad.status).toBe(400)
    expect(pathsOf(bad).sort()).toEqual(["body.agents_used[0]", "body.privacy_level", "body.tags", "body.title", "body.xp_earned"])
    const mass = await call("user", "PATCH", `/v1/shares/${s.id}`, { owner: SUBS.admin, id: "A".repeat(22), created_at: "2020-01-01T00:00:00Z" })
    expect(pathsOf(mass).sort()).toEqual(["body.created_at", "body.id", "body.owner"])
    expect(new Set(mass.json.error.details.map((d) => d.message))).toEqual(new Set(["is not a known field"]))
    const empty = await call("user", "PATCH", `/v1/shares/${s.id}`, {})
    expect([empty.status, pathsOf(empty)]).toEqual([400, ["body"]])
    expect(empty.json.error.details[0]!.message).toBe("must set at least one of title, content, privacy_level, agents_used, xp_earned, tags")
    const notObject = await call("user", "PATCH", `/v1/shares/${s.id}`, ["title"])
    expect([notObject.status, pathsOf(notObject)]).toEqual([400, ["body"]])
    for (const method of ["PATCH", "DELETE"]) {
      const r = await call("user", method, "/v1/shares/not-an-id", method === "PATCH" ? { title: "t" } : undefined)
      expect([method, r.status, pathsOf(r)]).toEqual([method, 400, ["path.id"]])
    }
    // Nothing was changed by the refused requests.
    expect((await call<ShareJson>("user", "GET", `/v1/shares/${s.id}`)).json).toEqual(s)
  })

  it("DELETE answers 204 with no body, then 404 for the same id", async () => {
    const s = await newShare("writer", "public")
    const r = await call("writer", "DELETE", `/v1/shares/${s.id}`)
    expect([r.status, r.text]).toEqual([204, ""])
    expect((await call("writer", "DELETE", `/v1/shares/${s.id}`)).status).toBe(404)
    expect((await call("writer", "PATCH", `/v1/shares/${s.id}`, { title: "t" })).status).toBe(404)
    expect((await call("none", "GET", `/v1/shares/${s.id}`)).status).toBe(404)
  })
})

describe("with Postgres unreachable", () => {
  it("every share route answers 503 with Retry-After (never 500) while the rest of the service stays up, and works again after", () =>
    sharesWithPostgresCut().catch((e: Error) => { throw new Error(`${e.message}\n--- service log (tail) ---\n${arena.log.slice(-4000)}`) }))
})

const sharesWithPostgresCut = async (): Promise<void> => {
  {
    // (CI runs P1 and S1 at load 20 saw a POST /v1/shares unanswered for 30 s here; the phase names which one.)
    const s = await newShare("user", "public").catch((e: Error) => { throw new Error(`before the cut: ${e.message}`) })
    proxy.cut()
    try {
      const tries: Array<[string, string, unknown]> = [
        ["POST", "/v1/shares", { title: "t", content: "c" }], ["GET", "/v1/shares", undefined], ["GET", "/v1/shares?mine=1", undefined],
        ["GET", `/v1/shares/${s.id}`, undefined], ["PATCH", `/v1/shares/${s.id}`, { title: "t" }], ["DELETE", `/v1/shares/${s.id}`, undefined]
      ]
      // Three rounds: every failed connect raises the pool's reconnect delay, and with postgres.js's
      // default (up to 20 s) requests from the sixth or so on waited past the client's 30 s.
      for (let round = 0; round < 3; round++) {
        for (const [method, path, json] of tries) {
          const r = await call("user", method, path, json)
          expect({ round, method, path, status: r.status, retryAfter: r.headers["retry-after"], code: r.json?.error?.code }).toEqual({ round, method, path, status: 503, retryAfter: "2", code: "unavailable" })
        }
      }
      // A burst of clients at once (24 requests on a pool of 4): each still gets its 503 within the
      // client's 30 s. With the default backoff they queued behind 10–20 s reconnect delays each.
      const burst = await Promise.all(Array.from({ length: 4 }, () => tries).flat().map(([method, path, json]) => call("user", method, path, json).then((r) => ({ method, path, status: r.status }))))
      for (const b of burst) expect(b).toEqual({ method: b.method, path: b.path, status: 503 })
      expect(proxy.refused).toBeGreaterThan(0) // they did try to reach Postgres
      // What does not need Postgres is unaffected.
      expect((await call("writer", "POST", "/v1/events", ev())).status).toBe(202)
      expect((await call("none", "GET", "/healthz")).status).toBe(200)
    } finally {
      proxy.restore()
    }
    // Back: the share is untouched and the routes work (the pool reconnects on the next query).
    let back: Reply<ShareJson> | null = null
    for (let i = 0; i < 100; i++) {
      back = await call<ShareJson>("none", "GET", `/v1/shares/${s.id}`)
      if (back.status === 200) break
      expect(back.status).toBe(503)
      await sleep(100)
    }
    expect([back!.status, back!.json]).toEqual([200, s])
    expect((await call("user", "DELETE", `/v1/shares/${s.id}`)).status).toBe(204)
  }
}
