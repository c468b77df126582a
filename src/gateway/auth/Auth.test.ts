import { SignJWT, UnsecuredJWT } from "jose"
import { describe, expect, it } from "vitest"
import { ApiError } from "../http/ApiError.js"
import { Authenticator, DEV_PRINCIPAL, DEV_SECRET, mintToken, requireOwner, requireScope, secretProblem } from "./Auth.js"

const SECRET = "a".repeat(16) + "-test-secret-of-enough-bytes"

const statusOf = async (p: Promise<unknown>): Promise<number | "ok"> => {
  try {
    await p
    return "ok"
  } catch (e) {
    if (e instanceof ApiError) return e.status
    throw e
  }
}

describe("Authenticator", () => {
  it("accepts a minted token and exposes sub and scopes", async () => {
    const auth = new Authenticator(true, SECRET)
    const t = await mintToken({ sub: "alice", scope: "events:write", ttlSeconds: 60 }, SECRET)
    const p = await auth.verify(t)
    expect(p.sub).toBe("alice")
    expect([...p.scopes]).toEqual(["events:write"])
    expect(p.admin).toBe(false)
  })

  it("rejects alg none, a wrong secret, a tampered payload and an expired token with 401", async () => {
    const auth = new Authenticator(true, SECRET)
    const none = new UnsecuredJWT({ scope: "admin" }).setSubject("mallory").setExpirationTime("1h").encode()
    const wrong = await mintToken({ sub: "alice", scope: "admin", ttlSeconds: 60 }, SECRET + "x")
    const good = await mintToken({ sub: "alice", scope: "", ttlSeconds: 60 }, SECRET)
    const [h, , s] = good.split(".")
    const tampered = `${h}.${Buffer.from(JSON.stringify({ sub: "alice", scope: "admin", exp: 9e9 })).toString("base64url")}.${s}`
    const expired = await new SignJWT({ scope: "admin" }).setProtectedHeader({ alg: "HS256" }).setSubject("alice")
      .setExpirationTime(Math.floor(Date.now() / 1000) - 10).sign(new TextEncoder().encode(SECRET))
    const noExp = await new SignJWT({ scope: "admin" }).setProtectedHeader({ alg: "HS256" }).setSubject("alice")
      .sign(new TextEncoder().encode(SECRET))
    const hs512 = await new SignJWT({ scope: "admin" }).setProtectedHeader({ alg: "HS512" }).setSubject("alice")
      .setExpirationTime("1h").sign(new TextEncoder().encode(SECRET + SECRET))
    for (const t of [none, wrong, tampered, expired, noExp, hs512, "garbage"]) {
      expect(await statusOf(auth.verify(t))).toBe(401)
    }
  })

  it("stops honouring a cached token once it expires", async () => {
    let now = Date.now()
    const auth = new Authenticator(true, SECRET, 10, () => now)
    const t = await mintToken({ sub: "bob", scope: "", ttlSeconds: 5 }, SECRET)
    expect(await statusOf(auth.verify(t))).toBe("ok")
    now += 10_000
    expect(await statusOf(auth.verify(t))).toBe(401)
  })

  it("treats a missing token as anonymous when on, and as the dev principal when off", async () => {
    expect(await new Authenticator(true, SECRET).authenticate("")).toBeNull()
    expect(await new Authenticator(false, undefined).authenticate("")).toBe(DEV_PRINCIPAL)
    expect(await statusOf(new Authenticator(true, SECRET).authenticate("Basic abc"))).toBe(401)
  })
})

describe("authorization", () => {
  it("answers 401 for anonymous and 403 for a valid token without the scope or ownership", async () => {
    const auth = new Authenticator(true, SECRET)
    const reader = await auth.verify(await mintToken({ sub: "carol", scope: "", ttlSeconds: 60 }, SECRET))
    const admin = await auth.verify(await mintToken({ sub: "root", scope: "admin", ttlSeconds: 60 }, SECRET))
    const both = await auth.verify(await mintToken({ sub: "ops", scope: "admin events:write", ttlSeconds: 60 }, SECRET))
    expect(await statusOf(Promise.resolve().then(() => requireScope(null, "events:write")))).toBe(401)
    expect(await statusOf(Promise.resolve().then(() => requireScope(reader, "events:write")))).toBe(403)
    // admin does not imply events:write (§6); a token may carry both.
    expect(await statusOf(Promise.resolve().then(() => requireScope(admin, "events:write")))).toBe(403)
    expect(await statusOf(Promise.resolve().then(() => requireScope(both, "events:write")))).toBe("ok")
    expect(await statusOf(Promise.resolve().then(() => requireScope(admin, "admin")))).toBe("ok")
    expect(await statusOf(Promise.resolve().then(() => requireOwner(reader, "dave")))).toBe(403)
    expect(await statusOf(Promise.resolve().then(() => requireOwner(reader, "carol")))).toBe("ok")
    expect(await statusOf(Promise.resolve().then(() => requireOwner(admin, "dave")))).toBe("ok")
  })
})

describe("secretProblem", () => {
  it("refuses missing, short and well-known secrets", () => {
    expect(secretProblem(undefined)).toMatch(/not set/)
    expect(secretProblem("short")).toMatch(/at least 32/)
    expect(secretProblem(DEV_SECRET)).toMatch(/well-known/)
    expect(secretProblem(SECRET)).toBeNull()
  })
})
