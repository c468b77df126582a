// The dry run's comparison (ARCHITECTURE §10): two engine states over the same stream — the rules
// in force ("before") and the proposed rules ("after") — turned into the report: users whose XP,
// level or achievements change, the XP moved, the biggest movers, each open board's top N before
// and after, and the ranks that change. Pure; typed arrays over uids, objects only for what the
// report shows, so a state of a million users compares in about a second.
import type { Window } from "./Model.js"
import { GLOBAL_BOARD, boardKeyOf } from "./BoardKeys.js"
import type { EngineState } from "./engine/EngineState.js"
import { KIND_UNLOCK, idOfKey, kindOf } from "./state/UserTable.js"

export interface DiffUser {
  readonly user_id: string
  readonly username: string
  readonly xp_before: number
  readonly xp_after: number
  readonly delta: number
  readonly level_before: number
  readonly level_after: number
  readonly achievements_gained: ReadonlyArray<string>
  readonly achievements_lost: ReadonlyArray<string>
}

export interface DiffRow {
  readonly rank: number
  readonly user_id: string
  readonly username: string
  readonly xp: number
}

export interface DiffBoard {
  readonly board: string
  readonly window: Window
  readonly period: string
  readonly users_before: number
  readonly users_after: number
  readonly top_before: ReadonlyArray<DiffRow>
  readonly top_after: ReadonlyArray<DiffRow>
  /** Whether the top N differs (users, order or XP). */
  readonly top_changed: boolean
  /** Users whose rank differs, counting those who enter or leave the board. */
  readonly ranks_changed: number
  readonly entered: number
  readonly left: number
  /** The largest rank moves of users on the board both times, biggest first. */
  readonly biggest_rank_moves: ReadonlyArray<{ readonly user_id: string; readonly rank_before: number; readonly rank_after: number }>
}

export interface RulesDiffReport {
  readonly proposed: { readonly version: string }
  readonly in_force: ReadonlyArray<{ readonly version: string; readonly effective_from_seq: number }>
  readonly stream: {
    readonly last_seq: number
    readonly messages: number
    readonly applied_before: number
    readonly applied_after: number
    readonly rejected_before: number
    readonly rejected_after: number
  }
  readonly users: {
    readonly before: number
    readonly after: number
    readonly changed: number
    readonly xp_changed: number
    readonly level_changed: number
    readonly achievements_changed: number
    readonly up: number
    readonly down: number
  }
  readonly xp: { readonly total_before: number; readonly total_after: number; readonly net: number; readonly moved: number }
  readonly movers: ReadonlyArray<DiffUser>
  /** Changed users, biggest |delta| first, at most `listLimit` of them. */
  readonly changed_users: ReadonlyArray<DiffUser>
  readonly changed_users_truncated: boolean
  readonly boards: ReadonlyArray<DiffBoard>
}

export interface DiffInputs {
  readonly before: EngineState
  readonly after: EngineState
  readonly proposedVersion: string
  readonly inForce: RulesDiffReport["in_force"]
  readonly stream: RulesDiffReport["stream"]
  /** Rows of each board's top (default 20). */
  readonly top?: number
  /** Biggest movers listed (default 20). */
  readonly movers?: number
  /** Changed users listed (default 1000). */
  readonly listLimit?: number
}

const WINDOW_ORDER: Readonly<Record<Window, number>> = { all: 0, day: 1, week: 2, month: 3 }

/** Achievement name ids of both states mapped onto one index, so unlock sets compare by int. */
const unifiedAchievements = (a: EngineState, b: EngineState): { readonly ofA: Int32Array; readonly ofB: Int32Array; readonly names: Array<string> } => {
  const names: Array<string> = []
  const index = new Map<string, number>()
  const map = (s: EngineState): Int32Array => {
    const out = new Int32Array(s.achievements.size)
    for (let i = 0; i < out.length; i++) {
      const n = s.achievements.nameOf(i)
      let u = index.get(n)
      if (u === undefined) { u = names.length; names.push(n); index.set(n, u) }
      out[i] = u
    }
    return out
  }
  return { ofA: map(a), ofB: map(b), names }
}

export const diffStates = (i: DiffInputs): RulesDiffReport => {
  const A = i.before
  const B = i.after
  const ta = A.users
  const tb = B.users
  const top = i.top ?? 20
  const ach = unifiedAchievements(A, B)
  const mark = new Uint8Array(ach.names.length)

  // after-uid of each before-uid (-1: not a user after), and the after-uids seen that way.
  const aToB = new Int32Array(ta.capacity).fill(-1)
  const seenB = new Uint8Array(tb.capacity)
  for (let u = 0; u < ta.capacity; u++) {
    if (!ta.has(u)) continue
    const v = tb.uidOf(ta.userId(u))
    if (v >= 0 && tb.has(v)) { aToB[u] = v; seenB[v] = 1 }
  }

  const unlocks = (s: EngineState, uid: number, map: Int32Array, bit: number): void => {
    const t = s.users
    for (let e = t.blockStart(uid), end = t.blockEnd(uid); e < end; e++) {
      const key = t.eKey[e]!
      if (kindOf(key) === KIND_UNLOCK) mark[map[idOfKey(key)]!]! |= bit
    }
  }
  const unlockDiff = (ua: number, ub: number, out: { gained: Array<string>; lost: Array<string> } | null): boolean => {
    if (ua >= 0) unlocks(A, ua, ach.ofA, 1)
    if (ub >= 0) unlocks(B, ub, ach.ofB, 2)
    let changed = false
    for (let k = 0; k < mark.length; k++) {
      const m = mark[k]!
      if (m === 0) continue
      mark[k] = 0
      if (m === 3) continue
      changed = true
      if (out !== null) (m === 2 ? out.gained : out.lost).push(ach.names[k]!)
    }
    return changed
  }

  // ---- users ----
  let changedN = 0, xpChanged = 0, levelChanged = 0, achChanged = 0, up = 0, down = 0
  let totalBefore = 0, totalAfter = 0, moved = 0, usersBefore = 0, usersAfter = 0
  let chA = new Int32Array(1024), chB = new Int32Array(1024), chD = new Float64Array(1024)
  const consider = (ua: number, ub: number): void => {
    const xa = ua >= 0 ? ta.totalXp[ua]! : 0
    const xb = ub >= 0 ? tb.totalXp[ub]! : 0
    const la = ua >= 0 ? ta.level[ua]! : 1
    const lb = ub >= 0 ? tb.level[ub]! : 1
    const achDiff = unlockDiff(ua, ub, null)
    if (xa === xb && la === lb && !achDiff) return
    if (xa !== xb) xpChanged++
    if (la !== lb) levelChanged++
    if (achDiff) achChanged++
    if (xb > xa) up++
    if (xb < xa) down++
    moved += Math.abs(xb - xa)
    if (changedN === chA.length) {
      const g = <T extends Int32Array | Float64Array>(x: T, n: T): T => { n.set(x); return n }
      chA = g(chA, new Int32Array(2 * changedN)); chB = g(chB, new Int32Array(2 * changedN)); chD = g(chD, new Float64Array(2 * changedN))
    }
    chA[changedN] = ua; chB[changedN] = ub; chD[changedN] = xb - xa
    changedN++
  }
  for (let u = 0; u < ta.capacity; u++) {
    if (!ta.has(u)) continue
    usersBefore++
    totalBefore += ta.totalXp[u]!
    consider(u, aToB[u]!)
  }
  for (let v = 0; v < tb.capacity; v++) {
    if (!tb.has(v)) continue
    usersAfter++
    totalAfter += tb.totalXp[v]!
    if (seenB[v] === 0) consider(-1, v)
  }
  const order = Array.from({ length: changedN }, (_, k) => k)
  const idOf = (k: number): string => (chA[k]! >= 0 ? ta.userId(chA[k]!) : tb.userId(chB[k]!))
  order.sort((x, y) => Math.abs(chD[y]!) - Math.abs(chD[x]!) || (idOf(x) < idOf(y) ? -1 : idOf(x) > idOf(y) ? 1 : 0))
  const userOf = (k: number): DiffUser => {
    const ua = chA[k]!, ub = chB[k]!
    const d = { gained: [] as Array<string>, lost: [] as Array<string> }
    unlockDiff(ua, ub, d)
    return {
      user_id: idOf(k),
      username: ub >= 0 ? tb.username(ub) : ta.username(ua),
      xp_before: ua >= 0 ? ta.totalXp[ua]! : 0,
      xp_after: ub >= 0 ? tb.totalXp[ub]! : 0,
      delta: chD[k]!,
      level_before: ua >= 0 ? ta.level[ua]! : 1,
      level_after: ub >= 0 ? tb.level[ub]! : 1,
      achievements_gained: d.gained.sort(),
      achievements_lost: d.lost.sort()
    }
  }
  const listLimit = i.listLimit ?? 1000
  const listed = order.slice(0, Math.max(listLimit, i.movers ?? 20)).map(userOf)

  // ---- boards: every open board of either state ----
  const keys = new Map<string, { board: string; window: Window; period: string; a: number; b: number }>()
  for (const id of A.boards.open()) {
    const r = A.boards.refs[id]!
    keys.set(boardKeyOf(r.board, r.window, r.period), { ...r, a: id, b: -1 })
  }
  for (const id of B.boards.open()) {
    const r = B.boards.refs[id]!
    const k = boardKeyOf(r.board, r.window, r.period)
    const hit = keys.get(k)
    if (hit !== undefined) hit.b = id
    else keys.set(k, { ...r, a: -1, b: id })
  }
  const rankB = new Int32Array(tb.capacity) // 0: not on the board
  const boards: Array<DiffBoard> = []
  for (const k of keys.values()) {
    const treeA = k.a >= 0 ? A.boards.tree(k.a) : null
    const treeB = k.b >= 0 ? B.boards.tree(k.b) : null
    const topOf = (s: EngineState, tree: typeof treeA): Array<DiffRow> => {
      const rows: Array<DiffRow> = []
      tree?.forEachInRange(0, top, (uid, xp, _seq, rank) => rows.push({ rank, user_id: s.users.userId(uid), username: s.users.username(uid), xp }))
      return rows
    }
    const topBefore = topOf(A, treeA)
    const topAfter = topOf(B, treeB)
    treeB?.forEach((uid, _xp, _seq, rank) => { rankB[uid] = rank })
    let changed = 0, entered = 0, left = 0
    const moves: Array<{ readonly ua: number; readonly rb: number; readonly ra: number }> = []
    treeA?.forEach((uid, _xp, _seq, rank) => {
      const v = aToB[uid]!
      const rb = v >= 0 ? rankB[v]! : 0
      if (rb === 0) { left++; changed++; return }
      rankB[v] = -rankB[v]! // seen: what stays positive entered
      if (rb !== rank) {
        changed++
        moves.push({ ua: uid, rb: rank, ra: rb })
      }
    })
    treeB?.forEach((uid) => {
      if (rankB[uid]! > 0) { entered++; changed++ }
      rankB[uid] = 0
    })
    moves.sort((x, y) => Math.abs(y.ra - y.rb) - Math.abs(x.ra - x.rb) || x.rb - y.rb)
    boards.push({
      board: k.board, window: k.window, period: k.period,
      users_before: treeA?.size ?? 0, users_after: treeB?.size ?? 0,
      top_before: topBefore, top_after: topAfter,
      top_changed: JSON.stringify(topBefore.map((r) => [r.user_id, r.xp])) !== JSON.stringify(topAfter.map((r) => [r.user_id, r.xp])),
      ranks_changed: changed, entered, left,
      biggest_rank_moves: moves.slice(0, 10).map((m) => ({ user_id: ta.userId(m.ua), rank_before: m.rb, rank_after: m.ra }))
    })
  }
  boards.sort((x, y) =>
    (x.board === GLOBAL_BOARD ? 0 : 1) - (y.board === GLOBAL_BOARD ? 0 : 1) || WINDOW_ORDER[x.window] - WINDOW_ORDER[y.window] ||
    (x.board < y.board ? -1 : x.board > y.board ? 1 : 0) || (x.period < y.period ? -1 : x.period > y.period ? 1 : 0))

  return {
    proposed: { version: i.proposedVersion },
    in_force: i.inForce,
    stream: i.stream,
    users: { before: usersBefore, after: usersAfter, changed: changedN, xp_changed: xpChanged, level_changed: levelChanged, achievements_changed: achChanged, up, down },
    xp: { total_before: totalBefore, total_after: totalAfter, net: totalAfter - totalBefore, moved },
    movers: listed.slice(0, i.movers ?? 20),
    changed_users: listed.slice(0, listLimit),
    changed_users_truncated: changedN > listLimit,
    boards
  }
}
