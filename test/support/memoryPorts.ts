// In-memory implementations of the gateway's ports over the real RankTree, for developing and
// testing the gateway's protocol without the pipeline. XP is the rules' base points (no
// multipliers or streaks): enough for leaderboards to move; the real engine is tested elsewhere.
import { decodeEventValue } from "../../src/domain/Event.js"
import { DEFAULT_RULES_DOCUMENT } from "../../src/domain/DefaultRules.js"
import type { BoardKey, LedgerEntry, Window } from "../../src/domain/Model.js"
import { WINDOWS } from "../../src/domain/Model.js"
import { periodOf } from "../../src/domain/Periods.js"
import { RankTree } from "../../src/domain/ranking/RankTree.js"
import type { AroundResult, AroundSpec, BoardCursor, BoardInfo, BoardPage, BoardView, LeaderboardPort, LedgerPage, RankedEntry, UserPort, UserProfile } from "../../src/ports/ReadModel.js"
import type { HealthPort } from "../../src/ports/Health.js"
import type { IngestPort, PublishResult } from "../../src/ports/Ingest.js"
import type { NotificationPort, UserNotification } from "../../src/ports/LiveFeed.js"
import type { RulesPort } from "../../src/ports/ReadModel.js"

const keyStr = (k: BoardKey): string => `${k.board}|${k.window}|${k.period}`
const LEVELS = DEFAULT_RULES_DOCUMENT.levels
const levelOf = (xp: number): number => LEVELS.filter((l) => xp >= l.xp).length

/** One user's new score on one board (the shape the old pipeline passed between actors). */
export interface ScoreChange {
  readonly board: string
  readonly window: Window
  readonly period: string
  readonly userId: string
  readonly username: string
  readonly xp: number
  readonly seq: number
  readonly level: number
}

/** A RankTree keyed by user id: remembers each user's key to pass it back on a move. */
export class KeyedRanking {
  private readonly tree = new RankTree()
  private readonly uids = new Map<string, number>()
  private readonly ids: Array<string> = []
  private readonly keys = new Map<number, { score: number; seq: number }>()

  get size(): number {
    return this.tree.size
  }

  set(userId: string, score: number, seq: number): void {
    let uid = this.uids.get(userId)
    if (uid === undefined) { uid = this.ids.length; this.ids.push(userId); this.uids.set(userId, uid) }
    const old = this.keys.get(uid)
    if (old === undefined) this.tree.insert(score, seq, uid)
    else this.tree.move(old.score, old.seq, score, seq, uid)
    this.keys.set(uid, { score, seq })
  }

  rankOf(userId: string): number | undefined {
    const uid = this.uids.get(userId)
    const k = uid === undefined ? undefined : this.keys.get(uid)
    return k === undefined ? undefined : this.tree.countBefore(k.score, k.seq, uid!) + 1
  }

  countThrough(score: number, seq: number): number {
    return this.tree.countThrough(score, seq)
  }

  range(offset: number, limit: number): Array<{ userId: string; score: number; seq: number }> {
    const out: Array<{ userId: string; score: number; seq: number }> = []
    this.tree.forEachInRange(offset, limit, (uid, score, seq) => { out.push({ userId: this.ids[uid]!, score, seq }) })
    return out
  }
}

export interface ScoreUpdate {
  readonly key: BoardKey
  readonly userId: string
  readonly username: string
  readonly xp: number
  readonly level: number
  readonly seq: number
}

interface Board {
  readonly key: BoardKey
  readonly index: KeyedRanking
  seq: number
}

class Listeners<A extends Array<unknown>> {
  private readonly fns = new Set<(...a: A) => void>()
  add(fn: (...a: A) => void): () => void {
    this.fns.add(fn)
    return () => this.fns.delete(fn)
  }
  emit(...a: A): void {
    for (const f of this.fns) f(...a)
  }
}

export class MemoryLeaderboards implements LeaderboardPort {
  readonly boards = new Map<string, Board>()
  readonly names = new Map<string, { username: string; level: number }>()
  readonly watches = new Map<string, Map<number, number>>()
  private readonly periods = new Map<Window, string>()
  private readonly views = new Listeners<[BoardView]>()
  /** State is always there in memory (LiveBoards answers a sentence while the pipeline loads). */
  unavailable(): string | null { return null }
  private readonly rollovers = new Listeners<[Window, string]>()
  lastSeq = 0

  constructor(nowMs = Date.now()) {
    for (const w of WINDOWS) this.periods.set(w, periodOf(w, nowMs))
  }

  currentPeriod(window: Window): string {
    return this.periods.get(window)!
  }

  /** Test hook: move a window to a new current period (as stream time would). */
  rollover(window: Window, period: string): void {
    this.periods.set(window, period)
    this.rollovers.emit(window, period)
  }

  private entry(userId: string, xp: number, rank: number): RankedEntry {
    const n = this.names.get(userId)
    return { rank, user_id: userId, username: n?.username ?? userId, xp, level: n?.level ?? 1 }
  }

  private top(b: Board, limit: number, offset = 0): Array<RankedEntry & { reached_seq: number }> {
    return b.index.range(offset, limit).map((e, i) => ({ ...this.entry(e.userId, e.score, offset + i + 1), reached_seq: e.seq }))
  }

  private board(key: BoardKey, create: boolean): Board | undefined {
    let b = this.boards.get(keyStr(key))
    if (b === undefined && create) {
      b = { key, index: new KeyedRanking(), seq: this.lastSeq }
      this.boards.set(keyStr(key), b)
    }
    return b
  }

  list(): ReadonlyArray<BoardInfo> {
    return [...this.boards.values()].map((b) => ({ ...b.key, size: b.index.size, closed: false }))
  }

  page(key: BoardKey, after: BoardCursor | null, limit: number): BoardPage | null {
    const b = this.board(key, false)
    if (b === undefined) return key.period === this.currentPeriod(key.window) ? { key, seq: this.lastSeq, total: 0, entries: [] } : null
    const offset = after === null ? 0 : b.index.countThrough(after.xp, after.seq)
    return { key, seq: b.seq, total: b.index.size, entries: this.top(b, limit, offset) }
  }

  around(key: BoardKey, userId: string, radius: number): AroundResult | null {
    const b = this.board(key, false)
    if (b === undefined) return null
    const rank = b.index.rankOf(userId)
    if (rank === undefined) return { key, seq: b.seq, total: b.index.size, user: null, entries: [] }
    const from = Math.max(0, rank - 1 - radius)
    const entries = this.top(b, rank - from + radius, from).map(({ reached_seq: _, ...e }) => e)
    return { key, seq: b.seq, total: b.index.size, user: entries[rank - 1 - from] ?? null, entries }
  }

  private maxLimit(key: BoardKey): number {
    const w = this.watches.get(keyStr(key))
    return w === undefined || w.size === 0 ? 0 : Math.max(...w.keys())
  }

  private view(b: Board): BoardView {
    return { key: b.key, seq: b.seq, total: b.index.size, entries: this.top(b, this.maxLimit(b.key)).map(({ reached_seq: _, ...e }) => e) }
  }

  watch(key: BoardKey, limit: number): BoardView {
    const w = this.watches.get(keyStr(key)) ?? new Map<number, number>()
    w.set(limit, (w.get(limit) ?? 0) + 1)
    this.watches.set(keyStr(key), w)
    return this.view(this.board(key, true)!)
  }

  unwatch(key: BoardKey, limit: number): void {
    const w = this.watches.get(keyStr(key))
    const n = w?.get(limit) ?? 0
    if (w === undefined || n === 0) throw new Error(`unwatch without watch: ${keyStr(key)} ${limit}`)
    if (n === 1) w.delete(limit)
    else w.set(limit, n - 1)
  }

  readonly aroundWatches = new Map<string, { key: BoardKey; around: AroundSpec; n: number }>()

  private aroundView(key: BoardKey, a: AroundSpec): BoardView {
    const r = this.around(key, a.user_id, a.radius)
    const entries = r?.entries ?? []
    return { key, seq: r?.seq ?? this.lastSeq, total: r?.total ?? 0, entries, around: { ...a, first_rank: entries[0]?.rank ?? null } }
  }

  watchAround(key: BoardKey, a: AroundSpec): BoardView {
    this.board(key, true)
    const k = `${keyStr(key)}|${a.user_id}|${a.radius}`
    const w = this.aroundWatches.get(k)
    if (w === undefined) this.aroundWatches.set(k, { key, around: a, n: 1 })
    else w.n++
    return this.aroundView(key, a)
  }

  unwatchAround(key: BoardKey, a: AroundSpec): void {
    const k = `${keyStr(key)}|${a.user_id}|${a.radius}`
    const w = this.aroundWatches.get(k)
    if (w === undefined) throw new Error(`unwatchAround without watchAround: ${k}`)
    if (--w.n === 0) this.aroundWatches.delete(k)
  }

  /** Number of outstanding watch() calls (tests check the gateway releases them). */
  watchCount(): number {
    let n = 0
    for (const w of this.watches.values()) for (const c of w.values()) n += c
    return n
  }

  onView(listener: (view: BoardView) => void): () => void {
    return this.views.add(listener)
  }

  onRollover(listener: (window: Window, period: string) => void): () => void {
    return this.rollovers.add(listener)
  }

  /** Applies one batch of score changes (one "drain"), then emits a view per watched touched board. */
  apply(changes: ReadonlyArray<ScoreUpdate>): void {
    const touched = new Set<Board>()
    for (const c of changes) {
      const b = this.board(c.key, true)!
      b.index.set(c.userId, c.xp, c.seq)
      b.seq = Math.max(b.seq, c.seq)
      this.names.set(c.userId, { username: c.username, level: c.level })
      this.lastSeq = Math.max(this.lastSeq, c.seq)
      touched.add(b)
    }
    for (const b of touched) if (this.maxLimit(b.key) > 0) this.views.emit(this.view(b))
    for (const w of this.aroundWatches.values()) if (touched.has(this.board(w.key, true)!)) this.views.emit(this.aroundView(w.key, w.around))
  }
}

interface MemUser {
  username: string
  total: number
  agents: Map<string, { xp: number; events: number }>
  ledger: Array<LedgerEntry>
}

/** Ingest + users + notifications over MemoryLeaderboards: one process-local "pipeline". */
export class MemoryPipeline implements IngestPort, UserPort, NotificationPort, HealthPort, RulesPort {
  readonly users = new Map<string, MemUser>()
  private readonly seen = new Map<string, number>()
  private readonly notes = new Listeners<[UserNotification]>()
  readonly watchedUsers = new Map<string, number>()
  seq = 0
  ready = true
  unavailable(): string | null { return null }

  constructor(readonly boards: MemoryLeaderboards) {}

  async publish(items: ReadonlyArray<unknown>): Promise<ReadonlyArray<PublishResult>> {
    const results: Array<PublishResult> = []
    const changes: Array<ScoreUpdate> = []
    for (const item of items) {
      const d = decodeEventValue(item)
      if (!d.ok) {
        const id = typeof item === "object" && item !== null && typeof (item as { event_id?: unknown }).event_id === "string" ? (item as { event_id: string }).event_id : null
        results.push({ status: "rejected", event_id: id, error: { code: d.rejection.reason, message: d.rejection.message, details: d.rejection.issues } })
        continue
      }
      const ev = d.event
      const dup = this.seen.get(ev.event_id)
      if (dup !== undefined) {
        results.push({ status: "duplicate", event_id: ev.event_id, seq: dup })
        continue
      }
      const action = (DEFAULT_RULES_DOCUMENT.actions as Record<string, { points?: number }>)[ev.action_type]
      if (action === undefined) {
        results.push({ status: "rejected", event_id: ev.event_id, error: { code: "unknown_action", message: `unknown action_type ${ev.action_type}`, details: [{ path: "action_type", message: "is not an action of the rules" }] } })
        continue
      }
      const seq = ++this.seq
      this.seen.set(ev.event_id, seq)
      const xp = action.points ?? ev.base_points ?? 1
      const u: MemUser = this.users.get(ev.user_id) ?? { username: ev.user_id, total: 0, agents: new Map(), ledger: [] }
      if (ev.username !== undefined && ev.username !== "") u.username = ev.username
      const before = levelOf(u.total)
      u.total += xp
      const ag = u.agents.get(ev.agent_name) ?? { xp: 0, events: 0 }
      ag.xp += xp
      ag.events++
      u.agents.set(ev.agent_name, ag)
      this.users.set(ev.user_id, u)
      const entry: LedgerEntry = {
        event_id: ev.event_id, seq, user_id: ev.user_id, agent_name: ev.agent_name, action_type: ev.action_type, base_points: xp,
        multipliers: [], streak_days: 1, streak_multiplier: "1", total_multiplier: "1", applied_multiplier: "1", xp, bonuses: [],
        total_awarded: xp, total_xp_after: u.total, level_before: before, level_after: levelOf(u.total), rules_version: "memory",
        event_time: ev.timestamp, stream_time: new Date().toISOString()
      }
      u.ledger.push(entry)
      if (u.ledger.length > 200) u.ledger.splice(0, u.ledger.length - 200)
      const level = levelOf(u.total)
      for (const window of WINDOWS) {
        const period = this.boards.currentPeriod(window)
        changes.push({ key: { board: "global", window, period }, userId: ev.user_id, username: u.username, xp: u.total, level, seq })
        changes.push({ key: { board: `agent:${ev.agent_name}`, window, period }, userId: ev.user_id, username: u.username, xp: ag.xp, level, seq })
      }
      this.notes.emit({ type: "xp_awarded", user_id: ev.user_id, seq, entry })
      results.push({ status: "accepted", event_id: ev.event_id, seq })
    }
    if (changes.length > 0) this.boards.apply(changes)
    return results
  }

  profile(userId: string): UserProfile | null {
    const u = this.users.get(userId)
    if (u === undefined) return null
    const level = levelOf(u.total)
    const next = LEVELS[level]
    return {
      user_id: userId, username: u.username, total_xp: u.total,
      level: { number: level, title: LEVELS[level - 1]!.title, xp_into_level: u.total - LEVELS[level - 1]!.xp, xp_for_next: next === undefined ? null : next.xp - u.total },
      streak: { current: 1, longest: 1 }, achievements: [],
      agent_stats: [...u.agents].map(([agent_name, s]) => ({ agent_name, xp: s.xp, events: s.events })),
      ranks: []
    }
  }

  async ledger(userId: string, limit: number, beforeSeq: number | null): Promise<LedgerPage> {
    const all = [...(this.users.get(userId)?.ledger ?? [])].reverse().filter((e) => beforeSeq === null || e.seq < beforeSeq)
    const entries = all.slice(0, limit)
    return { entries, nextBeforeSeq: limit < all.length ? entries[entries.length - 1]!.seq : null }
  }

  onUserNotification(listener: (n: UserNotification) => void): () => void {
    return this.notes.add(listener)
  }

  watchUser(userId: string): () => void {
    this.watchedUsers.set(userId, (this.watchedUsers.get(userId) ?? 0) + 1)
    let released = false
    return () => {
      if (released) return
      released = true
      const n = (this.watchedUsers.get(userId) ?? 1) - 1
      if (n === 0) this.watchedUsers.delete(userId)
      else this.watchedUsers.set(userId, n)
    }
  }

  readiness() {
    return { ready: this.ready, reasons: this.ready ? [] : ["catching up"], details: { seq: this.seq } }
  }

  metrics(): string {
    return `# HELP arena_events_processed_total Events applied\n# TYPE arena_events_processed_total counter\narena_events_processed_total ${this.seq}\n`
  }

  rules(): unknown {
    return DEFAULT_RULES_DOCUMENT
  }

  achievements(): unknown {
    return { version: DEFAULT_RULES_DOCUMENT.version, achievements: DEFAULT_RULES_DOCUMENT.achievements }
  }
}
