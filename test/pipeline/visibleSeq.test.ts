// /readyz `seq` is the visible sequence (ARCHITECTURE §6 "Readiness and honesty of reads", issue 11
// item 4), against `arena serve` with real NATS, Postgres and ClickHouse: while events stream in, a
// client that sees /readyz seq = S and reads a board, a profile and a ledger at once finds every
// event ≤ S in all three — the ledger included, though ClickHouse takes records up to 3 s later
// (the unflushed entries are merged into ledger answers). `ingested_seq` is never behind `seq`.
import { afterAll, beforeAll, expect, it } from "vitest"
import { mintToken } from "../../src/gateway/auth/Auth.js"
import { ArenaProcess, JWT_SECRET, cleanup, freshNames, natsClient, publishAll } from "../support/arena.js"
import type { Nats } from "../support/arena.js"
import { request } from "../reliability/lib/http.js"

const names = freshNames("visible")
const arena = new ArenaProcess(names, { ARENA_RATE_LIMIT_PER_IP: "off", ARENA_RATE_LIMIT_PER_TOKEN: "off" })
let nats: Nats
let admin = ""

beforeAll(async () => {
  nats = await natsClient()
  await arena.start()
  await arena.waitForSeq(0)
  admin = await mintToken({ sub: "ops", scope: "admin", ttlSeconds: 600 }, JWT_SECRET)
})
afterAll(async () => {
  await arena.kill()
  await nats?.nc.close()
  await cleanup(names)
})

const USERS = ["vis-a", "vis-b", "vis-c", "vis-d", "vis-e"]
const BATCHES = 12, PER_BATCH = 1000

interface Ledger { entries: Array<{ seq: number; total_xp_after: number }> }
interface Board { seq: number; entries: Array<{ user_id: string; xp: number }> }
interface Ready { details: { seq?: number; ingested_seq?: number } }

it("a client that sees /readyz seq ≥ S finds every event ≤ S in the board, the profile and the ledger it reads next", async () => {
  const userOfSeq = new Map<number, string>()
  let produced = 0
  const producing = (async () => {
    for (let b = 0; b < BATCHES; b++) {
      const events = Array.from({ length: PER_BATCH }, (_, i) => {
        const n = b * PER_BATCH + i
        return { event_id: `${names.id}-${n}`, user_id: USERS[n % USERS.length]!, agent_name: "claude", action_type: "task_completed", timestamp: new Date().toISOString() }
      })
      const acks = await publishAll(nats.js, names.subject, events, 200)
      acks.forEach((a, i) => userOfSeq.set(a.seq, events[i]!.user_id))
      produced += PER_BATCH
    }
  })()

  const reads: Array<{ S: number; ingested: number; user: string; ledger: Ledger; profile: { total_xp: number }; board: Board }> = []
  for (let k = 0; produced < BATCHES * PER_BATCH || reads.length < 40; k++) {
    const r = (await request<Ready>(arena.baseUrl, "GET", "/readyz")).json
    const S = r.details.seq ?? 0
    if (S === 0) continue
    const user = USERS[k % USERS.length]!
    const [ledger, profile, board] = await Promise.all([
      request<Ledger>(arena.baseUrl, "GET", `/v1/users/${user}/ledger?limit=1000`, { token: admin }),
      request<{ total_xp: number }>(arena.baseUrl, "GET", `/v1/users/${user}`),
      request<Board>(arena.baseUrl, "GET", "/v1/leaderboards/global?window=all&limit=100")
    ])
    expect([ledger.status, profile.status, board.status]).toEqual([200, 200, 200])
    reads.push({ S, ingested: r.details.ingested_seq ?? 0, user, ledger: ledger.json, profile: profile.json, board: board.json })
  }
  await producing

  // Checked once every ack is known: the newest event ≤ S of the user read must be in each answer.
  let ledgerBehind = 0
  for (const { S, user, ledger, profile, board } of reads) {
    const oldest = ledger.entries[ledger.entries.length - 1]?.seq ?? 1
    const want: Array<number> = []
    for (let s = S; s >= oldest; s--) if (userOfSeq.get(s) === user) want.push(s)
    const last = want[0]
    if (last === undefined) continue
    const entry = ledger.entries.find((e) => e.seq === last)
    if (entry === undefined) { ledgerBehind++; continue }
    // Not only the newest: every one of the user's events ≤ S on the page, none missing.
    expect(ledger.entries.filter((e) => e.seq <= S).map((e) => e.seq)).toEqual(want)
    expect(profile.total_xp).toBeGreaterThanOrEqual(entry.total_xp_after)
    expect(board.seq).toBeGreaterThanOrEqual(S)
    expect(board.entries.find((e) => e.user_id === user)?.xp ?? 0).toBeGreaterThanOrEqual(entry.total_xp_after)
  }
  expect(ledgerBehind, `of ${reads.length} reads, ${ledgerBehind} ledgers lacked the user's newest event ≤ /readyz seq`).toBe(0)
  for (const r of reads) expect(r.ingested).toBeGreaterThanOrEqual(r.S)

  // Once ClickHouse holds everything, the entries served from the sink read back identical from the store.
  const head = (await nats.jsm.streams.info(names.stream)).state.last_seq
  await arena.waitForSeq(head)
  for (let i = 0; i < 600; i++) {
    const d = (await request<{ details: { analytics_durable_seq?: number } }>(arena.baseUrl, "GET", "/readyz")).json.details
    if ((d.analytics_durable_seq ?? 0) >= head) break
    await new Promise((r) => setTimeout(r, 100))
  }
  const stored = new Map<number, unknown>()
  let cursor: string | null = null
  do {
    const page: { status: number; json: Ledger & { next_cursor: string | null } } = await request(arena.baseUrl, "GET", `/v1/users/${USERS[0]}/ledger?limit=1000${cursor === null ? "" : `&cursor=${cursor}`}`, { token: admin })
    expect(page.status).toBe(200)
    for (const e of page.json.entries) stored.set(e.seq, e)
    cursor = page.json.next_cursor
  } while (cursor !== null)
  expect(stored.size).toBe(BATCHES * PER_BATCH / USERS.length)
  let compared = 0
  for (const r of reads) if (r.user === USERS[0]) for (const e of r.ledger.entries) { expect(e).toEqual(stored.get(e.seq)); compared++ }
  expect(compared).toBeGreaterThan(0)
}, 300_000)
