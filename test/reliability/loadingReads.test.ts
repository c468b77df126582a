// Reads while the state is loading (ARCHITECTURE §6 "Readiness and honesty of reads", issue 11
// item 5), against `arena serve` with real NATS, Postgres and ClickHouse. The start-up load is held
// the real way, without a test hook: the test holds an ACCESS EXCLUSIVE lock on arena_checkpoint, so
// the restarted service listens (gateway up) while its pipeline waits to read the snapshot. Every
// board, profile and ledger read answers 503 + Retry-After with a JSON error saying why (not a 404,
// not an empty board at seq 0); a WebSocket subscriber opened meanwhile gets, as its first message,
// the real snapshot once the state is loaded.
import { afterAll, beforeAll, expect, it } from "vitest"
import { mintToken } from "../../src/gateway/auth/Auth.js"
import type { LeaderboardMessage } from "../../src/gateway/protocol/Messages.js"
import { ArenaProcess, JWT_SECRET, cleanup, db, freshNames, natsClient, publishAll, sleep } from "../support/arena.js"
import type { Nats } from "../support/arena.js"
import { request } from "./lib/http.js"
import type { ErrorJson } from "./lib/http.js"
import { BoardWatch } from "./lib/watch.js"

const names = freshNames("loading")
const arena = new ArenaProcess(names, { ARENA_SNAPSHOT_INTERVAL: "200ms" })
let nats: Nats

beforeAll(async () => {
  nats = await natsClient()
  await arena.start()
  await arena.waitForSeq(0)
})
afterAll(async () => {
  await arena.kill()
  await nats?.nc.close()
  await cleanup(names)
})

const until = async <T>(what: string, f: () => Promise<T | null | false>, timeoutMs = 60_000): Promise<T> => {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const v = await f()
    if (v !== null && v !== false) return v
    if (Date.now() > deadline) throw new Error(`timed out: ${what}\n${arena.log.slice(-2000)}`)
    await sleep(50)
  }
}

/**
 * Holds the next start's snapshot load the real way: an ACCESS EXCLUSIVE lock on arena_checkpoint
 * in an open transaction; release() commits it (rejecting if the commit failed) and closes the
 * connection; later calls return the same promise.
 */
const holdSnapshotLoad = async (): Promise<{ release: () => Promise<void> }> => {
  const sql = db(names)
  let release!: () => void
  const released = new Promise<void>((r) => { release = r })
  let locked!: () => void
  const isLocked = new Promise<void>((r) => { locked = r })
  const tx = sql.begin(async (t) => {
    await t`LOCK TABLE arena_checkpoint IN ACCESS EXCLUSIVE MODE`
    locked()
    await released
  })
  await isLocked
  let done: Promise<void> | null = null
  return {
    release: () => (done ??= (async () => {
      release()
      try { await tx } finally { await sql.end() }
    })())
  }
}

it("answers 503 + Retry-After for boards, profiles and ledgers while the snapshot loads, and sends WebSocket subscribers the real snapshot once it is loaded", async () => {
  const events = Array.from({ length: 300 }, (_, i) => ({
    event_id: `${names.id}-${i}`, user_id: `load-${i % 30}`, agent_name: "claude", action_type: "task_completed", timestamp: new Date().toISOString()
  }))
  const acks = await publishAll(nats.js, names.subject, events)
  const head = acks[acks.length - 1]!.seq
  await arena.waitForSeq(head)
  const board = (await request<{ seq: number; entries: Array<unknown> }>(arena.baseUrl, "GET", "/v1/leaderboards/global?window=all&limit=10")).json
  expect(board.entries).toHaveLength(10)
  expect(await arena.stop()).toBe(0) // final snapshot at the head

  // Hold the snapshot: the next start's pipeline blocks reading the checkpoint.
  const hold = await holdSnapshotLoad()
  try {
    await arena.start()
    await until("/readyz says the pipeline is not running", async () => {
      const r = await arena.readyz()
      return r.status === 503 && r.body.reasons.some((x) => /^pipeline not running/.test(x))
    })
    const owner = await mintToken({ sub: "load-1", scope: "", ttlSeconds: 600 }, JWT_SECRET)
    for (const [path, token] of [
      ["/v1/leaderboards", undefined], ["/v1/leaderboards/global?window=all&limit=10", undefined], ["/v1/leaderboards/global/users/load-1", undefined],
      ["/v1/users/load-1", undefined], ["/v1/users/load-1/ledger", owner]
    ] as const) {
      const r = await request<ErrorJson>(arena.baseUrl, "GET", path, token === undefined ? {} : { token })
      expect({ path, status: r.status, retryAfter: r.headers["retry-after"], code: r.json?.error?.code }).toEqual({ path, status: 503, retryAfter: "1", code: "unavailable" })
      expect(r.json.error.message).toMatch(/^state is not available right now: the pipeline is starting: loading its snapshot; retry later$/)
    }
    // A subscriber during the load: its topic is registered (the gauge says so) before the state is back.
    const w = await BoardWatch.open(arena.baseUrl, { board: "global", window: "all", limit: 10 })
    await until("the topic registered", async () => /^arena_ws_topics 1$/m.test(await (await fetch(`${arena.baseUrl}/metrics`)).text()))
    expect(w.reader.messages).toEqual([])
    await hold.release()
    await arena.waitForSeq(head)
    await w.reader.until((m) => m.length > 0, 30_000, "the first message")
    const first = w.reader.messages[0] as LeaderboardMessage & { type: "snapshot"; seq: number; entries: Array<unknown> }
    expect([first.type, first.seq, first.entries]).toEqual(["snapshot", board.seq, board.entries])
    w.close()
    const after = await request<{ seq: number; entries: Array<unknown> }>(arena.baseUrl, "GET", "/v1/leaderboards/global?window=all&limit=10")
    expect([after.status, after.json.seq, after.json.entries]).toEqual([200, board.seq, board.entries])
  } finally {
    await hold.release().catch(() => {})
  }
}, 240_000)

it("stops gracefully on SIGTERM while its snapshot load is held (exit 0 within the stop bound, no wait for the load)", async () => {
  expect(await arena.stop()).toBe(0) // the service the test above left running
  const hold = await holdSnapshotLoad()
  try {
    await arena.start()
    await until("/readyz says the pipeline is not running", async () => {
      const r = await arena.readyz()
      return r.status === 503 && r.body.reasons.some((x) => /^pipeline not running/.test(x))
    })
    // The load stays held while the service stops: a stop that waited for it would time out.
    expect(await arena.stop(60_000)).toBe(0)
    expect(arena.log).toMatch(/SIGTERM(: shutting down| during start-up: stopping)/)
    expect(arena.log).toMatch(/\bstopped\b/)
  } finally {
    await hold.release().catch(() => {})
  }
}, 240_000)

it("stops gracefully on a SIGTERM that arrives during start-up, before it listens (exit 0, not killed by the signal)", async () => {
  const early = freshNames("sigearly")
  const a = new ArenaProcess(early)
  const starting = a.start().then(() => "listening", (e: Error) => e.message)
  try {
    for (let i = 0; !/postgres migrations applied|created database/.test(a.log); i++) {
      if (i > 1200) throw new Error(`no start-up log line within 60 s:\n${a.log}`)
      await sleep(50)
    }
    const child = a.child!
    const exited = new Promise<number | string | null>((r) => {
      child.once("exit", (code, signal) => r(code ?? `killed by ${String(signal)}`))
      setTimeout(() => r("no exit within 60 s of SIGTERM"), 60_000).unref()
    })
    child.kill("SIGTERM")
    // Before the fix the default action killed it (exit code null, signal SIGTERM) when the
    // signal came before the handlers were installed at the end of start-up.
    expect(await exited).toBe(0)
    expect(a.log).toMatch(/SIGTERM(: shutting down| during start-up: stopping)/)
    await starting
  } finally {
    await a.kill()
    await cleanup(early)
  }
}, 240_000)
