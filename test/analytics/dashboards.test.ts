// Every dashboard query, run by AnalyticsQueries against the real embedded engine, returns what
// this file computes independently from the generated records; and ad-hoc SQL is read-only.
// Corrections (records written after the generated stream, some in the range and one before it)
// lower the XP the XP dashboards show.
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { AnalyticsQueries } from "../../src/adapters/clickhouse/AnalyticsQueries.js"
import type { QueryResult } from "../../src/adapters/clickhouse/AnalyticsQueries.js"
import type { AnalyticsRecord } from "../../src/ports/Analytics.js"
import type { CorrectionEntry, LedgerEntry } from "../../src/domain/Model.js"
import { DAY_MS, freshDir, generate, startSink, submitRange } from "./records.js"
import type { SinkEnv } from "./records.js"

const g = generate(20_000)
const FROM = Date.UTC(2026, 0, 20)
const TO = Date.UTC(2026, 1, 5) // exclusive: days 2026-01-20 … 2026-02-04
let env: SinkEnv
let q: AnalyticsQueries

/** Corrections after the stream: a void of each of three in-range awards, an adjust with and without an agent, one outside the range. */
const correctionsOf = (all: ReadonlyArray<AnalyticsRecord>, lastSeq: number): CorrectionEntry[] => {
  const es = all.flatMap((r) => (r.kind === "award" ? [r.entry] : [])).filter((e) => e.stream_time >= "2026-01-22" && e.stream_time < "2026-02-01")
  const at = (day: string) => `${day}T12:00:00.000Z`
  const c = (i: number, user: string, agent: string | null, xp: number, day: string): CorrectionEntry => ({
    kind: "correction", correction_id: `c${i}`, correction: agent !== null && i < 3 ? "void" : "adjust", seq: lastSeq + 1 + i, user_id: user, agent_name: agent,
    event_id: null, event_seq: null, reason: "test", by: "admin", requested_xp: xp, xp, boards: [], total_xp_after: 0, level_before: 1, level_after: 1,
    rules_version: "test", stream_time: at(day)
  })
  return [
    ...[es[0]!, es[50]!, es[100]!].map((e, i) => c(i, e.user_id, e.agent_name, -e.total_awarded, "2026-02-02")),
    c(3, es[7]!.user_id, null, 600, "2026-01-25"),
    c(4, es[9]!.user_id, es[9]!.agent_name, -5, "2026-01-26"),
    c(5, es[11]!.user_id, es[11]!.agent_name, -1000, "2026-01-05") // before the range: no effect
  ]
}
const corrections = correctionsOf(g.all, g.lastSeq)
const inCorrections = corrections.filter((c) => c.stream_time >= "2026-01-20" && c.stream_time < "2026-02-05")

beforeAll(async () => {
  env = await startSink(freshDir("dash"))
  await submitRange(env, g, 1, g.lastSeq, 1000)
  await env.run(env.sink.submit(corrections.map((entry) => ({ kind: "correction", entry })), g.lastSeq + corrections.length))
  await env.run(env.sink.awaitDurable(g.lastSeq + corrections.length))
  q = new AnalyticsQueries(env.handle.client)
})
afterAll(async () => { await env.close() })

// ---- independent computations over the generated records ----
const dayOf = (iso: string) => iso.slice(0, 10)
const addDays = (day: string, n: number) => new Date(Date.parse(day + "T00:00:00Z") + n * DAY_MS).toISOString().slice(0, 10)
const daysOf = (fromMs: number, toMs: number) => {
  const out: string[] = []
  for (let t = fromMs; t < toMs; t += DAY_MS) out.push(new Date(t).toISOString().slice(0, 10))
  return out
}
const DAYS = daysOf(FROM, TO)
const inRange = (iso: string) => dayOf(iso) >= DAYS[0]! && dayOf(iso) <= DAYS[DAYS.length - 1]!
const awards: LedgerEntry[] = g.all.flatMap((r) => (r.kind === "award" ? [r.entry] : []))
const ofKind = <K extends AnalyticsRecord["kind"]>(k: K) => g.all.filter((r): r is Extract<AnalyticsRecord, { kind: K }> => r.kind === k)
const inAwards = awards.filter((e) => inRange(e.stream_time))
const activeOn = new Map<string, Set<string>>()
for (const e of awards) {
  const d = dayOf(e.stream_time)
  if (!activeOn.has(d)) activeOn.set(d, new Set())
  activeOn.get(d)!.add(e.user_id)
}
const groupBy = <T>(xs: ReadonlyArray<T>, key: (x: T) => string) => {
  const m = new Map<string, T[]>()
  for (const x of xs) {
    const k = key(x)
    if (!m.has(k)) m.set(k, [])
    m.get(k)!.push(x)
  }
  return m
}
const sum = <T>(xs: ReadonlyArray<T>, f: (x: T) => number) => xs.reduce((a, x) => a + f(x), 0)
const activeUsersInRange = new Set(inAwards.map((e) => e.user_id)).size

const run = async (name: string, from = FROM, to = TO): Promise<QueryResult> => {
  const r = await q.dashboard(name, { fromMs: from, toMs: to })
  if (r === null) throw new Error(`no dashboard ${name}`)
  return r
}
/** Rows as objects keyed by column, for readable comparisons. */
const objects = (r: QueryResult) => r.rows.map((row) => Object.fromEntries(r.columns.map((c, i) => [c, row[i]])))

describe("dashboards (embedded ClickHouse, independent expectations)", () => {
  it("lists every dashboard file with its title and chart kind", async () => {
    const list = await q.listDashboards()
    expect(list.map((d) => d.name)).toEqual(["achievement_unlocks", "action_mix", "active_users", "agent_by_metadata", "agent_popularity", "level_distribution", "level_progression", "pipeline_health", "rejection_reasons", "retention", "streak_health", "xp_distribution"])
    for (const d of list) expect(d.title.length * d.description.length).toBeGreaterThan(0)
    expect(await q.dashboard("no_such", { fromMs: FROM, toMs: TO })).toBeNull()
  })

  it("agent_popularity: events, XP (net of corrections) and distinct users per agent", async () => {
    const want = [...groupBy(inAwards, (e) => e.agent_name)].map(([agent, es]) => ({
      agent_name: agent, events: es.length, users: new Set(es.map((e) => e.user_id)).size,
      xp_awarded: sum(es, (e) => e.total_awarded) + sum(inCorrections.filter((c) => c.agent_name === agent), (c) => c.xp)
    })).sort((a, b) => b.events - a.events || a.agent_name.localeCompare(b.agent_name))
    expect(inCorrections.filter((c) => c.agent_name !== null).length).toBe(4)
    expect(objects(await run("agent_popularity"))).toEqual(want)
  })

  it("agent_by_metadata: events, XP, XP per event and users per agent and metadata.model", async () => {
    const modelOf = new Map<number, string>()
    for (const r of g.all) if (r.kind === "award") modelOf.set(r.entry.seq, r.metadata === undefined ? "(none)" : String((JSON.parse(r.metadata) as { model: string }).model))
    const want = [...groupBy(inAwards, (e) => `${e.agent_name}\u0000${modelOf.get(e.seq)}`)].map(([k, es]) => {
      const [agent, model] = k.split("\u0000") as [string, string]
      const xp = sum(es, (e) => e.total_awarded)
      return { agent_name: agent, model, events: es.length, xp_awarded: xp, xp_per_event: Math.round((xp / es.length) * 100) / 100, users: new Set(es.map((e) => e.user_id)).size }
    }).sort((a, b) => a.agent_name.localeCompare(b.agent_name) || b.events - a.events || a.model.localeCompare(b.model))
    expect(new Set(want.map((w) => w.model))).toEqual(new Set(["opus", "haiku", "(none)"]))
    expect(objects(await run("agent_by_metadata"))).toEqual(want)
  })

  it("active_users: DAU and 7-day WAU for every day of the range, also across days without activity", async () => {
    const expected = (days: string[]) => days.map((d) => {
      const week = new Set<string>()
      for (let k = 0; k < 7; k++) for (const u of activeOn.get(addDays(d, -k)) ?? []) week.add(u)
      return { day: d, dau: activeOn.get(d)?.size ?? 0, wau: week.size }
    })
    expect(objects(await run("active_users"))).toEqual(expected(DAYS))
    // The stream ends on 2026-02-19: afterwards DAU is 0 while WAU still counts the last week.
    const [from, to] = [Date.UTC(2026, 1, 14), Date.UTC(2026, 1, 28)]
    const tail = expected(daysOf(from, to))
    expect(tail.some((r) => r.dau === 0 && r.wau > 0)).toBe(true)
    expect(objects(await run("active_users", from, to))).toEqual(tail)
  })

  it("retention: first-day cohorts and their day-1 / day-7 returns", async () => {
    const firstDay = new Map<string, string>()
    for (const e of awards) if (e.total_xp_after === e.total_awarded) firstDay.set(e.user_id, dayOf(e.stream_time))
    const cohorts = groupBy([...firstDay].filter(([, d]) => DAYS.includes(d)), ([, d]) => d)
    const want = [...cohorts].sort(([a], [b]) => a.localeCompare(b)).map(([d, us]) => {
      const day1 = us.filter(([u]) => activeOn.get(addDays(d, 1))?.has(u)).length
      const day7 = us.filter(([u]) => activeOn.get(addDays(d, 7))?.has(u)).length
      return { cohort: d, users: us.length, day1, day7 }
    })
    const got = objects(await run("retention"))
    expect(got.map(({ cohort, users, day1, day7 }) => ({ cohort, users, day1, day7 }))).toEqual(want)
    for (const r of got) {
      expect(r["day1_rate"]).toBeCloseTo(Number(r["day1"]) / Number(r["users"]), 3)
      expect(r["day7_rate"]).toBeCloseTo(Number(r["day7"]) / Number(r["users"]), 3)
    }
    expect(want.some((w) => w.day1 > 0 && w.day7 > 0 && w.day7 < w.users)).toBe(true)
  })

  it("xp_distribution: users per XP bucket", async () => {
    const bounds = [0, 10, 50, 100, 250, 500, 1000, 2500, 5000, 10000]
    const perUser = [...groupBy(inAwards, (e) => e.user_id)].map(([u, es]) =>
      Math.max(0, sum(es, (e) => e.total_awarded) + sum(inCorrections.filter((c) => c.user_id === u), (c) => c.xp)))
    const want = bounds.map((b, i) => ({ xp_from: b, users: perUser.filter((x) => x >= b && (i === bounds.length - 1 || x < bounds[i + 1]!)).length }))
    expect(objects(await run("xp_distribution"))).toEqual(want)
  })

  it("level_distribution and level_progression: current levels and levels reached", async () => {
    const last = DAYS[DAYS.length - 1]!
    const level = new Map<string, number>()
    for (const e of awards) if (dayOf(e.stream_time) <= last) level.set(e.user_id, Math.max(level.get(e.user_id) ?? 0, e.level_after))
    const crossings = ofKind("level_up").filter((u) => inRange(u.stream_time)).flatMap((u) => Array.from({ length: u.to - u.from }, (_, i) => ({ day: dayOf(u.stream_time), level: u.from + 1 + i })))
    const levels = [...new Set([...level.values(), ...crossings.map((c) => c.level)])].sort((a, b) => a - b)
    const want = levels.map((l) => ({ level: l, users: [...level.values()].filter((x) => x === l).length, reached_in_range: crossings.filter((c) => c.level === l).length }))
    expect(objects(await run("level_distribution"))).toEqual(want)
    const prog = DAYS.map((d) => Object.fromEntries([["day", d], ...[2, 3, 4, 5, 6, 7, 8].map((l) => [`level_${l}`, crossings.filter((c) => c.day === d && c.level === l).length])]))
    expect(objects(await run("level_progression"))).toEqual(prog)
  })

  it("achievement_unlocks: unlocks, bonus XP and unlocks per active user", async () => {
    const want = [...groupBy(ofKind("achievement").filter((a) => inRange(a.stream_time)), (a) => a.achievement)].map(([a, xs]) => ({
      achievement: a, unlocks: xs.length, bonus_xp: sum(xs, (x) => x.bonus)
    })).sort((a, b) => b.unlocks - a.unlocks || a.achievement.localeCompare(b.achievement))
    const got = objects(await run("achievement_unlocks"))
    expect(got.map(({ achievement, unlocks, bonus_xp }) => ({ achievement, unlocks, bonus_xp }))).toEqual(want)
    for (const r of got) expect(r["per_active_user"]).toBeCloseTo(Number(r["unlocks"]) / activeUsersInRange, 3)
  })

  it("streak_health: active users per day by streak tier", async () => {
    const want = DAYS.map((d) => {
      const best = new Map<string, number>()
      for (const e of awards) if (dayOf(e.stream_time) === d) best.set(e.user_id, Math.max(best.get(e.user_id) ?? 0, e.streak_days))
      const s = [...best.values()]
      return { day: d, active: s.length, streak_3: s.filter((x) => x >= 3).length, streak_7: s.filter((x) => x >= 7).length, streak_30: s.filter((x) => x >= 30).length }
    })
    expect(objects(await run("streak_health"))).toEqual(want)
    expect(want.some((w) => w.streak_7 > 0)).toBe(true)
  })

  it("rejection_reasons: rejected events per reason and their share", async () => {
    const rej = ofKind("rejection").filter((r) => inRange(r.stream_time))
    const want = [...groupBy(rej, (r) => r.reason)].map(([reason, xs]) => ({ reason, rejected: xs.length }))
      .sort((a, b) => b.rejected - a.rejected || a.reason.localeCompare(b.reason))
    const got = objects(await run("rejection_reasons"))
    expect(got.map(({ reason, rejected }) => ({ reason, rejected }))).toEqual(want)
    for (const r of got) expect(r["share"]).toBeCloseTo(Number(r["rejected"]) / rej.length, 3)
  })

  it("pipeline_health: applied and rejected per minute, bucketed by the range's length", async () => {
    const perBucket = (from: number, to: number, bucketS: number) => {
      const m = new Map<number, { applied: number; rejected: number }>()
      for (const r of g.all) {
        if (r.kind !== "award" && r.kind !== "rejection") continue
        const t = Date.parse(r.kind === "award" ? r.entry.stream_time : r.stream_time)
        const minute = Math.floor(t / 60_000) * 60
        if (minute * 1000 < Math.floor(from / 60_000) * 60_000 || minute * 1000 >= to) continue
        const b = Math.floor(minute / bucketS) * bucketS
        const c = m.get(b) ?? { applied: 0, rejected: 0 }
        if (r.kind === "award") c.applied++
        else c.rejected++
        m.set(b, c)
      }
      return [...m].sort(([a], [b]) => a - b).map(([b, c]) => ({
        time: new Date(b * 1000).toISOString().slice(0, 19).replace("T", " "), applied_per_min: c.applied / (bucketS / 60), rejected_per_min: c.rejected / (bucketS / 60)
      }))
    }
    const h5 = FROM + 5 * 3_600_000
    expect(objects(await run("pipeline_health", FROM, h5))).toEqual(perBucket(FROM, h5, 60))
    const d2 = FROM + 2 * DAY_MS
    expect(objects(await run("pipeline_health", FROM, d2))).toEqual(perBucket(FROM, d2, 600))
    expect(objects(await run("pipeline_health", FROM, TO))).toEqual(perBucket(FROM, TO, 3600))
  })

  it("action_mix: events, base points, XP before and after bonuses per action type", async () => {
    const want = [...groupBy(inAwards, (e) => e.action_type)].map(([a, es]) => ({
      action_type: a, events: es.length, base_points: sum(es, (e) => e.base_points), xp: sum(es, (e) => e.xp), xp_awarded: sum(es, (e) => e.total_awarded)
    })).sort((a, b) => b.events - a.events || a.action_type.localeCompare(b.action_type))
    const got = objects(await run("action_mix"))
    expect(got.map(({ action_type, events, base_points, xp, xp_awarded }) => ({ action_type, events, base_points, xp, xp_awarded }))).toEqual(want)
    for (const r of got) expect(r["avg_multiplier"]).toBeCloseTo(Number(r["xp"]) / Number(r["base_points"]), 3)
  })
})

describe("ad-hoc SQL (admin, read-only)", () => {
  it("answers one SELECT with columns, types and rows", async () => {
    const r = await q.sql("SELECT agent_name, count() AS n FROM awards GROUP BY agent_name ORDER BY agent_name;")
    expect(r.columns).toEqual(["agent_name", "n"])
    expect(r.types[1]).toBe("UInt64")
    expect(r.rows.map((x) => x[0])).toEqual(["aider", "claude", "copilot", "cursor", "devin"])
    expect(r.rows.reduce((a, x) => a + Number(x[1]), 0)).toBe(awards.length)
    expect((await q.sql("SHOW TABLES")).rows.flat()).toContain("awards")
    expect((await q.sql("DESCRIBE TABLE rejections")).rows.map((x) => x[0])).toEqual(["seq", "reason", "message", "event_id", "stream_time", "projection", "stream_partition"])
    expect((await q.sql("WITH 2 AS x SELECT x * 21 AS y")).rows).toEqual([[42]])
  })

  it.each([
    ["INSERT INTO awards (seq) VALUES (1)", /only SELECT/],
    ["ALTER TABLE awards DELETE WHERE 1", /only SELECT/],
    ["DROP TABLE awards", /only SELECT/],
    ["SELECT 1; DROP TABLE awards", /one statement/],
    ["SELECT 1 INTO OUTFILE '/tmp/x.csv'", /OUTFILE/],
    ["SELECT 1 FORMAT CSV", /FORMAT/],
    ["", /empty/],
    ["-- just a comment", /empty/]
  ])("rejects %j before it reaches ClickHouse", async (sql, message) => {
    await expect(q.sql(sql)).rejects.toMatchObject({ _tag: "ClickHouseError", reason: "readonly", message: expect.stringMatching(message) })
  })

  it("leaves enforcement to ClickHouse's readonly=1 for what passes the text check, and the data untouched", async () => {
    // A SELECT that would change settings, read a file, or write through a table function.
    await expect(q.sql("SELECT * FROM file('/etc/hostname', 'LineAsString')")).rejects.toMatchObject({ reason: "readonly" })
    await expect(q.sql("SELECT 1 SETTINGS readonly = 0")).rejects.toMatchObject({ reason: "readonly" })
    const n = await q.sql("SELECT count() FROM awards")
    expect(n.rows).toEqual([[awards.length]])
    // readonly did not leak into the sink's connection: it still writes.
    // (seqs past the corrections written after the generated stream)
    const more = generate(20_100).bySeq.slice(20_091).flat()
    await env.run(env.sink.submit(more, 20_100))
    await env.run(env.sink.awaitDurable(20_100))
    expect((await q.sql("SELECT count() FROM awards")).rows).toEqual([[awards.length + more.filter((r) => r.kind === "award").length]])
  })
})
