// Shares (POST/GET /v1/shares, GET /v1/shares/{id}) on real Postgres: validation with field paths,
// no mass assignment, and privacy: a private share is never readable without the right token, and
// an unlisted one never appears in anyone else's list — via every route that could leak them.
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import type { ErrorBody } from "./client.js"
import { api } from "./client.js"
import type { MemoryArena } from "./harness.js"
import { startMemoryArena } from "./harness.js"

interface ShareJson {
  id: string; owner: string; title: string; content: string; privacy_level: string
  agents_used: Array<string>; xp_earned: number; tags: Array<string>; created_at: string
}
interface ShareList { shares: Array<ShareJson>; next_cursor: string | null }

let arena: MemoryArena
let alice: string, bob: string, admin: string, aliceReadOnly: string
const shares: Record<"public" | "unlisted" | "private", ShareJson> = {} as never

const create = async (token: string, body: unknown) => api<ShareJson & ErrorBody>(arena.baseUrl, "POST", "/v1/shares", { token, body })

beforeAll(async () => {
  arena = await startMemoryArena()
  alice = await arena.token("alice", "events:write")
  bob = await arena.token("bob", "events:write")
  admin = await arena.token("root", "admin")
  aliceReadOnly = await arena.token("alice", "")
  for (const level of ["public", "unlisted", "private"] as const) {
    const r = await create(alice, { title: `${level} chat`, content: `secret ${level} content`, privacy_level: level, agents_used: ["coder"], xp_earned: 40, tags: ["demo"] })
    expect(r.status).toBe(201)
    shares[level] = r.json
  }
})
afterAll(async () => {
  await arena.stop()
})

describe("POST /v1/shares", () => {
  it("creates a share owned by the token's sub, with defaults and a Location", async () => {
    const r = await create(bob, { title: "t", content: "c" })
    expect(r.status).toBe(201)
    expect(r.json).toMatchObject({ owner: "bob", title: "t", content: "c", privacy_level: "private", agents_used: [], xp_earned: 0, tags: [] })
    expect(r.json.id).toMatch(/^[A-Za-z0-9_-]{22}$/)
    expect(r.headers.get("location")).toBe(`/v1/shares/${r.json.id}`)
    expect(Date.parse(r.json.created_at)).not.toBeNaN()
  })

  it("refuses to let a body set owner, id or created_at (mass assignment), naming each field", async () => {
    const r = await create(bob, { title: "t", content: "c", owner: "alice", id: "A".repeat(22), created_at: "2020-01-01T00:00:00Z" })
    expect(r.status).toBe(400)
    expect(r.json.error.details.map((d) => d.path).sort()).toEqual(["body.created_at", "body.id", "body.owner"])
    expect(r.json.error.details[0]!.message).toBe("is not a known field")
  })

  it("validates every field with its path", async () => {
    const r = await create(bob, {
      title: "x".repeat(201), content: "é".repeat(33 * 1024), privacy_level: "secret", agents_used: ["ok", "Not Valid"],
      xp_earned: -1, tags: "demo"
    })
    expect(r.status).toBe(400)
    expect(r.json.error.details.map((d) => d.path).sort()).toEqual(
      ["body.agents_used[1]", "body.content", "body.privacy_level", "body.tags", "body.title", "body.xp_earned"])
    const missing = await create(bob, { content: "c" })
    expect(missing.json.error.details).toEqual([{ path: "body.title", message: "is required" }])
    const notObject = await create(bob, ["title"])
    expect(notObject.json.error.details[0]!.path).toBe("body")
    const frac = await create(bob, { title: "t", content: "c", xp_earned: 1.5 })
    expect(frac.json.error.details).toEqual([{ path: "body.xp_earned", message: "must be an integer" }])
  })

  it("needs any valid token, no scope (401 without one); the owner is the token's sub", async () => {
    expect((await api(arena.baseUrl, "POST", "/v1/shares", { body: { title: "t", content: "c" } })).status).toBe(401)
    const plain = await create(await arena.token("carol", ""), { title: "t", content: "c" })
    expect([plain.status, plain.json.owner]).toEqual([201, "carol"])
  })
})

describe("reading shares", () => {
  it("lets anyone read public and unlisted shares by id", async () => {
    for (const level of ["public", "unlisted"] as const) {
      const r = await api<ShareJson>(arena.baseUrl, "GET", `/v1/shares/${shares[level].id}`)
      expect([r.status, r.json.content]).toEqual([200, `secret ${level} content`])
    }
  })

  it("shows a private share only to its owner or an admin; everyone else gets 404, never 403", async () => {
    const id = shares.private.id
    expect((await api(arena.baseUrl, "GET", `/v1/shares/${id}`, { token: alice })).status).toBe(200)
    expect((await api(arena.baseUrl, "GET", `/v1/shares/${id}`, { token: aliceReadOnly })).status).toBe(200)
    expect((await api(arena.baseUrl, "GET", `/v1/shares/${id}`, { token: admin })).status).toBe(200)
    const anon = await api(arena.baseUrl, "GET", `/v1/shares/${id}`)
    const other = await api(arena.baseUrl, "GET", `/v1/shares/${id}`, { token: bob })
    const unknown = await api(arena.baseUrl, "GET", `/v1/shares/${"Z".repeat(22)}`, { token: bob })
    expect([anon.status, other.status, unknown.status]).toEqual([404, 404, 404])
    // Same answer as for an id that does not exist: existence does not leak (modulo the id itself).
    expect(other.json).toEqual({ error: { ...unknown.json.error, message: `no share ${id}` } })
    expect(other.text).not.toContain("secret private")
    // A forged or expired token is a 401, not a peek.
    const forged = await api(arena.baseUrl, "GET", `/v1/shares/${id}`, { token: alice.slice(0, -2) + "xx" })
    expect(forged.status).toBe(401)
    const expired = await arena.token("alice", "events:write", 1)
    await new Promise((r) => setTimeout(r, 2100))
    expect((await api(arena.baseUrl, "GET", `/v1/shares/${id}`, { token: expired })).status).toBe(401)
  })

  it("lists only public shares to anonymous users and to other users (plus their own)", async () => {
    const anon = await api<ShareList>(arena.baseUrl, "GET", "/v1/shares?limit=100")
    expect(anon.status).toBe(200)
    expect(anon.json.shares.every((s) => s.privacy_level === "public")).toBe(true)
    expect(anon.json.shares.map((s) => s.id)).toContain(shares.public.id)
    const asBob = await api<ShareList>(arena.baseUrl, "GET", "/v1/shares?limit=100", { token: bob })
    const bobSees = asBob.json.shares.map((s) => s.id)
    expect(bobSees).not.toContain(shares.unlisted.id)
    expect(bobSees).not.toContain(shares.private.id)
    expect(asBob.json.shares.every((s) => s.privacy_level === "public" || s.owner === "bob")).toBe(true)
    expect(asBob.text).not.toContain("secret private")
    expect(asBob.text).not.toContain("secret unlisted")
  })

  it("lists all of the owner's shares with mine=1 (401 without a token)", async () => {
    const mine = await api<ShareList>(arena.baseUrl, "GET", "/v1/shares?mine=1", { token: aliceReadOnly })
    expect(mine.json.shares.map((s) => s.privacy_level).sort()).toEqual(["private", "public", "unlisted"])
    expect(mine.json.shares.every((s) => s.owner === "alice")).toBe(true)
    expect((await api(arena.baseUrl, "GET", "/v1/shares?mine=1")).status).toBe(401)
    const ownAuthenticated = await api<ShareList>(arena.baseUrl, "GET", "/v1/shares", { token: alice })
    expect(ownAuthenticated.json.shares.map((s) => s.id)).toEqual(expect.arrayContaining([shares.private.id, shares.unlisted.id]))
  })

  it("pages newest first with an opaque cursor", async () => {
    for (let i = 0; i < 5; i++) expect((await create(bob, { title: `p${i}`, content: "c", privacy_level: "public" })).status).toBe(201)
    const seen: Array<string> = []
    let cursor: string | null = null
    do {
      const r: { json: ShareList; status: number } = await api<ShareList>(arena.baseUrl, "GET", `/v1/shares?limit=2${cursor === null ? "" : `&cursor=${cursor}`}`)
      expect(r.status).toBe(200)
      seen.push(...r.json.shares.map((s) => s.id))
      cursor = r.json.next_cursor
    } while (cursor !== null)
    const all = await api<ShareList>(arena.baseUrl, "GET", "/v1/shares?limit=100")
    expect(seen).toEqual(all.json.shares.map((s) => s.id))
    expect(all.json.shares[0]!.title).toBe("p4")
  })

  it("validates list and id parameters with their paths", async () => {
    const r = await api(arena.baseUrl, "GET", "/v1/shares?limit=0&mine=maybe&cursor=%%%")
    expect(r.status).toBe(400)
    expect(r.json.error.details.map((d) => d.path).sort()).toEqual(["query.cursor", "query.limit", "query.mine"])
    const bad = await api(arena.baseUrl, "GET", "/v1/shares/not-an-id")
    expect([bad.status, bad.json.error.details[0]!.path]).toEqual([400, "path.id"])
  })
})
