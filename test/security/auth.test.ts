// OWASP API2 (broken authentication) and API1 (object-level authorization) on the real service,
// filling what test/gateway and src/gateway/auth/Auth.test.ts leave open: every forged-token kind
// against REST and the user WebSocket feed, tokens where they must not be accepted, path variants that
// try to reach another user's ledger, and XP that a share or an event body claims for itself.
import { SignJWT, UnsecuredJWT, generateKeyPair } from "jose"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { mintToken } from "../../src/gateway/auth/Auth.js"
import { ArenaProcess, JWT_SECRET, cleanup, freshNames, natsClient, publishAll } from "../support/arena.js"
import type { Nats } from "../support/arena.js"
import { openWs, wsUrl } from "../gateway/client.js"
import { SourceIps, request } from "../reliability/lib/http.js"
import type { ErrorJson } from "../reliability/lib/http.js"

const names = freshNames("auth")
const arena = new ArenaProcess(names)
const ips = new SourceIps(50, 6)
let nats: Nats
const key = new TextEncoder().encode(JWT_SECRET)
const now = () => Math.floor(Date.now() / 1000)
const token = (sub: string, scope = "") => mintToken({ sub, scope, ttlSeconds: 600 }, JWT_SECRET)
const ev = (id: string, user: string, extra: Record<string, unknown> = {}) =>
  ({ event_id: id, user_id: user, agent_name: "coder", action_type: "task_completed", timestamp: new Date().toISOString(), ...extra })

beforeAll(async () => {
  nats = await natsClient()
  await arena.start()
  const acks = await publishAll(nats.js, names.subject, [ev("a1", "alice"), ev("b1", "bob"), ev("b2", "bob"), ev("c1", "BOB")])
  await arena.waitForSeq(acks[acks.length - 1]!.seq)
})
afterAll(async () => {
  await arena.kill()
  await nats?.nc.close()
  await cleanup(names)
})

/** The forgeries: each claims alice with admin rights. */
const forgeries = async (): Promise<Array<[string, string]>> => {
  const { privateKey } = await generateKeyPair("RS256")
  const claims = { scope: "admin events:write" }
  const good = await token("alice")
  const [h, , sig] = good.split(".")
  return [
    ["alg none", new UnsecuredJWT(claims).setSubject("alice").setExpirationTime("1h").encode()],
    ["alg none, signature kept", `${Buffer.from(JSON.stringify({ alg: "none", typ: "JWT" })).toString("base64url")}.${good.split(".")[1]}.${sig}`],
    ["RS256 with the attacker's key", await new SignJWT(claims).setProtectedHeader({ alg: "RS256" }).setSubject("alice").setExpirationTime("1h").sign(privateKey)],
    ["HS512 with the right secret", await new SignJWT(claims).setProtectedHeader({ alg: "HS512" }).setSubject("alice").setExpirationTime("1h").sign(key)],
    ["HS256, another secret", await new SignJWT(claims).setProtectedHeader({ alg: "HS256" }).setSubject("alice").setExpirationTime("1h").sign(new TextEncoder().encode("x".repeat(40)))],
    ["payload swapped (scope admin)", `${h}.${Buffer.from(JSON.stringify({ sub: "alice", scope: "admin", exp: now() + 3600 })).toString("base64url")}.${sig}`],
    ["expired a second ago", await new SignJWT(claims).setProtectedHeader({ alg: "HS256" }).setSubject("alice").setExpirationTime(now() - 1).sign(key)],
    ["not yet valid (nbf)", await new SignJWT(claims).setProtectedHeader({ alg: "HS256" }).setSubject("alice").setNotBefore(now() + 3600).setExpirationTime("2h").sign(key)],
    ["no exp", await new SignJWT(claims).setProtectedHeader({ alg: "HS256" }).setSubject("alice").sign(key)],
    ["sub with a slash", await new SignJWT(claims).setProtectedHeader({ alg: "HS256" }).setSubject("alice/../bob").setExpirationTime("1h").sign(key)],
    ["jku/kid pointing elsewhere", await new SignJWT(claims).setProtectedHeader({ alg: "HS256", kid: "../../dev/null", jku: "http://evil.example/jwks" }).setSubject("alice").setExpirationTime("1h").sign(new TextEncoder().encode("k"))],
    ["garbage", "a.b.c"]
  ]
}

describe("broken authentication", () => {
  it("answers 401 to every forged token: REST reads and writes, and the user WebSocket feed", async () => {
    const list = await forgeries()
    for (const [what, t] of list) {
      const ledger = await request(arena.baseUrl, "GET", "/v1/users/alice/ledger", { token: t, from: ips.next() })
      const write = await request(arena.baseUrl, "POST", "/v1/events", { token: t, json: ev(`forged-${what.length}`, "alice"), from: ips.next() })
      const ws = await openWs(wsUrl(arena.baseUrl, `/ws/users/alice?token=${encodeURIComponent(t)}`)).then((r) => (r.close(), 101), (e: { status: number }) => e.status)
      expect({ what, ledger: ledger.status, write: write.status, ws }).toEqual({ what, ledger: 401, write: 401, ws: 401 })
      expect((ledger.json as ErrorJson).error.code).toBe("unauthorized")
    }
    expect((await request(arena.baseUrl, "GET", "/v1/users/alice/ledger", { token: await token("alice"), from: ips.next() })).status).toBe(200)
  })

  it("does not take tokens from the URL on REST (they leak into logs); a 15 KB bearer token is refused with 401", async () => {
    const t = await token("alice")
    expect((await request(arena.baseUrl, "GET", `/v1/users/alice/ledger?token=${t}`, { from: ips.next() })).status).toBe(401)
    const huge = await request(arena.baseUrl, "GET", "/v1/users/alice/ledger", { headers: { authorization: `Bearer ${"A".repeat(15_000)}` }, from: ips.next() })
    expect([huge.status, (huge.json as ErrorJson).error.code]).toEqual([401, "unauthorized"])
    expect((await request(arena.baseUrl, "GET", "/healthz")).status).toBe(200)
  })
})

describe("object-level authorization", () => {
  it("keeps bob's ledger from alice through every spelling of bob's path", async () => {
    const alice = await token("alice")
    for (const path of ["/v1/users/bob/ledger", "/v1/users/%62ob/ledger", "/v1/users/%62%6F%62/ledger", "/v1/users/bob%2F..%2Falice/ledger", "/v1/users/bob/ledger?user_id=alice", "/v1/users/BOB/ledger"]) {
      const r = await request(arena.baseUrl, "GET", path, { token: alice, from: ips.next() })
      expect({ path, status: r.status }).toEqual({ path, status: 403 })
      expect(r.text).not.toContain("\"xp\"")
    }
    // Dot segments and doubled slashes match no route: a JSON 404 (a 500 or a 200 would both fail).
    for (const path of ["/v1/users/alice/../bob/ledger", "/v1/users/alice/ledger/../../bob/ledger", "//v1/users/bob/ledger"]) {
      const r = await request(arena.baseUrl, "GET", path, { token: alice, from: ips.next() })
      expect({ path, status: r.status, code: (r.json as ErrorJson | undefined)?.error?.code }).toEqual({ path, status: 404, code: "not_found" })
      expect(r.text).not.toContain("\"xp\"")
    }
    const ws = await openWs(wsUrl(arena.baseUrl, `/ws/users/%62ob?token=${alice}`)).then((r) => (r.close(), 101), (e: { status: number }) => e.status)
    expect(ws).toBe(403)
  })

  it("never lets a share's or an event's own fields award XP or pick an owner (mass assignment)", async () => {
    const alice = await token("alice", "events:write")
    const share = await request<{ owner: string; xp_earned: number }>(arena.baseUrl, "POST", "/v1/shares", { token: alice, json: { title: "t", content: "c", xp_earned: 9_000_000, privacy_level: "public" }, from: ips.next() })
    expect([share.status, share.json.owner, share.json.xp_earned]).toEqual([201, "alice", 9_000_000]) // a display claim on the share…
    const profile = await request<{ total_xp: number }>(arena.baseUrl, "GET", "/v1/users/alice", { from: ips.next() })
    expect(profile.json.total_xp).toBe(10) // …that never becomes XP
    const r = await request<{ results: Array<{ status: string; error?: ErrorJson["error"] }> }>(arena.baseUrl, "POST", "/v1/events", {
      token: alice, from: ips.next(),
      json: [ev("m1", "alice", { xp: 100_000 }), ev("m2", "alice", { seq: 1 }), ev("m3", "alice", { total_xp: 5 }), ev("m4", "alice", { base_points: 500 }), ev("m5", "alice", { multipliers: ["x1000"] })]
    })
    expect(r.json.results.map((x) => [x.status, x.error?.details.map((d) => d.path).join()])).toEqual([
      ["rejected", "xp"], ["rejected", "seq"], ["rejected", "total_xp"], ["rejected", "base_points"], ["rejected", "multipliers[0]"]
    ])
  })
})
