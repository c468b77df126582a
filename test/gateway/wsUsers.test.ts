// /ws/users/{user_id}: a token whose sub is that user (or admin) is required — via ?token= or
// Sec-WebSocket-Protocol — and the socket receives that user's notifications only.
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import type { UserNotification } from "../../src/ports/LiveFeed.js"
import { openWs, wsUrl } from "./client.js"
import type { MemoryArena } from "./harness.js"
import { event, startMemoryArena } from "./harness.js"

/** The main thread learns of a worker's socket by message, just after the client sees it open. */
const until = async (cond: () => boolean): Promise<void> => {
  for (let i = 0; i < 200 && !cond(); i++) await new Promise((r) => setTimeout(r, 10))
  expect(cond()).toBe(true)
}

// Every test runs with the sockets on the main thread and with them in two WS worker threads
// (which forward all plain HTTP to the main thread's routes).
describe.each([0, 2])("/ws/users (ws threads: %i)", (threads) => {
  let arena: MemoryArena
  beforeAll(async () => {
    arena = await startMemoryArena({ threads })
  })
  afterAll(async () => {
    await arena.stop()
  })

  const refusal = (path: string, opts: { protocols?: Array<string> } = {}): Promise<number | "open"> =>
    openWs(wsUrl(arena.baseUrl, path), opts).then((r) => (r.close(), "open" as const), (e: { status: number }) => e.status)

  it("refuses without a token (401), with a bad one (401), and with another user's token (403)", async () => {
    const bob = await arena.token("bob", "")
    expect(await refusal("/ws/users/alice")).toBe(401)
    expect(await refusal(`/ws/users/alice?token=${bob.slice(0, -2)}zz`)).toBe(401)
    expect(await refusal(`/ws/users/alice?token=${bob}`)).toBe(403)
    expect(await refusal("/ws/users/alice", { protocols: ["bearer", bob] })).toBe(403)
    expect(await refusal(`/ws/users/bad%20id?token=${bob}`)).toBe(400)
  })

  it("pushes the user's own notifications, and nobody else's", async () => {
    const alice = await arena.token("alice", "")
    const reader = await openWs<UserNotification>(wsUrl(arena.baseUrl, `/ws/users/alice?token=${alice}`))
    await until(() => arena.pipeline.watchedUsers.get("alice") === 1)
    await arena.publish([event("bob"), event("alice", "mission_security"), event("carol")])
    const n = await reader.nth(0)
    expect(n).toMatchObject({ type: "xp_awarded", user_id: "alice" })
    // Bob's event, then one of alice's: notifications reach a socket in seq order, so once alice's
    // arrives, a wrongly routed notification of bob's would already be there.
    const [, mine] = (await arena.publish([event("bob"), event("alice")])).results
    await reader.until((m) => m.some((x) => x.seq === (mine as { seq: number }).seq), 5000, "alice's second award")
    expect(reader.messages.map((m) => [m.type, m.user_id])).toEqual([["xp_awarded", "alice"], ["xp_awarded", "alice"]])
    reader.close()
    await reader.until(() => reader.closed !== null, 5000, "close")
    await until(() => !arena.pipeline.watchedUsers.has("alice"))
  })

  it("accepts the token as a Sec-WebSocket-Protocol (answering `bearer`), and admins for any user", async () => {
    const alice = await arena.token("alice", "")
    const viaProtocol = await openWs<UserNotification>(wsUrl(arena.baseUrl, "/ws/users/alice"), { protocols: ["bearer", alice] })
    expect(viaProtocol.ws.protocol).toBe("bearer")
    const admin = await arena.token("root", "admin")
    const asAdmin = await openWs<UserNotification>(wsUrl(arena.baseUrl, `/ws/users/alice?token=${admin}`))
    // A live feed: only events after the subscription reached the pipeline are pushed (with WS
    // threads that is a message after the open), so wait for both sockets to be registered.
    await until(() => arena.pipeline.watchedUsers.get("alice") === 2)
    await arena.publish([event("alice")])
    expect((await viaProtocol.nth(0)).user_id).toBe("alice")
    expect((await asAdmin.nth(0)).user_id).toBe("alice")
    viaProtocol.close()
    asAdmin.close()
  })
})
