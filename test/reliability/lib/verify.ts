// Compares a running (or stopped) Arena with the oracle through its public faces: REST profiles
// and full leaderboards, ClickHouse rows (ledger, corrections, unlocks, level-ups, rejections) and the DLQ.
// Each check returns human-readable mismatches (empty = equal), capped so a failure stays legible.
import { DeliverPolicy } from "@nats-io/jetstream"
import type { JetStreamClient, JetStreamManager } from "@nats-io/jetstream"
import { openClickHouse } from "../../../src/adapters/clickhouse/ClickHouseClient.js"
import { parseClickHouseTarget } from "../../../src/adapters/clickhouse/ClickHouseTarget.js"
import type { ExpectedProfile, Oracle, RankedRow } from "../../oracle/Oracle.js"
import type { Frac } from "../../oracle/rules.js"
import { request } from "./http.js"
import type { Reply, SourceIps } from "./http.js"

const CAP = 25

class Problems {
  readonly list: Array<string> = []
  checked = 0
  add(p: string): void {
    if (this.list.length < CAP) this.list.push(p)
    else if (this.list.length === CAP) this.list.push("… more")
  }
  eq(what: string, actual: unknown, expected: unknown): void {
    this.checked++
    const a = JSON.stringify(actual), e = JSON.stringify(expected)
    if (a !== e) this.add(`${what}: got ${a.slice(0, 400)} expected ${e.slice(0, 400)}`)
  }
}

export interface BoardRef { readonly board: string; readonly window: string; readonly period: string }

/** Every board the oracle holds (all-time, and each period that got scores while open). */
export const oracleBoards = (o: Oracle): Array<BoardRef> =>
  [...o.boards.keys()].map((k) => {
    const [board, window, period] = k.split("|") as [string, string, string]
    return { board, window, period }
  })

const normalizeProfile = (p: ExpectedProfile): ExpectedProfile => ({
  user_id: p.user_id, username: p.username, total_xp: p.total_xp, level: p.level, streak: p.streak, time_zone: p.time_zone, visibility: p.visibility,
  achievements: p.achievements.map((a) => ({ id: a.id, bonus: a.bonus, target: a.target, progress: a.progress, unlocked: a.unlocked, unlocked_seq: a.unlocked_seq })),
  agent_stats: p.agent_stats,
  ranks: [...p.ranks].map((r) => ({ board: r.board, window: r.window, period: r.period, rank: r.rank, xp: r.xp }))
    .sort((a, b) => (a.board + a.window < b.board + b.window ? -1 : 1))
})

/** GET every oracle user's profile and every oracle board (paged at 1000) and compare. */
export const checkRest = async (baseUrl: string, o: Oracle, ips: SourceIps, concurrency = 8): Promise<{ problems: Array<string>; profiles: number; boardEntries: number }> => {
  const pr = new Problems()
  const ids = [...o.users.keys()]
  let next = 0
  const worker = async () => {
    while (next < ids.length) {
      const id = ids[next++]!
      const r = await request<ExpectedProfile>(baseUrl, "GET", `/v1/users/${encodeURIComponent(id)}`, { from: ips.next() })
      if (r.status !== 200) { pr.add(`GET /v1/users/${id}: ${r.status} ${r.text.slice(0, 200)}`); continue }
      pr.eq(`profile ${id}`, normalizeProfile(r.json), normalizeProfile(o.profile(id)!))
    }
  }
  await Promise.all(Array.from({ length: concurrency }, worker))
  let boardEntries = 0
  for (const b of oracleBoards(o)) {
    const expected = o.ranked(b.board, b.window, b.period)
    const got: Array<RankedRow> = []
    let cursor: string | null = null
    for (let page = 0; page < 10_000; page++) {
      const q: string = `window=${b.window}&period=${b.period}&limit=1000${cursor === null ? "" : `&cursor=${cursor}`}`
      const r: Reply<{ total: number; entries: Array<RankedRow>; next_cursor: string | null }> = await request<{ total: number; entries: Array<RankedRow>; next_cursor: string | null }>(baseUrl, "GET", `/v1/leaderboards/${encodeURIComponent(b.board)}?${q}`, { from: ips.next() })
      if (r.status !== 200) { pr.add(`board ${JSON.stringify(b)}: ${r.status} ${r.text.slice(0, 200)}`); break }
      if (page === 0) pr.eq(`board ${b.board}/${b.window}/${b.period} total`, r.json.total, expected.length)
      got.push(...r.json.entries)
      cursor = r.json.next_cursor
      if (cursor === null) break
    }
    boardEntries += got.length
    pr.eq(`board ${b.board}/${b.window}/${b.period} entries`, got, expected)
  }
  return { problems: pr.list, profiles: ids.length, boardEntries }
}

const fracOf = (text: string): Frac => {
  const [i, f = ""] = text.split(".")
  return { num: BigInt(i! + f), den: 10n ** BigInt(f.length) }
}
const fracEq = (a: Frac, b: Frac): boolean => a.num * b.den === b.num * a.den

type Row = Record<string, string | number | Array<string | number>>

/**
 * ClickHouse after the service stopped (the embedded engine is then free to open). `projection`
 * (ARCHITECTURE §10): the current projection (Postgres arena_projection.current), whose rows are
 * what the ledger and dashboards read; without it every row counts (a database never re-projected).
 */
export const checkClickHouse = async (dataDir: string, o: Oracle, projection?: number): Promise<{ problems: Array<string>; awards: number }> => {
  const pr = new Problems()
  const h = openClickHouse(parseClickHouseTarget({ dataDir }))
  try {
    const q = async (query: string) => await (await h.client.query({ query, format: "JSONEachRow" })).json<Row>()
    const where = projection === undefined ? "" : `WHERE projection = ${projection}`
    const awards = await q(`SELECT seq, event_id, user_id, agent_name, action_type, base_points, multiplier_names, streak_days, total_multiplier,
      applied_multiplier, xp, bonus_achievements, bonus_xp, total_awarded, total_xp_after, level_before, level_after, rules_version FROM awards ${where} ORDER BY seq`)
    pr.eq("awards rows", awards.length, o.ledger.length)
    const n = Math.min(awards.length, o.ledger.length)
    for (let i = 0; i < n; i++) {
      const a = awards[i]!, e = o.ledger[i]!
      pr.eq(`award #${i}`, [Number(a["seq"]), a["event_id"], a["user_id"], a["agent_name"], a["action_type"], Number(a["base_points"]), a["multiplier_names"],
        Number(a["streak_days"]), Number(a["xp"]), a["bonus_achievements"], (a["bonus_xp"] as Array<number>).map(Number), Number(a["total_awarded"]),
        Number(a["total_xp_after"]), Number(a["level_before"]), Number(a["level_after"]), a["rules_version"]],
      [e.seq, e.event_id, e.user_id, e.agent_name, e.action_type, e.base_points, e.multipliers, e.streak_days, e.xp,
        e.bonuses.map((b) => b.achievement), e.bonuses.map((b) => b.xp), e.total_awarded, e.total_xp_after, e.level_before, e.level_after, e.rules_version])
      if (!fracEq(fracOf(String(a["total_multiplier"])), e.total_multiplier) || !fracEq(fracOf(String(a["applied_multiplier"])), e.applied_multiplier)) {
        pr.add(`award seq ${e.seq}: multipliers ${String(a["total_multiplier"])}/${String(a["applied_multiplier"])}`)
      }
    }
    const unlocks = await q(`SELECT seq, user_id, achievement, bonus FROM achievements ${where} ORDER BY seq, achievement`)
    const expUnlocks = o.ledger.flatMap((e) => e.bonuses.map((b) => [e.seq, e.user_id, b.achievement, b.xp] as const))
      .sort((x, y) => x[0] - y[0] || (x[2] < y[2] ? -1 : 1))
    pr.eq("achievements", unlocks.map((r) => [Number(r["seq"]), r["user_id"], r["achievement"], Number(r["bonus"])]), expUnlocks)
    const levelUps = await q(`SELECT seq, user_id, from_level, to_level FROM level_ups ${where} ORDER BY seq`)
    pr.eq("level_ups", levelUps.map((r) => [Number(r["seq"]), r["user_id"], Number(r["from_level"]), Number(r["to_level"])]),
      [...o.ledger, ...o.corrections].filter((e) => e.level_after > e.level_before).map((e) => [e.seq, e.user_id, e.level_before, e.level_after] as const)
        .sort((x, y) => x[0] - y[0]))
    const corrections = await q(`SELECT seq, correction_id, correction, user_id, requested_xp, xp, total_xp_after, level_before, level_after FROM corrections ${where} ORDER BY seq`)
    pr.eq("corrections", corrections.map((r) => [Number(r["seq"]), r["correction_id"], r["correction"], r["user_id"], Number(r["requested_xp"]), Number(r["xp"]),
      Number(r["total_xp_after"]), Number(r["level_before"]), Number(r["level_after"])]),
    o.corrections.map((c) => [c.seq, c.correction_id, c.correction, c.user_id, c.requested_xp, c.xp, c.total_xp_after, c.level_before, c.level_after]))
    const rejections = await q(`SELECT seq, reason FROM rejections ${where} ORDER BY seq`)
    pr.eq("rejections", rejections.map((r) => [Number(r["seq"]), r["reason"]]), [...o.rejections.entries()].sort((a, b) => a[0] - b[0]))
    return { problems: pr.list, awards: awards.length }
  } finally {
    await h.close()
  }
}

/** Each rejected seq dead-lettered exactly once, with the oracle's reason. */
export const checkDlq = async (js: JetStreamClient, jsm: JetStreamManager, dlqStream: string, o: Oracle): Promise<Array<string>> => {
  const pr = new Problems()
  const expected = o.rejections.size
  const stored = (await jsm.streams.info(dlqStream)).state.messages
  pr.eq("DLQ messages", stored, expected)
  const seen = new Map<number, string>()
  if (stored > 0) {
    const c = await js.consumers.get(dlqStream, { deliver_policy: DeliverPolicy.All })
    const it = await c.consume({ max_messages: 4096 })
    let n = 0
    for await (const m of it) {
      const seq = Number(m.headers?.get("Arena-Seq"))
      if (seen.has(seq)) pr.add(`DLQ: seq ${seq} again at DLQ seq ${m.seq} (Nats-Msg-Id ${m.headers?.get("Nats-Msg-Id")}, ${m.headers?.get("Arena-Reason")}, ${new Date(Math.floor(m.info.timestampNanos / 1e6)).toISOString()})`)
      seen.set(seq, m.headers?.get("Arena-Reason") ?? "")
      if (++n >= stored) break
    }
    await it.close()
  }
  pr.eq("DLQ reasons", [...seen.entries()].sort((a, b) => a[0] - b[0]), [...o.rejections.entries()].sort((a, b) => a[0] - b[0]))
  return pr.list
}
