// Exactly-once state (ARCHITECTURE §2.1): the same recorded stream processed once straight through
// and once with kill -9 at random moments and restarts gives identical user states (full dumps),
// checkpoints and dead letters. 100k events over 10k users, streaks across 40 days, duplicates.
// Three of the 6 kills land after a snapshot of that life is committed (checked in Postgres).
// Across rules versions (ARCHITECTURE §10, second describe): kill -9s around an apply from head,
// corrections and a retroactive re-projection, and the service equals the independent oracle
// (test/oracle), which folds the stream under the same versions given to it as its own tables.
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { mintToken } from "../../src/gateway/auth/Auth.js"
import { ArenaProcess, JWT_SECRET, cleanup, db, freshNames, natsClient, publishAll, sleep } from "../support/arena.js"
import type { Nats, Names } from "../support/arena.js"
import { snapshotDump } from "../support/snapshotDump.js"
import { makeGenerator, prng } from "../../src/cli/Producer.js"
import { openClickHouse } from "../../src/adapters/clickhouse/ClickHouseClient.js"
import { parseClickHouseTarget } from "../../src/adapters/clickhouse/ClickHouseTarget.js"
import { Oracle } from "../oracle/Oracle.js"
import type { StoredMessage } from "../oracle/Oracle.js"
import { DEFAULT_TABLES } from "../oracle/rules.js"
import { readStream } from "../oracle/stream.js"
import { versionThree, versionTwo } from "../oracle/versions.js"
import { makeWorkload, prng as seeded } from "../oracle/workload.js"
import { SourceIps, request } from "../reliability/lib/http.js"
import { publishItems } from "../reliability/lib/publish.js"
import { applyFromHead, startRetroactive, switched } from "../reliability/lib/rules.js"
import { checkClickHouse, checkDlq, checkRest } from "../reliability/lib/verify.js"

/** What ClickHouse holds (read after the service stopped: the embedded engine is then free). */
const analytics = async (names: Names) => {
  const h = openClickHouse(parseClickHouseTarget({ dataDir: names.dataDir }))
  try {
    const q = async (query: string) => (await (await h.client.query({ query, format: "JSONEachRow" })).json<Record<string, string | number>>())
    const [totals] = await q("SELECT count() AS rows, uniqExact(seq) AS seqs, sum(total_awarded) AS xp FROM awards")
    const [rejections] = await q("SELECT count() AS rows, uniqExact(seq) AS seqs FROM rejections")
    const ledger = await q("SELECT seq, user_id, xp, total_awarded, total_xp_after FROM awards ORDER BY seq")
    return { totals, rejections, ledger }
  } finally { await h.close() }
}

const EVENTS = Number(process.env.REPLAY_EVENTS ?? 100_000)
const USERS = 10_000

const straight: Names = freshNames("rpa")
// Run B reads the same stream as run A, with its own database.
const chaos: Names = { ...freshNames("rpb"), stream: straight.stream, prefix: straight.prefix, subject: straight.subject, dlqStream: straight.dlqStream }
let nats: Nats

const dump = async (names: Names) => {
  const sql = db(names)
  try {
    return await snapshotDump(sql)
  } finally { await sql.end() }
}

beforeAll(async () => { nats = await natsClient() })
afterAll(async () => { await nats?.nc.close() })

describe("replay determinism", () => {
  beforeAll(async () => {
  // Provision the stream by starting run A once (it applies streams/ with these names), then record the stream.
    const a = new ArenaProcess(straight)
    await a.start()
    await a.stop()
    const span = 40 * 86_400_000
    const start = Date.now() - span
    const gen = makeGenerator({ users: USERS, agents: 20, seed: 42, idPrefix: "replay", timestamp: (i) => new Date(start + Math.floor((i / EVENTS) * span)).toISOString() })
    const rnd = prng(7)
    const events: Array<Record<string, unknown> | { raw: string; msgId: string }> = []
    for (let i = 0; i < EVENTS; i++) {
      events.push(gen(i))
      if (rnd() < 0.01) events.push(gen(Math.floor(rnd() * (i + 1)))) // a duplicate of an earlier event_id
      if (rnd() < 0.002) events.push({ raw: `{"event_id":"broken-${i}"`, msgId: `broken-${i}` })
    }
    await publishAll(nats.js, straight.subject, events)
  }, 600_000)

  afterAll(async () => {
    await cleanup(straight)
    await cleanup({ ...chaos, stream: "none", dlqStream: "none" })
  })

  it("kill -9 at random points and restarts yield the same state as one uninterrupted run", async () => {
    const info = await nats.jsm.streams.info(straight.stream)
    const head = info.state.last_seq

    // Run A (straight through) and the killed lives of run B share nothing but the stream, so
    // they run side by side: the test waits for the longer of the two, not their sum.
    const t0 = Date.now()
    const a = new ArenaProcess(straight)
    const straightRun = (async () => {
      await a.start()
      await a.waitForSeq(head)
      expect(await a.stop()).toBe(0)
      return Date.now() - t0
    })()
    straightRun.catch(() => {}) // awaited below; a failure there must not go unhandled meanwhile

    // Six lives of run B end in kill -9. The even ones are killed only after they committed a
    // snapshot of their own (read from Postgres, not guessed from timing), a seeded 0–250 ms later:
    // the kill lands between two commits, with events applied in memory (and sent to ClickHouse)
    // past the checkpoint, which the next life must replay exactly once. The odd ones are killed a
    // seeded 0.2–1.7 s after listening, wherever that lands (loading, replaying, mid-snapshot).
    // Waiting for one commit, not for a stream position, keeps each life short on a loaded machine.
    const b = new ArenaProcess(chaos)
    const rnd = prng(1234)
    const kills: Array<{ afterCommit: boolean; before: number; atKill: number; ms: number }> = []
    const pg = db(chaos)
    const checkpoint = async (): Promise<number> =>
      Number((await pg<{ seq: string }[]>`SELECT seq FROM arena_checkpoint`.catch(() => []))[0]?.seq ?? 0)
    try {
      for (let round = 0; round < 6; round++) {
        const before = await checkpoint()
        const tLife = Date.now()
        const afterCommit = round % 2 === 0 && before < head
        await b.start()
        if (afterCommit) {
          for (let i = 0; (await checkpoint()) <= before; i++) {
            if (i > 3000) throw new Error(`round ${round}: no snapshot past seq ${before} within 150 s:\n${b.log.slice(-2000)}`)
            await sleep(50)
          }
          await sleep(Math.floor(rnd() * 250))
        } else {
          await sleep(200 + Math.floor(rnd() * 1500))
        }
        await b.kill()
        kills.push({ afterCommit, before, atKill: await checkpoint(), ms: Date.now() - tLife })
      }
    } finally {
      await pg.end()
      await straightRun.catch(() => {})
      await a.kill()
    }
    const tStraight = await straightRun
    const expected = await dump(straight)
    expect(expected.checkpoint).toBe(head)
    expect(expected.users.length).toBeGreaterThan(USERS * 0.9)
    const tLast = Date.now()
    await b.start()
    await b.waitForSeq(head)
    expect(await b.stop()).toBe(0)
    console.log(`replay: stream head ${head}; straight run ${tStraight} ms (beside the lives); lives (checkpoint before → at the kill, ms): ` +
      `${kills.map((k) => `${k.afterCommit ? "after a commit " : ""}${k.before}→${k.atKill} ${k.ms}`).join(", ")}; last life ${Date.now() - tLast} ms`)
    const actual = await dump(chaos)
    // Three kills came after a snapshot committed in their own life (the log line above shows
    // where each landed); the replay after every kill is what the dumps below check.
    const gated = kills.filter((k) => k.afterCommit)
    expect(gated.length, JSON.stringify(kills)).toBe(3)
    expect(gated.every((k) => k.atKill > k.before), JSON.stringify(kills)).toBe(true)
    expect(actual.checkpoint).toBe(head)
    expect(actual.users.length).toBe(expected.users.length)
    // Full dump equality: every user's XP, level, streak runs, counts, achievements, agent and period scores.
    expect(actual.users).toEqual(expected.users)

    // Exactly-once analytics (§2.3): every applied event once in ClickHouse, across the same kills.
    const [chA, chB] = await Promise.all([analytics(straight), analytics(chaos)])
    const totalXp = expected.users.reduce((s, [, u]) => s + (u as { totalXp: number }).totalXp, 0)
    const applied = expected.users.reduce((s, [, u]) => s + (u as { events: number }).events, 0)
    expect(Number(chA.totals!.rows)).toBe(applied)
    expect(Number(chA.totals!.seqs)).toBe(applied)
    expect(Number(chA.totals!.xp)).toBe(totalXp)
    expect(chB.totals).toEqual(chA.totals)
    expect(chB.rejections).toEqual(chA.rejections)
    expect(Number(chA.rejections!.rows)).toBeGreaterThan(0)
    expect(chB.ledger).toEqual(chA.ledger)
  })
})

describe("replay across rules versions", () => {
  const EVENTS_V = Number(process.env.REPLAY_RULES_EVENTS ?? 8_000)
  const names: Names = freshNames("rpv")
  const arena = new ArenaProcess(names, { ARENA_SNAPSHOT_INTERVAL: "300ms" })
  const corrections = `${names.prefix}.corrections`
  // Each change twice, by hand: the rules document the service gets, the tables the oracle gets.
  const V2 = versionTwo("replay-v2"), V3 = versionThree("replay-v3")
  afterAll(async () => {
    await arena.kill()
    await cleanup(names)
  })

  it("kill -9 around an apply from head, corrections and a retroactive re-projection: equal to the oracle under the same versions", async () => {
    await arena.start() // provisions the stream and the database
    await arena.waitForSeq(0)
    const admin = await mintToken({ sub: "replay-admin", scope: "admin", ttlSeconds: 3_600 }, JWT_SECRET)
    const url = () => arena.baseUrl
    const pg = db(names)
    const rnd = seeded(4321)
    const kills: Array<string> = []
    const headNow = async () => (await nats.jsm.streams.info(names.stream)).state.last_seq
    const checkpoint = async (): Promise<number> => Number((await pg<{ seq: string }[]>`SELECT seq FROM arena_checkpoint`.catch(() => []))[0]?.seq ?? 0)
    /** A life killed once a snapshot of its own committed (if there is anything left to commit), a seeded 0–250 ms later. */
    const lifeAfterCommit = async (what: string) => {
      const before = await checkpoint()
      const head = await headNow()
      await arena.start()
      for (let i = 0; before < head && (await checkpoint()) <= before; i++) {
        if (i > 3000) throw new Error(`${what}: no snapshot past seq ${before} within 150 s:\n${arena.log.slice(-2000)}`)
        await sleep(50)
      }
      await sleep(Math.floor(rnd() * 250))
      await arena.kill()
      kills.push(`${what}: after a commit ${before}→${await checkpoint()}`)
    }
    /** kill -9 now, wherever the running service is (replaying, mid-snapshot, mid-build). */
    const killNow = async (what: string) => {
      await arena.kill()
      kills.push(`${what}: at ${await checkpoint()}`)
    }

    const items = makeWorkload({ events: EVENTS_V, users: Math.round(EVENTS_V / 60), seed: 777, runId: names.id, nowMs: Date.now() })
    const [a, b] = [Math.floor(items.length * 0.4), Math.floor(items.length * 0.7)]
    try {
      // Part 1 under the default rules, with a kill while it is applied and one after a commit.
      await publishItems(nats.js, names.subject, items.slice(0, a))
      await sleep(Math.floor(rnd() * 500))
      await killNow("part 1 running")
      await lifeAfterCommit("part 1")
      await arena.start()
      const head1 = await headNow()
      await arena.waitForSeq(head1)

      // v2 from head: nothing is published meanwhile, so the head it starts after is head1.
      const fromHead = await applyFromHead(url, admin, V2.document)
      expect(fromHead).toEqual({ effectiveFromSeq: head1 + 1, headSeq: head1 })
      const history: Array<{ fromSeq: number; rules: typeof V2.tables }> = [{ fromSeq: 1, rules: DEFAULT_TABLES }, { fromSeq: head1 + 1, rules: V2.tables }]

      // Part 2 under v2, corrections amid it (voids carry the award's facts as the oracle computes
      // them under the same history), kills while applied and after a commit.
      await publishItems(nats.js, names.subject, items.slice(a, b))
      const facts = new Oracle(corrections, { rules: history })
      for (const m of await readStream(nats.js, nats.jsm, names.stream)) facts.apply(m)
      const times = new Map<string, string>()
      for (const m of await readStream(nats.js, nats.jsm, names.stream)) {
        try { const e = JSON.parse(new TextDecoder().decode(m.data)) as { event_id?: string; timestamp?: string }; if (e.event_id !== undefined) times.set(e.event_id, String(e.timestamp)) } catch { /* a bad event */ }
      }
      const users = [...facts.users.keys()].sort()
      for (let i = 0; i < 24; i++) {
        const body = i % 2 === 0
          ? (() => {
            const e = facts.ledger[Math.floor(rnd() * facts.ledger.length)]!
            return { correction_id: `${names.id}-void-${i}`, kind: "void", event_id: e.event_id, reason: "replay", event: { seq: e.seq, user_id: e.user_id, agent_name: e.agent_name, xp: e.total_awarded, event_time: times.get(e.event_id)! } }
          })()
          : { correction_id: `${names.id}-adj-${i}`, kind: "adjust", user_id: users[Math.floor(rnd() * users.length)]!, xp: (rnd() < 0.5 ? -1 : 1) * (1 + Math.floor(rnd() * 300)), reason: "replay" }
        await nats.js.publish(corrections, JSON.stringify(body), { msgID: body.correction_id })
      }
      await sleep(Math.floor(rnd() * 500))
      await killNow("part 2 running")
      await lifeAfterCommit("part 2")
      await arena.start()
      const head2 = await headNow()
      await arena.waitForSeq(head2)
      // Before the re-projection: the service equals the oracle under [default, v2 from head1 + 1].
      const stored2 = await readStream(nats.js, nats.jsm, names.stream)
      const before = new Oracle(corrections, { rules: history })
      for (const m of stored2) before.apply(m)
      expect(new Set(before.ledger.map((e) => e.rules_version))).toEqual(new Set([DEFAULT_TABLES.version, V2.tables.version]))
      expect(before.corrections.length).toBeGreaterThan(15)
      const ips = new SourceIps(100)
      expect((await checkRest(arena.baseUrl, before, ips)).problems).toEqual([])

      // v3, retroactive: killed while its build is pending, then it resumes and switches.
      const projection = await startRetroactive(url, admin, V3.document)
      await sleep(Math.floor(rnd() * 300))
      await killNow("re-projection open")
      const [open] = await pg<{ state: string }[]>`SELECT state FROM arena_reprojection WHERE projection = ${projection}`
      expect(["pending", "built"]).toContain(open!.state) // the kill came before the switch
      await arena.start()
      await switched(url, admin, projection)

      // Part 3 after the switch (v3 scores it), killed while applied, then a last life to the head.
      await publishItems(nats.js, names.subject, items.slice(b))
      await sleep(Math.floor(rnd() * 500))
      await killNow("part 3 running")
      await lifeAfterCommit("part 3")
      await arena.start()
      const head = await headNow()
      await arena.waitForSeq(head)

      // The oracle: the stream as stored, under [default, v2] up to the re-projection, then v3 from seq 1.
      const stored = await readStream(nats.js, nats.jsm, names.stream)
      const oracle = new Oracle(corrections, { rules: history })
      const apply = (ms: ReadonlyArray<StoredMessage>) => { for (const m of ms) oracle.apply(m) }
      apply(stored.filter((m) => m.seq <= head2))
      oracle.reproject(V3.tables)
      apply(stored.filter((m) => m.seq > head2))
      expect(oracle.lastSeq).toBe(head)
      expect(oracle.rulesHistory).toEqual([[V3.tables.version, 1]])
      expect(oracle.ledger.every((e) => e.rules_version === V3.tables.version)).toBe(true)
      expect(oracle.ledger.some((e) => e.bonuses.some((x) => x.achievement === "kilo_xp"))).toBe(true)
      const was = new Map(before.ledger.map((e) => [e.seq, e.total_awarded]))
      expect(oracle.ledger.filter((e) => e.seq <= head2 && was.get(e.seq) !== e.total_awarded).length).toBeGreaterThan(0) // history re-scored
      const rules = await request<{ version: string; effective_from_seq: number; history: Array<{ version: string; effective_from_seq: number }> }>(arena.baseUrl, "GET", "/v1/rules", { from: ips.next() })
      expect([rules.json.version, rules.json.history.map((h) => [h.version, h.effective_from_seq])]).toEqual([V3.tables.version, oracle.rulesHistory])
      const rest = await checkRest(arena.baseUrl, oracle, ips)
      expect(rest.problems).toEqual([])
      expect(await arena.stop()).toBe(0)
      expect(await checkpoint()).toBe(head)
      const [cur] = await pg<{ current: number }[]>`SELECT current FROM arena_projection`
      expect(cur!.current).toBe(projection)
      const ch = await checkClickHouse(names.dataDir, oracle, projection)
      expect(ch.problems).toEqual([])
      expect(await checkDlq(nats.js, nats.jsm, names.dlqStream, oracle)).toEqual([])
      expect(kills.length).toBe(7)
      console.log(`replay across rules versions: head ${head}; v2 from ${head1 + 1}; re-projection ${projection} at head ${head2}; ${oracle.ledger.length} awards, ` +
        `${oracle.corrections.length} corrections, ${oracle.rejections.size} rejections; ${rest.profiles} profiles and ${rest.boardEntries} board rows compared; ` +
        `${ch.awards} ClickHouse awards; kills: ${kills.join(", ")}`)
    } finally {
      await pg.end()
    }
  }, 900_000)
})
