// Erasure (ARCHITECTURE §11 "Privacy") against the real `arena serve` with NATS JetStream, Postgres
// and embedded ClickHouse: DELETE /v1/users/{id} answers 202 with an erasure id, GET
// /v1/erasures/{id} reports completion, and then the user is in no board, profile, ledger, share, group,
// snapshot chunk, ClickHouse table or stream message — also after kill -9 and a replay. An erasure
// killed (kill -9) right after it was accepted, and one killed in the middle of its steps, both
// resume at start and finish — also when killed between any two of its recorded steps (the
// service runs with ARENA_ERASURE_STEP_PAUSE so the test can see each step in Postgres and kill
// there). A user with corrections (void, adjust, a refused repeat of the void) and a settings change
// leaves no corrections row and no correction or settings message or dead letter either. Bad
// input is a 4xx naming the field; another user's token gets 403.
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { mintToken } from "../../src/gateway/auth/Auth.js"
import { api } from "../gateway/client.js"
import { ArenaProcess, JWT_SECRET, cleanup, db, freshNames, natsClient, publishAll, sleep } from "../support/arena.js"
import type { Nats, Names } from "../support/arena.js"
import { snapshotDump } from "../support/snapshotDump.js"

const names: Names = freshNames("era")
let nats: Nats
let arena: ArenaProcess

const token = (sub: string, scope = "") => mintToken({ sub, scope, ttlSeconds: 3600 }, JWT_SECRET)
// Distinctive ids, so "the bytes are nowhere" is a meaningful search.
const ERIN = "erin.erasable@example"
const FRANK = "frank-erasable-7"
const BOB = "bob-stays"
const now = () => new Date().toISOString()
let n = 0
const ev = (user: string, extra: Record<string, unknown> = {}) =>
  ({ event_id: `e${++n}`, user_id: user, username: `${user.toUpperCase()}!`, agent_name: "claude-code", action_type: "task_completed", timestamp: now(), ...extra })

interface ErasureView { erasure_id: string; status: string; step: string; steps_done: string[]; messages_erased: number; completed_at: string | null }
interface ErrorBody { error: { code: string; details: Array<{ path: string }> } }

const admin = () => token("root", "admin")

/** Rows of an admin SQL query, as objects keyed by column. */
const sqlRows = async (query: string): Promise<Array<Record<string, unknown>>> => {
  const r = await api<{ columns: string[]; rows: unknown[][] }>(arena.baseUrl, "POST", "/v1/analytics/sql", { token: await admin(), body: { query } })
  if (r.status !== 200) throw new Error(`sql ${r.status}: ${r.text}`)
  return r.json.rows.map((row) => Object.fromEntries(r.json.columns.map((c, i) => [c, row[i]])))
}

const waitDone = async (id: string, tok: string): Promise<ErasureView> => {
  for (let i = 0; ; i++) {
    const r = await api<ErasureView>(arena.baseUrl, "GET", `/v1/erasures/${id}`, { token: tok }).catch(() => null)
    if (r !== null && r.status === 200 && r.json.status === "done") return r.json
    if (i > 2400) throw new Error(`erasure ${id} not done: ${r?.text}\n${arena.log.slice(-3000)}`)
    await sleep(50)
  }
}

/** Every message still in a stream (the events by default), as text. */
const streamTexts = async (stream = names.stream): Promise<string[]> => {
  const info = await nats.jsm.streams.info(stream)
  const out: string[] = []
  for (let seq = info.state.first_seq; seq <= info.state.last_seq; seq++) {
    const m = await nats.jsm.streams.getMessage(stream, { seq }).catch(() => null)
    if (m !== null) out.push(`${m.subject} ${m.header?.get("Nats-Msg-Id") ?? ""} ${new TextDecoder().decode(m.data)}`)
  }
  return out
}

/** Everything the user could still be found in, empty when they are gone. */
const traces = async (user: string): Promise<string[]> => {
  const found: string[] = []
  if ((await api(arena.baseUrl, "GET", `/v1/users/${encodeURIComponent(user)}`)).status !== 404) found.push("profile")
  const ledger = await api<{ entries: unknown[] }>(arena.baseUrl, "GET", `/v1/users/${encodeURIComponent(user)}/ledger`, { token: await admin() })
  if (ledger.json.entries.length > 0) found.push("ledger")
  for (const b of ["global", "agent:claude-code"]) {
    for (const w of ["all", "day", "week", "month"]) {
      const page = await api(arena.baseUrl, "GET", `/v1/leaderboards/${b}?window=${w}&limit=100`)
      if (page.text.includes(user)) found.push(`board ${b} ${w}`)
    }
  }
  const sql = db(names)
  try {
    const shares = await sql`SELECT count(*)::int AS n FROM arena_shares WHERE owner = ${user}`
    if (shares[0]!["n"] !== 0) found.push("shares")
    const chunks = await sql<{ data: Uint8Array }[]>`SELECT data FROM arena_snapshot_chunk`
    if (chunks.some((c) => Buffer.from(c.data).includes(Buffer.from(user, "latin1")))) found.push("snapshot chunk bytes")
    if ((await snapshotDump(sql)).users.some(([id]) => id === user)) found.push("snapshot")
    const groups = await sql`SELECT count(*)::int AS n FROM arena_groups WHERE owner = ${user} OR ${user} = ANY(members)`
    if (groups[0]!["n"] !== 0) found.push("groups")
    const archives = await sql`SELECT count(*)::int AS n FROM arena_period_archive WHERE user_id = ${user}`
    if (archives[0]!["n"] !== 0) found.push("period archive")
    const erasures = await sql`SELECT count(*)::int AS n FROM arena_erasure WHERE user_id = ${user}`
    if (erasures[0]!["n"] !== 0) found.push("erasure record")
  } finally { await sql.end() }
  for (const t of ["awards", "corrections", "level_ups", "achievements", "user_days", "correction_daily"]) {
    const [r] = await sqlRows(`SELECT count() AS n FROM ${t} WHERE user_id = '${user}'`)
    if (Number(r!["n"]) !== 0) found.push(`clickhouse ${t}`)
  }
  const [mut] = await sqlRows(`SELECT count() AS n FROM system.mutations WHERE position(command, '${user}') > 0`)
  if (Number(mut!["n"]) !== 0) found.push("clickhouse mutation texts")
  if ((await streamTexts()).some((t) => t.includes(user))) found.push("stream")
  if ((await streamTexts(names.dlqStream)).some((t) => t.includes(user))) found.push("dead letters")
  return found
}

/** Seqs of the rejected events (one per erased user), their rejections in ClickHouse must go too. */
const rejectedSeqs: Record<string, number> = {}
const rejectionRows = async (seq: number) => Number((await sqlRows(`SELECT count() AS n FROM rejections WHERE seq = ${seq}`))[0]!["n"])

const bobXp = async () => (await api<{ total_xp: number }>(arena.baseUrl, "GET", `/v1/users/${BOB}`)).json.total_xp

beforeAll(async () => {
  nats = await natsClient()
  // A pause after each recorded erasure step, so a test can kill -9 between any two of them.
  arena = new ArenaProcess(names, { ARENA_ERASURE_STEP_PAUSE: "300ms" })
  await arena.start()
  const events = [ev(ERIN, { metadata: { model: "opus", note: ERIN } }), ev(BOB), ev(FRANK), ev(ERIN), ev(FRANK, { metadata: { model: "haiku" } }), ev(BOB), ev(ERIN),
    ev(ERIN, { action_type: "teleport" }), ev(FRANK, { timestamp: new Date(Date.now() + 3_600_000).toISOString() }), ev(BOB, { action_type: "teleport" })]
  const acks = await publishAll(nats.js, names.subject, events)
  rejectedSeqs[ERIN] = acks[7]!.seq
  rejectedSeqs[FRANK] = acks[8]!.seq
  await arena.waitForSeq(acks[acks.length - 1]!.seq)
  const share = await api(arena.baseUrl, "POST", "/v1/shares", { token: await token(ERIN), body: { title: "mine", content: "hello", privacy_level: "public" } })
  expect(share.status).toBe(201)
}, 240_000)

afterAll(async () => {
  await arena?.stop()
  await nats?.nc.close()
  await cleanup(names)
})

describe("erasure", () => {
  it("refuses bad input with a 4xx naming the field, and another user's token with 403", async () => {
    expect((await api(arena.baseUrl, "DELETE", `/v1/users/${BOB}`)).status).toBe(401)
    const other = await api<ErrorBody>(arena.baseUrl, "DELETE", `/v1/users/${BOB}`, { token: await token(ERIN) })
    expect([other.status, other.json.error.code]).toEqual([403, "forbidden"])
    const bad = await api<ErrorBody>(arena.baseUrl, "DELETE", "/v1/users/not%20an%20id", { token: await admin() })
    expect([bad.status, bad.json.error.details.map((d) => d.path)]).toEqual([400, ["path.user_id"]])
    const unknownQuery = await api<ErrorBody>(arena.baseUrl, "DELETE", `/v1/users/${BOB}?force=1`, { token: await token(BOB) })
    expect([unknownQuery.status, unknownQuery.json.error.details.map((d) => d.path)]).toEqual([400, ["query.force"]])
    const badId = await api<ErrorBody>(arena.baseUrl, "GET", "/v1/erasures/nope", { token: await token(BOB) })
    expect([badId.status, badId.json.error.details.map((d) => d.path)]).toEqual([400, ["path.id"]])
    expect((await api(arena.baseUrl, "GET", "/v1/erasures/AAAAAAAAAAAAAAAAAAAAAA", { token: await token(BOB) })).status).toBe(404)
    expect((await api(arena.baseUrl, "GET", "/v1/erasures/AAAAAAAAAAAAAAAAAAAAAA")).status).toBe(401)
    // The tracer finds a user who is there, in each place.
    expect(await traces(BOB)).toEqual(expect.arrayContaining(["profile", "ledger", "board global all", "board agent:claude-code day", "snapshot", "clickhouse awards", "clickhouse user_days", "stream", "dead letters"]))
  }, 120_000)

  it("resumes an erasure killed (kill -9) right after it was accepted, and leaves no trace", async () => {
    const before = await traces(ERIN)
    expect(before).toEqual(expect.arrayContaining(["profile", "ledger", "board global all", "shares", "snapshot", "clickhouse awards", "stream", "dead letters"]))
    expect(await rejectionRows(rejectedSeqs[ERIN]!)).toBe(1)
    const bobBefore = await bobXp()
    // An archived ranking of a closed period with ERIN second: afterwards the rest move up (1..n).
    const sql = db(names)
    try {
      await sql`INSERT INTO arena_period_archive (board, win, period, rank, user_id, username, xp, reached_seq, level) VALUES
        ('global', 'day', '2020-01-01', 1, ${BOB}, 'B', 30, 1, 1), ('global', 'day', '2020-01-01', 2, ${ERIN}, 'E', 20, 2, 1), ('global', 'day', '2020-01-01', 3, 'zed', 'Z', 10, 3, 1)`
      await sql`INSERT INTO arena_period_closed (board, win, period, entries, closed_at_seq) VALUES ('global', 'day', '2020-01-01', 3, 1)`
    } finally { await sql.end() }
    const archived = async () => (await api<{ total: number; entries: Array<{ rank: number; user_id: string }> }>(arena.baseUrl, "GET", "/v1/leaderboards/global?window=day&period=2020-01-01")).json
    expect((await archived()).entries.map((e) => [e.rank, e.user_id])).toEqual([[1, BOB], [2, ERIN], [3, "zed"]])
    // Groups: one of BOB's with ERIN as a member, one of ERIN's own.
    expect((await api(arena.baseUrl, "PUT", "/v1/groups/bobs", { token: await token(BOB), body: { name: "Bob's", members: [BOB, ERIN] } })).status).toBe(201)
    expect((await api(arena.baseUrl, "PUT", "/v1/groups/erins", { token: await token(ERIN), body: { name: "Erin's", members: [ERIN, BOB] } })).status).toBe(201)
    expect(await traces(ERIN)).toContain("groups")
    const r = await api<ErasureView & { user_id: string }>(arena.baseUrl, "DELETE", `/v1/users/${encodeURIComponent(ERIN)}`, { token: await token(ERIN) })
    expect(r.status).toBe(202)
    expect(r.headers.get("location")).toBe(`/v1/erasures/${r.json.erasure_id}`)
    expect(r.json).toMatchObject({ status: "pending", user_id: ERIN })
    await arena.kill()
    await arena.start()
    // Another user cannot read it; the one who asked can.
    expect((await api(arena.baseUrl, "GET", `/v1/erasures/${r.json.erasure_id}`, { token: await token(BOB) })).status).toBe(404)
    const done = await waitDone(r.json.erasure_id, await token(ERIN))
    await arena.waitForSeq((await nats.jsm.streams.info(names.stream)).state.last_seq)
    expect(done.steps_done).toEqual(["publish", "apply", "snapshot", "postgres", "clickhouse", "stream"])
    // three awarded events, one rejected, the erasure message itself, and the rejected one's dead letter
    expect(done.messages_erased).toBe(6)
    expect(await traces(ERIN)).toEqual([])
    expect(await rejectionRows(rejectedSeqs[ERIN]!)).toBe(0)
    expect(await bobXp()).toBe(bobBefore)
    expect((await api<{ members: string[] }>(arena.baseUrl, "GET", "/v1/groups/bobs", { token: await token(BOB) })).json.members).toEqual([BOB])
    expect((await api(arena.baseUrl, "GET", "/v1/groups/erins", { token: await admin() })).status).toBe(404)
    const after = await archived()
    expect([after.total, after.entries.map((e) => [e.rank, e.user_id])]).toEqual([2, [[1, BOB], [2, "zed"]]])
    // A producer re-sending one of the erased events within the stream's duplicate window (24 h) is
    // told it is a duplicate: the stream still remembers the id, not the message.
    const resent = await publishAll(nats.js, names.subject, [{ ...ev(ERIN), event_id: "e1" }])
    expect(resent[0]!.duplicate).toBe(true)
  }, 240_000)

  it("resumes an erasure killed (kill -9) in the middle of its steps; a replay after kill -9 brings nobody back", async () => {
    const r = await api<ErasureView>(arena.baseUrl, "DELETE", `/v1/users/${FRANK}`, { token: await admin() })
    expect(r.status).toBe(202)
    // Kill once the erasure is past publishing (the message is in the stream, the rest not done).
    for (let i = 0; ; i++) {
      const s = await api<ErasureView>(arena.baseUrl, "GET", `/v1/erasures/${r.json.erasure_id}`, { token: await admin() })
      if (s.json.steps_done.includes("publish")) break
      if (i > 2400) throw new Error(`erasure never published: ${s.text}`)
      await sleep(5)
    }
    await arena.kill()
    await arena.start()
    await waitDone(r.json.erasure_id, await admin())
    await arena.waitForSeq((await nats.jsm.streams.info(names.stream)).state.last_seq)
    expect(await traces(FRANK)).toEqual([])
    expect(await rejectionRows(rejectedSeqs[FRANK]!)).toBe(0)
    // kill -9 and replay: still gone; everyone else as before.
    const bob = await bobXp()
    await arena.kill()
    await arena.start()
    const info = await nats.jsm.streams.info(names.stream)
    await arena.waitForSeq(info.state.last_seq)
    expect(await traces(FRANK)).toEqual([])
    expect(await traces(ERIN)).toEqual([])
    expect(await bobXp()).toBe(bob)
    // The rollups were rebuilt from what is left: they agree with the raw rows.
    const [agg] = await sqlRows("SELECT (SELECT sum(events) FROM agent_daily) AS rolled, (SELECT count() FROM awards) AS raw")
    expect(Number(agg!["rolled"])).toBe(Number(agg!["raw"]))
  }, 300_000)

  it("erases a user with corrections and a settings change: no corrections row, no correction or settings message", async () => {
    const GRACE = "grace-corrected-erasable"
    const events = [ev(GRACE), ev(GRACE), ev(BOB)]
    const acks = await publishAll(nats.js, names.subject, events)
    await arena.waitForSeq(acks[2]!.seq)
    const bob = await bobXp()
    const correct = async (body: Record<string, unknown>) => {
      const r = await api<{ seq: number }>(arena.baseUrl, "POST", "/v1/corrections", { token: await admin(), body })
      expect([r.status, r.text]).toEqual([202, expect.any(String)])
      return r.json.seq
    }
    const voidSeq = await correct({ correction_id: "grace-void", kind: "void", event_id: events[0]!.event_id, reason: "duplicate" })
    const adjustSeq = await correct({ correction_id: "grace-adjust", kind: "adjust", user_id: GRACE, xp: 7, reason: "bonus" })
    // The same void again, straight onto the subject (the route refuses it at once): dead-lettered
    // as already_voided, its letter naming GRACE only in `event.user_id`.
    const voided = await nats.jsm.streams.getMessage(names.stream, { seq: voidSeq })
    const again = { ...(JSON.parse(new TextDecoder().decode(voided!.data)) as Record<string, unknown>), correction_id: "grace-void-again" }
    const againSeq = (await nats.js.publish(`${names.prefix}.corrections`, JSON.stringify(again), { msgID: "grace-void-again" })).seq
    await arena.waitForSeq(againSeq)
    const set = await api<{ seq: number }>(arena.baseUrl, "PUT", `/v1/users/${GRACE}/settings`, { token: await token(GRACE), body: { time_zone: "Europe/Berlin", visibility: "private" } })
    expect(set.status).toBe(202)
    await arena.waitForSeq(set.json.seq)
    const kindSeqs = [voidSeq, adjustSeq, againSeq, set.json.seq]
    const inStream = async () => {
      const left: number[] = []
      for (const seq of kindSeqs) if ((await nats.jsm.streams.getMessage(names.stream, { seq }).catch(() => null)) !== null) left.push(seq)
      return left
    }
    expect(await inStream()).toEqual(kindSeqs)
    // Both corrections (and the refusal) are in ClickHouse once the sink flushed them.
    for (let i = 0; ; i++) {
      const [r] = await sqlRows(`SELECT count() AS n FROM corrections WHERE user_id = '${GRACE}'`)
      if (Number(r!["n"]) === 2 && await rejectionRows(againSeq) === 1) break
      if (i > 2400) throw new Error(`corrections never reached ClickHouse: ${JSON.stringify(r)}`)
      await sleep(50)
    }
    expect(await traces(GRACE)).toEqual(expect.arrayContaining(["clickhouse awards", "clickhouse corrections", "clickhouse correction_daily", "stream", "dead letters"]))
    const r = await api<ErasureView>(arena.baseUrl, "DELETE", `/v1/users/${GRACE}`, { token: await token(GRACE) })
    expect(r.status).toBe(202)
    const done = await waitDone(r.json.erasure_id, await token(GRACE))
    await arena.waitForSeq((await nats.jsm.streams.info(names.stream)).state.last_seq)
    // two events, three corrections (one refused), one settings change, the erasure message itself, the refused one's dead letter
    expect(done.messages_erased).toBe(8)
    expect(await inStream()).toEqual([])
    expect(await traces(GRACE)).toEqual([])
    const [c] = await sqlRows(`SELECT count() AS n FROM corrections WHERE seq IN (${voidSeq}, ${adjustSeq})`)
    expect(Number(c!["n"])).toBe(0)
    expect(await rejectionRows(againSeq)).toBe(0)
    expect(await bobXp()).toBe(bob)
    // The correction rollup agrees with what is left of its raw rows.
    const [agg] = await sqlRows("SELECT (SELECT sum(events) FROM correction_daily) AS rolled, (SELECT count() FROM corrections) AS raw")
    expect(Number(agg!["rolled"] ?? 0)).toBe(Number(agg!["raw"]))
  }, 300_000)

  it("finishes with no trace when killed (kill -9) between any two of its steps", async () => {
    // Each point: the step recorded in Postgres when the kill comes (and for one, the seqs recorded
    // but the ClickHouse rows not yet deleted).
    const points: Array<{ step: string; seqsRecorded?: boolean }> = [
      { step: "apply" }, { step: "snapshot" }, { step: "postgres" }, { step: "clickhouse", seqsRecorded: false },
      { step: "clickhouse", seqsRecorded: true }, { step: "stream" }
    ]
    for (const [i, point] of points.entries()) {
      const user = `gone-${i}-erasable`
      const acks = await publishAll(nats.js, names.subject, [ev(user), ev(user, { metadata: { model: "opus" } }), ev(user, { action_type: "teleport" })])
      await arena.waitForSeq(acks[2]!.seq)
      expect((await api(arena.baseUrl, "POST", "/v1/shares", { token: await token(user), body: { title: "t", content: "c", privacy_level: "private" } })).status).toBe(201)
      await arena.waitForSeq(acks[2]!.seq)
      const bob = await bobXp()
      const r = await api<ErasureView>(arena.baseUrl, "DELETE", `/v1/users/${user}`, { token: await token(user) })
      expect(r.status).toBe(202)
      const sql = db(names)
      try {
        for (let k = 0; ; k++) {
          const [row] = await sql<{ step: string; seqs: boolean }[]>`SELECT step, stream_seqs IS NOT NULL AS seqs FROM arena_erasure WHERE id = ${r.json.erasure_id}`
          if (row!.step === point.step && (point.seqsRecorded === undefined || row!.seqs === point.seqsRecorded)) break
          if (k > 4000) throw new Error(`erasure never at ${JSON.stringify(point)}: ${JSON.stringify(row)}`)
          await sleep(5)
        }
      } finally { await sql.end() }
      await arena.kill()
      await arena.start()
      await waitDone(r.json.erasure_id, await token(user))
      await arena.waitForSeq((await nats.jsm.streams.info(names.stream)).state.last_seq) // reads answer 503 until replayed
      expect({ point, traces: await traces(user) }).toEqual({ point, traces: [] })
      expect(await bobXp()).toBe(bob)
    }
  }, 600_000)
})
