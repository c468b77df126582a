// Corrections against the real service (ARCHITECTURE §10): POST /v1/corrections is admin only and
// names the bad field; a void and adjusts change profiles, boards (users move down), ledgers,
// /ws/users (xp_corrected) and ClickHouse; a correction_id counts once; two voids of one event
// that race past the door subtract once (the second is dead-lettered already_voided); and a
// kill -9 after a correction replays to the same state as an uninterrupted run over the stream,
// and `arena backfill` rebuilds the same correction rows from the stream alone.
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { Effect } from "effect"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { openClickHouse } from "../../src/adapters/clickhouse/ClickHouseClient.js"
import { parseClickHouseTarget } from "../../src/adapters/clickhouse/ClickHouseTarget.js"
import { runBackfill } from "../../src/cli/backfillCommand.js"
import { DEFAULT_RULES } from "../../src/domain/DefaultRules.js"
import { RulesHistory } from "../../src/domain/RulesHistory.js"
import { mintToken } from "../../src/gateway/auth/Auth.js"
import type { UserNotification } from "../../src/ports/LiveFeed.js"
import { ArenaProcess, JWT_SECRET, cleanup, db, freshNames, natsClient, sleep } from "../support/arena.js"
import type { Names, Nats } from "../support/arena.js"
import { snapshotDump } from "../support/snapshotDump.js"
import { api, openWs, wsUrl } from "../gateway/client.js"
import type { ErrorBody } from "../gateway/client.js"
import { event } from "../gateway/harness.js"

const names = freshNames("cor")
// An uninterrupted run over the same stream, with its own database (started at the end).
const straight: Names = { ...freshNames("corb"), stream: names.stream, prefix: names.prefix, subject: names.subject, dlqStream: names.dlqStream }
const arena = new ArenaProcess(names)
const token = (sub: string, scope = "") => mintToken({ sub, scope, ttlSeconds: 600 }, JWT_SECRET)
let admin = ""
let nats: Nats

beforeAll(async () => {
  nats = await natsClient()
  admin = await token("ops", "admin")
  await arena.start()
  await arena.waitForSeq(0)
})
afterAll(async () => {
  await arena.kill()
  await nats?.nc.close()
  await cleanup(names)
  await cleanup({ ...straight, stream: "none", dlqStream: "none" })
})

type Accepted = { status: "accepted" | "duplicate"; correction_id: string; seq: number } & ErrorBody
const correct = (body: unknown, tok = admin) => api<Accepted>(arena.baseUrl, "POST", "/v1/corrections", { token: tok, body })
const post = async (events: Array<Record<string, unknown>>): Promise<number> => {
  const r = await api<{ accepted: number; results: Array<{ seq: number }> }>(arena.baseUrl, "POST", "/v1/events", { token: await token("producer", "events:write"), body: events })
  expect(r.status).toBe(202)
  return Math.max(...r.json.results.map((x) => x.seq))
}
type Profile = { total_xp: number; level: { number: number }; agent_stats: Array<{ agent_name: string; xp: number }>; achievements: Array<{ id: string; unlocked: boolean }> }
const profile = async (base: string, user: string) => (await api<Profile>(base, "GET", `/v1/users/${user}`)).json
const board = async (base: string, b: string, window = "all") =>
  (await api<{ entries: Array<{ user_id: string; xp: number; rank: number }> }>(base, "GET", `/v1/leaderboards/${b}?window=${window}&limit=50`)).json.entries.map((e) => `${e.rank}:${e.user_id}:${e.xp}`)
const sql = async (query: string) => (await api<{ rows: unknown[][] }>(arena.baseUrl, "POST", "/v1/analytics/sql", { token: admin, body: { query } })).json.rows
const until = async <T>(what: string, f: () => Promise<T | undefined | false>): Promise<T> => {
  for (let i = 0; i < 600; i++) {
    const v = await f()
    if (v !== undefined && v !== false) return v
    await sleep(100)
  }
  throw new Error(`timed out waiting for ${what}\n${arena.log.slice(-2000)}`)
}

const voided = event("u1", "mission_analytics", "alpha")
const u3event = event("u3", "task_completed", "coder")
let head = 0

describe("corrections on the real service", () => {
  it("refuses bad input with a 4xx naming the field, and anyone but admin", async () => {
    head = await post([voided, event("u1", "task_completed", "coder"), event("u2", "mission_performance", "coder"), u3event])
    await arena.waitForSeq(head)
    const adjust = { correction_id: "x-1", kind: "adjust", user_id: "u1", xp: 5, reason: "r" }
    expect((await correct(adjust, "")).status).toBe(401)
    const producer = await correct(adjust, await token("producer", "events:write"))
    expect([producer.status, producer.json.error.code]).toEqual([403, "forbidden"])
    expect((await correct(adjust, await token("u1"))).status).toBe(403)
    const bad = async (body: unknown) => {
      const r = await correct(body)
      expect(r.status).toBe(400)
      return r.json.error.details.map((d) => d.path)
    }
    expect(await bad({ ...adjust, kind: undefined })).toEqual(["kind"])
    expect(await bad({ ...adjust, kind: "refund" })).toEqual(["kind"])
    expect(await bad({ ...adjust, xp: 0 })).toEqual(["xp"])
    expect(await bad({ ...adjust, xp: 1.5, reason: "" })).toEqual(["xp", "reason"])
    expect(await bad({ ...adjust, extra: 1 })).toEqual(["extra"])
    expect(await bad({ correction_id: "bad id", kind: "void", event_id: voided["event_id"], reason: "r" })).toEqual(["correction_id"])
    expect(await bad([adjust])).toEqual([""])
    const unknownEvent = await correct({ correction_id: "x-2", kind: "void", event_id: "no-such-event", reason: "r" })
    expect([unknownEvent.status, unknownEvent.json.error.details[0]?.path]).toEqual([404, "event_id"])
    const unknownUser = await correct({ ...adjust, user_id: "nobody" })
    expect([unknownUser.status, unknownUser.json.error.details[0]?.path]).toEqual([404, "user_id"])
  })

  it("void and adjust move profiles, boards, ledgers, /ws/users and ClickHouse; each correction_id counts once", async () => {
    expect(await board(arena.baseUrl, "global")).toEqual(["1:u1:160", "2:u2:100", "3:u3:10"])
    const ws = await openWs<UserNotification>(wsUrl(arena.baseUrl, `/ws/users/u1?token=${await token("u1")}`))
    const v = { correction_id: "void-1", kind: "void", event_id: voided["event_id"], reason: "duplicate submission" }
    const r = await correct(v)
    expect([r.status, r.json.status, r.json.correction_id]).toEqual([202, "accepted", "void-1"])
    await arena.waitForSeq(r.json.seq)
    expect((await profile(arena.baseUrl, "u1")).total_xp).toBe(10)
    // u1 now has 10 since the void's seq; u3 reached 10 earlier and ranks above.
    expect(await board(arena.baseUrl, "global")).toEqual(["1:u2:100", "2:u3:10", "3:u1:10"])
    expect(await board(arena.baseUrl, "global", "day")).toEqual(["1:u2:100", "2:u3:10", "3:u1:10"])
    expect(await board(arena.baseUrl, "agent:alpha")).toEqual(["1:u1:0"])
    const note = await ws.until((m) => m.find((n) => n.type === "xp_corrected"), 10_000, "xp_corrected")
    expect(note).toMatchObject({ type: "xp_corrected", user_id: "u1", seq: r.json.seq, entry: { correction: "void", xp: -150, total_xp_after: 10, by: "ops" } })
    ws.close()
    const ledger = (await api<{ entries: Array<Record<string, unknown>> }>(arena.baseUrl, "GET", "/v1/users/u1/ledger", { token: admin })).json.entries
    expect(ledger[0]).toMatchObject({
      kind: "correction", correction_id: "void-1", correction: "void", seq: r.json.seq, event_id: voided["event_id"], reason: "duplicate submission",
      requested_xp: -150, xp: -150, total_xp_after: 10, level_before: 2, level_after: 1, agent_name: "alpha"
    })
    expect((ledger[0]!["boards"] as Array<{ board: string; window: string }>).map((b) => `${b.board}|${b.window}`)).toEqual([
      "global|all", "agent:alpha|all", "global|day", "agent:alpha|day", "global|week", "agent:alpha|week", "global|month", "agent:alpha|month"
    ])
    expect(ledger.filter((e) => e["kind"] === undefined)).toHaveLength(2) // both awards stay, explained

    // The same correction again counts once; another void of the same event is a conflict.
    const dup = await correct(v)
    expect([dup.status, dup.json.status, dup.json.seq]).toEqual([202, "duplicate", r.json.seq])
    const again = await correct({ ...v, correction_id: "void-2" })
    expect([again.status, again.json.error.code, again.json.error.details[0]?.path]).toEqual([409, "already_voided", "event_id"])

    const a = await correct({ correction_id: "adj-1", kind: "adjust", user_id: "u2", xp: -30, agent_name: "coder", reason: "penalty" })
    const a2 = await correct({ correction_id: "adj-1", kind: "adjust", user_id: "u2", xp: -30, agent_name: "coder", reason: "penalty" })
    expect([a.json.status, a2.json.status, a2.json.seq]).toEqual(["accepted", "duplicate", a.json.seq])
    const b = await correct({ correction_id: "adj-2", kind: "adjust", user_id: "u3", xp: 500, reason: "bounty" })
    await arena.waitForSeq(b.json.seq)
    const u2 = await profile(arena.baseUrl, "u2")
    expect([u2.total_xp, u2.agent_stats]).toEqual([70, [{ agent_name: "coder", xp: 70, events: 1 }]])
    const u3 = await profile(arena.baseUrl, "u3")
    expect([u3.total_xp, u3.level.number]).toEqual([510, 3])
    expect(await board(arena.baseUrl, "global")).toEqual(["1:u3:510", "2:u2:70", "3:u1:10"])

    // Two voids of one event that race past the door (published straight to the stream, facts
    // included): the first takes the award back, the second is dead-lettered.
    const u3ledger = (await api<{ entries: Array<{ seq: number; event_id: string; event_time: string }> }>(arena.baseUrl, "GET", "/v1/users/u3/ledger", { token: admin })).json.entries
    const award = u3ledger.find((e) => e.event_id === u3event["event_id"])!
    const raced = (id: string) => JSON.stringify({ correction_id: id, kind: "void", event_id: award.event_id, reason: "race", event: { seq: award.seq, user_id: "u3", agent_name: "coder", xp: 10, event_time: award.event_time } })
    const acks = [await nats.js.publish(`${names.prefix}.corrections`, raced("race-1"), { msgID: "race-1" }), await nats.js.publish(`${names.prefix}.corrections`, raced("race-2"), { msgID: "race-2" })]
    await arena.waitForSeq(acks[1]!.seq)
    expect((await profile(arena.baseUrl, "u3")).total_xp).toBe(500)
    const letter = await until("the dead letter of the second void", async () => {
      const info = await nats.jsm.streams.info(names.dlqStream)
      for (let s = info.state.first_seq; s <= info.state.last_seq && info.state.messages > 0; s++) {
        const m = await nats.jsm.streams.getMessage(names.dlqStream, { seq: s }).catch(() => null)
        if (m?.header.get("Nats-Msg-Id") === `dlq:${acks[1]!.seq}`) return m
      }
      return undefined
    })
    expect(letter.header.get("Arena-Reason")).toBe("already_voided")

    // ClickHouse: one row per applied correction, the refused one among the rejections.
    head = acks[1]!.seq
    const rows = await until("the corrections in ClickHouse", async () => {
      const got = await sql("SELECT correction_id, correction, user_id, xp FROM corrections ORDER BY seq")
      return got.length >= 4 ? got : undefined
    })
    expect(rows).toEqual([["void-1", "void", "u1", -150], ["adj-1", "adjust", "u2", -30], ["adj-2", "adjust", "u3", 500], ["race-1", "void", "u3", -10]])
    expect(await until("the rejection", async () => { const x = await sql(`SELECT reason FROM rejections WHERE seq = ${head}`); return x.length > 0 ? x : undefined })).toEqual([["already_voided"]])
    expect(await sql("SELECT sum(xp) FROM correction_daily")).toEqual([[310]])
    // Read back from ClickHouse (durable by now), the ledger entry is the one served before the flush.
    const stored = (await api<{ entries: Array<Record<string, unknown>> }>(arena.baseUrl, "GET", "/v1/users/u1/ledger", { token: admin })).json.entries
    expect(stored[0]).toEqual(ledger[0])
  })

  it("replays to the same state after kill -9 past a correction as an uninterrupted run over the same stream", async () => {
    const pg = db(names)
    const checkpoint = async () => Number((await pg<{ seq: string }[]>`SELECT seq FROM arena_checkpoint`)[0]?.seq ?? 0)
    try {
      await until("a snapshot at the head", async () => (await checkpoint()) >= head)
      const last = await correct({ correction_id: "adj-3", kind: "adjust", user_id: "u1", xp: 7, agent_name: "alpha", reason: "late fix" })
      await arena.waitForSeq(last.json.seq)
      const before = { u1: await profile(arena.baseUrl, "u1"), global: await board(arena.baseUrl, "global"), alpha: await board(arena.baseUrl, "agent:alpha") }
      await arena.kill()
      head = last.json.seq
      await arena.start()
      await arena.waitForSeq(head)
      expect({ u1: await profile(arena.baseUrl, "u1"), global: await board(arena.baseUrl, "global"), alpha: await board(arena.baseUrl, "agent:alpha") }).toEqual(before)
      expect(before.u1.total_xp).toBe(17)
      // Every correction once in ClickHouse after the kill, and a repeat of an applied void still refused.
      expect(await until("ClickHouse after the restart", async () => {
        const x = await sql("SELECT count(), uniqExact(seq), sum(xp) FROM corrections")
        return Number((x[0] as number[])[0]) >= 5 ? x : undefined
      })).toEqual([[5, 5, 317]])
      expect((await correct({ correction_id: "void-3", kind: "void", event_id: voided["event_id"], reason: "again" })).status).toBe(409)

      const b = new ArenaProcess(straight)
      await b.start()
      try {
        await b.waitForSeq(head)
        for (const u of ["u1", "u2", "u3"]) expect(await profile(b.baseUrl, u)).toEqual(await profile(arena.baseUrl, u))
        for (const x of ["global", "agent:alpha", "agent:coder"]) expect(await board(b.baseUrl, x)).toEqual(await board(arena.baseUrl, x))
        expect(await board(b.baseUrl, "global", "week")).toEqual(await board(arena.baseUrl, "global", "week"))
      } finally {
        expect(await b.stop()).toBe(0)
      }
      expect(await arena.stop()).toBe(0)
      const sb = db(straight)
      try {
        const [x, y] = [await snapshotDump(pg), await snapshotDump(sb)]
        expect(x.checkpoint).toBe(head)
        expect(y).toEqual(x)
        expect(x.users.find(([id]) => id === "u3")![1].voided.length).toBe(1) // the raced void, once
      } finally { await sb.end() }
    } finally { await pg.end() }
  })

  it("backfills the same correction rows from the stream alone", async () => {
    const rowsOf = async (h: ReturnType<typeof openClickHouse>) => {
      try {
        return await (await h.client.query({ query: "SELECT seq, correction_id, correction, user_id, xp, board_keys, board_xp, total_xp_after, level_after FROM corrections ORDER BY seq", format: "JSONEachRow" })).json()
      } finally { await h.close() }
    }
    const live = await rowsOf(openClickHouse(parseClickHouseTarget({ dataDir: names.dataDir })))
    expect(live).toHaveLength(5)
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "arena-cor-backfill-"))
    try {
      const ch = openClickHouse({ kind: "embedded", path: dir, database: "arena" })
      try {
        await Effect.runPromise(runBackfill({ js: nats.js, jsm: nats.jsm, stream: names.stream, subjectPrefix: names.prefix, clickhouse: ch, history: RulesHistory.single(DEFAULT_RULES) }))
      } finally { await ch.close() }
      expect(await rowsOf(openClickHouse({ kind: "embedded", path: dir, database: "arena" }))).toEqual(live)
    } finally { fs.rmSync(dir, { recursive: true, force: true }) }
  })
})
