// The crash oracle: an independent, deliberately plain reference of ARCHITECTURE §3/§4 that folds
// the stored stream (payload, seq, JetStream time, Nats-Msg-Id) into the XP, levels, streaks,
// achievements, ledger and boards a correct Arena must show. Exact rationals via BigInt; no
// imports from src/domain. Clarity over speed: streaks are a Set of days of the user's zone.
// Corrections (§10): messages on the corrections subject (given to the constructor) void an award
// or adjust a user; see correct().
// §11: settings messages (subject `<prefix>.settings`) set a user's zone from their seq on and
// their visibility; a forward gap of missed days is bridged when the freezes left in the event
// day's month cover all of it (bridged days join the Set as if active).
// §11 erasures (subject `<prefix>.erasures`): the user leaves the model as if none of their
// earlier messages had been stored — see erase().
// §10 rules versions: the oracle's own tables per version (rules.ts), each in force from a seq;
// every message is judged and scored by the version in force at its seq; a retroactive
// re-projection (reproject()) makes one version score the whole stream from seq 1 — see there.
// A level is part of that scoring: a user's level is the one their last scored message (award or
// correction) gave them under its version (UserModel.level), in the ledger, the rows and the profile.
// A void takes back what its event is worth in the projection that folds it: a re-projection's own
// award for every void up to the seq it was built through (an event it did not apply: 0); after
// that, what the void carries — refused (`projection_changed`) when it names another projection.
import { dayOf, monthOfDay, periodsOf, zoneDayOf } from "./calendar.js"
import { judgeCorrection } from "./corrections.js"
import type { OracleCorrection } from "./corrections.js"
import { judgeErasure, namedUser } from "./erasure.js"
import { DEFAULT_TABLES, LEVELS, targetOf } from "./rules.js"
import type { Frac, OracleCondition, OracleRules, OracleVersion } from "./rules.js"
import { judge } from "./validate.js"

export interface StoredMessage {
  readonly seq: number
  /** JetStream timestamp, ms (floor of the nanoseconds). */
  readonly streamMs: number
  readonly msgId: string | undefined
  readonly data: Uint8Array
  /** The subject it was published to (corrections and settings changes have their own). */
  readonly subject?: string | undefined
}

/** A correction as the oracle expects its ledger entry to read. */
export interface CorrectionRow {
  readonly seq: number
  readonly correction_id: string
  readonly correction: "void" | "adjust"
  readonly user_id: string
  readonly requested_xp: number
  readonly xp: number
  readonly total_xp_after: number
  readonly level_before: number
  readonly level_after: number
}

/** An applied erasure and the stream messages it must have taken out. */
export interface ErasureRow {
  readonly seq: number
  readonly erasure_id: string
  readonly user_id: string
  /** Whether the model held the user (a profile, a settings change) when it came. */
  readonly held: boolean
  /** Seqs of every stored message before it that named the user (not erased before), and its own seq. */
  readonly seqs: ReadonlyArray<number>
}

export interface LedgerRow {
  readonly seq: number
  readonly event_id: string
  readonly user_id: string
  readonly agent_name: string
  readonly action_type: string
  readonly base_points: number
  readonly multipliers: ReadonlyArray<string>
  readonly streak_days: number
  readonly total_multiplier: Frac
  readonly applied_multiplier: Frac
  readonly xp: number
  readonly bonuses: ReadonlyArray<{ readonly achievement: string; readonly xp: number }>
  readonly total_awarded: number
  readonly total_xp_after: number
  readonly level_before: number
  readonly level_after: number
  /** §10: the version that scored it. */
  readonly rules_version: string
}

export interface UserModel {
  readonly userId: string
  username: string
  totalXp: number
  /** Seq of the event that last raised totalXp: the global all-time tie-break. */
  totalSeq: number
  events: number
  readonly days: Set<number>
  /** The highest streak an event of this user has counted (what on_fire/unstoppable need). */
  streakReached: number
  readonly counts: Map<string, number>
  readonly unlocked: Map<string, number>
  readonly agents: Map<string, { xp: number; events: number }>
  zone: string
  private: boolean
  /** Freezes used per month ("YYYY-MM"). */
  readonly freezes: Map<string, number>
  /** Set by a settings message only (no event yet): not a profile until an event. */
  settingsOnly?: boolean
  /**
   * §10: the level is part of the scoring — the one the user's last scored message (award or
   * correction, at `scoredSeq`) gave them under the version in force there; a rules change from
   * head shows at the next one, a re-projection re-derives it.
   */
  level: number
  scoredSeq: number
}

/** A board's scores: user → (xp, seq of the event that set it). */
export type BoardScores = Map<string, { xp: number; seq: number }>

const mul = (a: Frac, b: Frac): Frac => ({ num: a.num * b.num, den: a.den * b.den })
const less = (a: Frac, b: Frac): boolean => a.num * b.den < b.num * a.den
export const levelOf = (xp: number, levels: OracleRules["levels"] = LEVELS): number => levels.filter((l) => l.xp <= xp).length

export class Oracle {
  readonly users = new Map<string, UserModel>()
  readonly boards = new Map<string, BoardScores>()
  readonly ledger: Array<LedgerRow> = []
  readonly corrections: Array<CorrectionRow> = []
  /** user → seqs of its voided awards. */
  private readonly voided = new Map<string, Set<number>>()
  /** seq → DLQ reason. */
  readonly rejections = new Map<number, string>()
  /** §11: the erasures applied, in seq order. */
  readonly erasures: Array<ErasureRow> = []
  /** Every seq an applied erasure took out of the stream: a replay never reads these. */
  readonly erasedSeqs = new Set<number>()
  /** user → seqs of the stored messages that name them (namedUser), since their last erasure. */
  private readonly mentions = new Map<string, Array<number>>()
  /** Latest JetStream time seen: "now" for profiles and current periods. */
  streamMs = 0
  lastSeq = 0
  private readonly rankCache = new Map<string, { list: Array<RankedRow>; byUser: Map<string, RankedRow> }>()
  /** §10: the rules history, ordered by fromSeq; the first version also scores anything before it. */
  private history: Array<OracleVersion>
  /** Every message applied, in order: what a retroactive re-projection folds again. */
  private readonly folded: Array<StoredMessage> = []
  /** §10: the projection this fold is (0 until a re-projection), and the seq it was built through (voids up to it are re-scored). */
  projection = 0
  private builtThrough = 0
  /** seq → total_awarded of every award in the ledger: what a void re-scored here takes back. */
  private readonly worth = new Map<number, number>()

  /**
   * `correctionSubject`: the subject corrections arrive on (`<prefix>.corrections`); without it every
   * message is an event (or a settings change, by its `.settings` subject). `options.rules`: the
   * rules history (default: §3's tables from seq 1); `options.freezesPerMonth`: the default tables'
   * streak.freezes_per_month instead of 2 (without `rules`).
   */
  constructor(
    private readonly correctionSubject: string | null = null,
    /** `projection`: a fold of a re-projection's stream from seq 1 (its id, and the seq it was built through). */
    readonly options: { readonly freezesPerMonth?: number; readonly rules?: ReadonlyArray<OracleVersion>; readonly projection?: { readonly id: number; readonly builtThrough: number } } = {}
  ) {
    this.projection = options.projection?.id ?? 0
    this.builtThrough = options.projection?.builtThrough ?? 0
    const first = options.freezesPerMonth === undefined ? DEFAULT_TABLES : { ...DEFAULT_TABLES, freezesPerMonth: options.freezesPerMonth }
    this.history = [...(options.rules ?? [{ fromSeq: 1, rules: first }])].sort((a, b) => a.fromSeq - b.fromSeq)
    if (this.history.length === 0) throw new Error("oracle: a rules history needs a version")
  }

  /** The version that scores the message at `seq`. */
  rulesAt(seq: number): OracleRules {
    let r = this.history[0]!.rules
    for (const v of this.history) if (v.fromSeq <= seq) r = v.rules
    return r
  }

  /** The version in force now: profiles' achievements and freezes (a level is the scoring version's: UserModel.level). */
  get rules(): OracleRules {
    return this.history[this.history.length - 1]!.rules
  }

  /** The history as [version, fromSeq] (what GET /v1/rules' history must list). */
  get rulesHistory(): Array<[string, number]> {
    return this.history.map((v) => [v.rules.version, v.fromSeq])
  }

  /**
   * §10 `arena rules apply` (not retroactive): `rules` score every message from `fromSeq` (the
   * stream head when applied + 1) on; what came before keeps its scores. Only ahead of the fold.
   */
  applyRules(rules: OracleRules, fromSeq: number): void {
    if (fromSeq <= this.lastSeq) throw new Error(`oracle: rules ${rules.version} from seq ${fromSeq}, but seq ${this.lastSeq} is folded already (use reproject)`)
    if (fromSeq <= this.history[this.history.length - 1]!.fromSeq) throw new Error(`oracle: rules ${rules.version} from seq ${fromSeq} is not after the version in force`)
    this.history.push({ fromSeq, rules })
  }

  /**
   * §10 `arena rules apply --retroactive`, once switched: `rules` alone score the whole stream from
   * seq 1 (the history is that version from seq 1), as a fresh fold of every message so far would:
   * every award, unlock, level and board re-scored — closed periods too (the switch replaces their
   * archives); a void takes back the award its message carries (the facts of the ledger when it was
   * asked; the stream is what replays); adjusts move by what they asked; erasures take out their user
   * again at their seq. Later messages are folded under it (and under later applies).
   * Voids: each one up to `builtThrough` (the seq the build read to; default: everything folded so
   * far) takes back what its event is worth under `rules` — the award this fold gives it, 0 if none;
   * a later one (asked before the switch, stored after the build's end) that names another projection
   * than `projection` (default: the next one) is refused `projection_changed`.
   */
  reproject(rules: OracleRules, o: { readonly projection?: number; readonly builtThrough?: number } = {}): void {
    this.projection = o.projection ?? this.projection + 1
    this.builtThrough = o.builtThrough ?? this.lastSeq
    const messages = this.folded.splice(0)
    this.history = [{ fromSeq: 1, rules }]
    this.worth.clear()
    this.users.clear()
    this.boards.clear()
    this.ledger.length = 0
    this.corrections.length = 0
    this.voided.clear()
    this.rejections.clear()
    this.erasures.length = 0
    this.erasedSeqs.clear()
    this.mentions.clear()
    this.streamMs = 0
    this.lastSeq = 0
    this.rankCache.clear()
    for (const m of messages) this.apply(m)
  }

  /** Boards of a period stay open until the longest grace any recorded version has (README "Changing rules"). */
  private get maxGraceMs(): number {
    return Math.max(...this.history.map((v) => v.rules.periodGraceMs))
  }

  static boardKey(board: string, window: string, period: string): string {
    return `${board}|${window}|${period}`
  }

  apply(m: StoredMessage): void {
    if (m.seq <= this.lastSeq) throw new Error(`oracle: seq ${m.seq} after ${this.lastSeq}`)
    this.lastSeq = m.seq
    this.folded.push(m)
    this.rankCache.clear()
    this.streamMs = Math.max(this.streamMs, m.streamMs)
    // A partition's tick (arena.xp.p.<k>.$tick, ARCHITECTURE §9) brings stream time and nothing else.
    if (m.subject !== undefined && m.subject.endsWith(".$tick")) return
    const named = namedUser(m.data)
    if (named !== null) {
      const seqs = this.mentions.get(named)
      if (seqs === undefined) this.mentions.set(named, [m.seq])
      else seqs.push(m.seq)
    }
    if (m.subject !== undefined && m.subject.endsWith(".erasures")) return this.erase(m)
    if (m.subject !== undefined && m.subject.endsWith(".settings")) return this.settings(m)
    if (this.correctionSubject !== null && m.subject === this.correctionSubject) {
      const c = judgeCorrection(m.data, m.msgId)
      const why = c.ok ? this.correct(c.c, m) : c.reason
      if (why !== null) this.rejections.set(m.seq, why)
      return
    }
    const rules = this.rulesAt(m.seq)
    const v = judge(m.data, m.msgId, m.streamMs, rules)
    if (!v.ok) {
      this.rejections.set(m.seq, v.reason)
      return
    }
    const ev = v.event
    const u = this.user(ev.user_id)
    u.settingsOnly = false
    const day = dayOf(v.timeMs)
    const own = zoneDayOf(u.zone, v.timeMs)
    const latest = u.days.size === 0 ? Number.NaN : Math.max(...u.days)
    if (own > latest + 1) {
      const gap = own - latest - 1
      const month = monthOfDay(own)
      if (gap <= rules.freezesPerMonth - (u.freezes.get(month) ?? 0)) {
        for (let d = latest + 1; d < own; d++) u.days.add(d)
        u.freezes.set(month, (u.freezes.get(month) ?? 0) + gap)
      }
    }
    u.days.add(own)
    const streak = this.runThrough(u.days, own)
    u.streakReached = Math.max(u.streakReached, streak)

    // Multiplier: the streak tier (highest that applies) times each named multiplier, capped.
    let total: Frac = { num: 1n, den: 1n }
    const tier = [...rules.streakTiers].sort((a, b) => b.days - a.days).find((t) => streak >= t.days)
    if (tier !== undefined) total = mul(total, tier.m)
    for (const n of ev.multipliers ?? []) total = mul(total, rules.multipliers[n]!)
    const applied = less(total, rules.cap) ? total : rules.cap
    const xp = Number((BigInt(v.base) * applied.num) / applied.den) // non-negative: truncation = floor

    u.events++
    u.counts.set(ev.action_type, (u.counts.get(ev.action_type) ?? 0) + 1)
    const bonuses: Array<{ achievement: string; xp: number }> = []
    let bonusXp = 0
    // Each unlocks once (an unlock under an earlier version stays); a total-XP condition counts
    // the bonuses unlocked before it in the same award, so those come last, lowest first.
    const xpOf = (c: OracleCondition): number => c.kind === "total_xp" ? c.xp : -1
    const order = rules.achievements.map((a, i) => ({ a, i })).sort((x, y) => xpOf(x.a.condition) - xpOf(y.a.condition) || x.i - y.i).map((x) => x.a)
    for (const a of order) {
      if (u.unlocked.has(a.id)) continue
      const c = a.condition
      const done = c.kind === "first_event" ? true
        : c.kind === "action_count" ? (u.counts.get(c.action) ?? 0) >= c.count
        : c.kind === "streak" ? streak >= c.days
        : c.kind === "all_actions" ? c.actions.every((x) => u.counts.has(x))
        : u.totalXp + xp + bonusXp >= c.xp
      if (!done) continue
      u.unlocked.set(a.id, m.seq)
      bonuses.push({ achievement: a.id, xp: a.bonus })
      bonusXp += a.bonus
    }
    const awarded = xp + bonusXp
    // The level before is what the last scored message gave; after, the total's under this seq's version.
    const levelBefore = u.level
    u.totalXp += awarded
    u.totalSeq = m.seq
    const agent = u.agents.get(ev.agent_name) ?? { xp: 0, events: 0 }
    agent.xp += awarded
    agent.events++
    u.agents.set(ev.agent_name, agent)
    if (ev.username !== undefined && ev.username !== "") u.username = ev.username
    u.level = levelOf(u.totalXp, rules.levels)
    u.scoredSeq = m.seq

    // Boards: all-time always; a period only while open (end + grace, in stream time).
    const agentBoard = `agent:${ev.agent_name}`
    for (const board of ["global", agentBoard]) this.score(Oracle.boardKey(board, "all", "all"), u.userId, awarded, m.seq)
    const p = periodsOf(day)
    for (const [window, period, end] of [["day", p.day, p.dayEndMs], ["week", p.week, p.weekEndMs], ["month", p.month, p.monthEndMs]] as const) {
      if (m.streamMs >= end + rules.periodGraceMs) continue // its own version's grace
      for (const board of ["global", agentBoard]) this.score(Oracle.boardKey(board, window, period), u.userId, awarded, m.seq)
    }

    this.worth.set(m.seq, awarded)
    this.ledger.push({
      seq: m.seq, event_id: ev.event_id, user_id: ev.user_id, agent_name: ev.agent_name, action_type: ev.action_type,
      base_points: v.base, multipliers: ev.multipliers ?? [], streak_days: streak, total_multiplier: total, applied_multiplier: applied,
      xp, bonuses, total_awarded: awarded, total_xp_after: u.totalXp, level_before: levelBefore, level_after: u.level,
      rules_version: rules.version
    })
  }

  /**
   * §10: a void takes the award (xp + bonuses, as carried) back from the all-time boards (global,
   * the event's agent) and from the event's day/week/month boards still open now; an adjust moves
   * the user by xp on global (and the named agent's) all-time and current-period boards. A score
   * never goes below 0; a moved score's seq becomes the correction's. Levels follow the total
   * (under the version at the correction's seq: the user's level from then on);
   * unlocks, counts and streak days stay. Returns why it was refused, or null.
   */
  private correct(c: OracleCorrection, m: StoredMessage): string | null {
    const u = this.users.get(c.userId)
    if (u === undefined || u.events === 0) return "unknown_user"
    const done = this.voided.get(u.userId) ?? new Set<number>()
    let delta = c.xp
    if (c.kind === "void") {
      if (c.eventSeq >= m.seq) return "invalid_correction"
      if (done.has(c.eventSeq)) return "already_voided"
      // §10: what the event is worth in this projection (re-scored by its build), or what the void carries.
      if (m.seq <= this.builtThrough) delta = 0 - (this.worth.get(c.eventSeq) ?? 0)
      else if (c.projection !== null && c.projection !== this.projection) return "projection_changed"
      else delta = 0 - c.xp
      done.add(c.eventSeq)
      this.voided.set(u.userId, done)
    }
    const agent = c.agent
    const day = c.kind === "void" ? dayOf(c.eventMs) : dayOf(m.streamMs)
    const levels = this.rulesAt(m.seq).levels
    const levelBefore = u.level
    const before = u.totalXp
    const after = Math.max(0, before + delta)
    if (after !== before) { u.totalXp = after; u.totalSeq = m.seq }
    const move = (key: string): number => {
      const b = this.boards.get(key) ?? new Map<string, { xp: number; seq: number }>()
      this.boards.set(key, b)
      const s = b.get(u.userId)
      if (s === undefined) {
        if (delta > 0) b.set(u.userId, { xp: delta, seq: m.seq })
        return delta > 0 ? delta : 0
      }
      const xp = Math.max(0, s.xp + delta)
      const moved = xp - s.xp
      if (moved !== 0) b.set(u.userId, { xp, seq: m.seq })
      return moved
    }
    const p = periodsOf(day)
    const boardsOf = ["global", ...(agent === null ? [] : [`agent:${agent}`])]
    // global all-time is the total itself: keep its board entry in step with the total.
    const g = this.boards.get(Oracle.boardKey("global", "all", "all"))?.get(u.userId)
    if (g !== undefined && after !== before) this.boards.get(Oracle.boardKey("global", "all", "all"))!.set(u.userId, { xp: after, seq: m.seq })
    if (agent !== null) {
      const moved = move(Oracle.boardKey(`agent:${agent}`, "all", "all"))
      const stat = u.agents.get(agent) ?? { xp: 0, events: 0 }
      stat.xp += moved
      u.agents.set(agent, stat)
    }
    for (const [window, period, end] of [["day", p.day, p.dayEndMs], ["week", p.week, p.weekEndMs], ["month", p.month, p.monthEndMs]] as const) {
      if (m.streamMs >= end + this.maxGraceMs) continue // closed: stays as archived
      for (const board of boardsOf) move(Oracle.boardKey(board, window, period))
    }
    this.corrections.push({
      seq: m.seq, correction_id: c.id, correction: c.kind, user_id: u.userId, requested_xp: delta, xp: after - before,
      total_xp_after: after, level_before: levelBefore, level_after: levelOf(after, levels)
    })
    u.level = levelOf(after, levels)
    u.scoredSeq = m.seq
    return null
  }

  /**
   * §11: an erasure takes the user out of the model as if none of their earlier messages had been
   * stored, which is what the stream holds once it is done: the user (profile, settings, freezes,
   * voids), their rows on every board (closed periods too: the archives are scrubbed), their ledger
   * and correction rows, and the rejections of messages that named them. Everyone else stays as
   * they are (no score of another user depends on the erased user's messages; ranks close up).
   * An event for the same user_id later makes a new, empty user. An erasure of a user the model
   * never held still takes its own message out.
   */
  private erase(m: StoredMessage): void {
    const v = judgeErasure(m.data, m.msgId)
    if (!v.ok) {
      this.rejections.set(m.seq, v.reason)
      return
    }
    const id = v.userId
    const seqs = this.mentions.get(id) ?? [m.seq]
    this.mentions.delete(id)
    const gone = new Set(seqs)
    const held = this.users.delete(id)
    this.voided.delete(id)
    for (const [key, b] of this.boards) {
      // A board only the user had scored on is gone as if never opened (as a replay without them).
      if (b.delete(id) && b.size === 0) this.boards.delete(key)
    }
    for (const s of seqs) {
      this.erasedSeqs.add(s)
      this.rejections.delete(s)
      this.worth.delete(s)
    }
    const keep = <R extends { readonly seq: number }>(rows: Array<R>) => {
      let w = 0
      for (const r of rows) if (!gone.has(r.seq)) rows[w++] = r
      rows.length = w
    }
    keep(this.ledger)
    keep(this.corrections)
    this.erasures.push({ seq: m.seq, erasure_id: v.erasureId, user_id: id, held, seqs })
  }

  /**
   * Streak of an event (§3): consecutive active UTC days counted through the event's day — the
   * run of active days that ends at that day. Days after it never count for this event, so a
   * late gap-filler gets the run up to its own day; later events see the filled gap.
   */
  runThrough(days: ReadonlySet<number>, day: number): number {
    let n = 0
    while (days.has(day - n)) n++
    return n
  }

  /** A settings message: {settings_id, user_id, time_zone?, visibility?}, Nats-Msg-Id = settings_id. */
  private settings(m: StoredMessage): void {
    let b: { settings_id?: unknown; user_id?: unknown; time_zone?: unknown; visibility?: unknown }
    try { b = JSON.parse(new TextDecoder().decode(m.data)) } catch { this.rejections.set(m.seq, "invalid_settings"); return }
    if (typeof b.user_id !== "string" || typeof b.settings_id !== "string") { this.rejections.set(m.seq, "invalid_settings"); return }
    if (m.msgId !== b.settings_id) { this.rejections.set(m.seq, "msg_id_mismatch"); return }
    let zone: string | undefined
    if (b.time_zone !== undefined) {
      try { zone = new Intl.DateTimeFormat("en-US", { timeZone: String(b.time_zone) }).resolvedOptions().timeZone } catch { this.rejections.set(m.seq, "invalid_settings"); return }
      if (zone === "Etc/UTC" || zone === "Etc/GMT" || zone === "GMT") zone = "UTC"
    }
    if (b.visibility !== undefined && b.visibility !== "public" && b.visibility !== "private") { this.rejections.set(m.seq, "invalid_settings"); return }
    const known = this.users.has(b.user_id)
    const u = this.user(b.user_id)
    if (!known) u.settingsOnly = true
    if (zone !== undefined) u.zone = zone
    if (b.visibility !== undefined) u.private = b.visibility === "private"
  }

  private user(id: string): UserModel {
    let u = this.users.get(id)
    if (u === undefined) {
      u = { userId: id, username: id, totalXp: 0, totalSeq: 0, events: 0, days: new Set(), streakReached: 0, counts: new Map(), unlocked: new Map(), agents: new Map(), zone: "UTC", private: false, freezes: new Map(), level: 1, scoredSeq: 0 }
      this.users.set(id, u)
    }
    return u
  }

  private score(key: string, userId: string, add: number, seq: number): void {
    let b = this.boards.get(key)
    if (b === undefined) this.boards.set(key, (b = new Map()))
    const s = b.get(userId) ?? { xp: 0, seq }
    s.xp += add
    if (add > 0) s.seq = seq
    b.set(userId, s)
  }

  /** A board ranked by §4: score desc, then lower seq first; rank 1-based. Empty if unknown. */
  ranked(board: string, window: string, period: string): Array<RankedRow> {
    return this.rankIndex(board, window, period).list
  }

  private rankIndex(board: string, window: string, period: string): { list: Array<RankedRow>; byUser: Map<string, RankedRow> } {
    const key = Oracle.boardKey(board, window, period)
    const hit = this.rankCache.get(key)
    if (hit !== undefined) return hit
    const list = [...(this.boards.get(key) ?? new Map<string, { xp: number; seq: number }>()).entries()]
      .sort(([, x], [, y]) => y.xp - x.xp || x.seq - y.seq)
      .map(([id, s], i) => {
        const u = this.users.get(id)!
        return { rank: i + 1, user_id: id, username: u.username, xp: s.xp, level: u.level }
      })
    const index = { list, byUser: new Map(list.map((r) => [r.user_id, r])) }
    this.rankCache.set(key, index)
    return index
  }

  /** The current period of each window at the latest stream time. */
  currentPeriods(): Record<"all" | "day" | "week" | "month", string> {
    const p = periodsOf(dayOf(this.streamMs))
    return { all: "all", day: p.day, week: p.week, month: p.month }
  }

  /** Today's run, else yesterday's, else the latest run while the days missed since could still be bridged. */
  private currentStreak(u: UserModel, today: number, upTo: (d: number) => number): number {
    if (upTo(today) > 0) return upTo(today)
    if (upTo(today - 1) > 0) return upTo(today - 1)
    const past = [...u.days].filter((d) => d < today)
    if (past.length === 0) return 0
    const latest = Math.max(...past)
    const missed = today - 1 - latest
    const left = this.rules.freezesPerMonth - (u.freezes.get(monthOfDay(today)) ?? 0)
    return missed <= left ? today - (latest - upTo(latest) + 1) : 0
  }

  /** GET /v1/users/{id} as §6 describes it (achievement titles/descriptions left out). */
  profile(id: string): ExpectedProfile | null {
    const u = this.users.get(id)
    if (u === undefined) return null
    const rules = this.rules // achievements and freezes: the version in force now
    const levels = this.rulesAt(u.scoredSeq).levels // the level: what the last scored message gave, in its version's table
    const level = u.level
    const next = levels[level]
    const today = zoneDayOf(u.zone, this.streamMs)
    const upTo = (d: number): number => { let n = 0; while (u.days.has(d - n)) n++; return n }
    let longest = 0 // the longest run of consecutive active days
    for (const d of u.days) {
      let n = 0
      if (!u.days.has(d - 1)) while (u.days.has(d + n)) n++
      longest = Math.max(longest, n)
    }
    const progress = (id: string, c: OracleCondition, target: number): number => {
      if (u.unlocked.has(id)) return target
      const raw = c.kind === "first_event" ? u.events
        : c.kind === "action_count" ? u.counts.get(c.action) ?? 0
        // "streak reaches N": progress is the highest streak an event counted, which a run
        // completed later by a gap-filler does not raise until an event counts it.
        : c.kind === "streak" ? u.streakReached
        : c.kind === "all_actions" ? c.actions.filter((x) => u.counts.has(x)).length
        : u.totalXp
      return Math.min(raw, target)
    }
    const cur = this.currentPeriods()
    const ranks: Array<ExpectedProfile["ranks"][number]> = []
    for (const board of ["global", ...[...u.agents.keys()].sort().map((a) => `agent:${a}`)]) {
      for (const window of ["all", "day", "week", "month"] as const) {
        const r = this.rankIndex(board, window, cur[window]).byUser.get(id)
        if (r !== undefined) ranks.push({ board, window, period: cur[window], rank: r.rank, xp: r.xp })
      }
    }
    return {
      user_id: id,
      username: u.username,
      total_xp: u.totalXp,
      level: { number: level, title: levels[level - 1]!.title, xp_into_level: u.totalXp - levels[level - 1]!.xp, xp_for_next: next === undefined ? null : next.xp - u.totalXp },
      streak: { current: this.currentStreak(u, today, upTo), longest, freezes_left: Math.max(0, rules.freezesPerMonth - (u.freezes.get(monthOfDay(today)) ?? 0)) },
      time_zone: u.zone,
      visibility: u.private ? "private" : "public",
      achievements: rules.achievements.map((a) => {
        const target = targetOf(a.condition)
        return { id: a.id, bonus: a.bonus, target, progress: progress(a.id, a.condition, target), unlocked: u.unlocked.has(a.id), unlocked_seq: u.unlocked.get(a.id) ?? null }
      }),
      agent_stats: [...u.agents.entries()].map(([agent_name, s]) => ({ agent_name, xp: s.xp, events: s.events }))
        .sort((a, b) => b.xp - a.xp || (a.agent_name < b.agent_name ? -1 : 1)),
      ranks
    }
  }
}

export interface RankedRow {
  readonly rank: number
  readonly user_id: string
  readonly username: string
  readonly xp: number
  readonly level: number
}

export interface ExpectedProfile {
  readonly user_id: string
  readonly username: string
  readonly total_xp: number
  readonly level: { readonly number: number; readonly title: string; readonly xp_into_level: number; readonly xp_for_next: number | null }
  readonly streak: { readonly current: number; readonly longest: number; readonly freezes_left: number }
  readonly time_zone: string
  readonly visibility: "public" | "private"
  readonly achievements: ReadonlyArray<{ id: string; bonus: number; target: number; progress: number; unlocked: boolean; unlocked_seq: number | null }>
  readonly agent_stats: ReadonlyArray<{ agent_name: string; xp: number; events: number }>
  readonly ranks: ReadonlyArray<{ board: string; window: string; period: string; rank: number; xp: number }>
}
