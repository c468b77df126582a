// Proves an upgrade keeps every user: states the object-per-user engine wrote as JSON (a fixture
// written by that engine before it was deleted) load into the user table exactly as the table
// engine holds the same users after the same events — including states from before
// `streakReached` and per-agent seqs existed, and minus the periods closed at the checkpoint.
import { readFileSync } from "node:fs"
import { describe, expect, it } from "vitest"
import type { UserState } from "../Model.js"
import type { EngineState } from "../engine/Engine.js"
import { newEngineState } from "../engine/TestState.js"
import { boardScoreOf, dumpUser } from "../engine/UserViews.js"
import type { UserDump } from "../engine/UserViews.js"
import { GLOBAL_ALL } from "../ranking/BoardRegistry.js"
import { loadLegacyUser } from "./LegacySnapshot.js"
import { rebuildBoards } from "./SnapshotCodec.js"

interface Case {
  readonly name: string
  readonly about: string
  /** The checkpoint's stream time the state is loaded at. */
  readonly streamTimeMs: number
  /** As the object engine wrote it to arena_user_state. */
  readonly state: UserState
  /** dumpUser() of the table engine after the same events, boards closed by streamTimeMs retired. */
  readonly dump: UserDump
}

const raw = JSON.parse(readFileSync(new URL("./fixtures/legacy-users.json", import.meta.url), "utf8")) as { readonly cases: ReadonlyArray<Case> }
// The fixture's dumps predate corrections: a legacy user has no voided awards.
const fixture = { cases: raw.cases.map((c) => ({ ...c, dump: { ...c.dump, voided: c.dump.voided ?? [] } })) }
const byName = (name: string): Case => fixture.cases.find((c) => c.name === name)!

/** The case's JSON as stored (a fresh copy), optionally with fields an older Arena did not write. */
const stored = (c: Case, edit: (o: Record<string, unknown>) => void = () => {}): UserState => {
  const o = JSON.parse(JSON.stringify(c.state)) as Record<string, unknown>
  edit(o)
  return o as unknown as UserState
}

/** Loads states the way the pipeline does (every user, then the boards once) at stream time t. */
const load = (states: ReadonlyArray<UserState>, t: number): EngineState => {
  const r = newEngineState()
  for (const st of states) loadLegacyUser(r, st, t)
  rebuildBoards(r)
  return r
}

/** A user's place in a board's ranking: [xp, seq], or undefined. */
const ranked = (s: EngineState, board: string, uid: number): [number, number] | undefined => {
  const [b, w, p] = board.split("|") as [string, "all" | "day" | "week" | "month", string]
  let out: [number, number] | undefined
  s.boards.tree(s.boards.find(b, w, p))?.forEach((u, xp, seq) => { if (u === uid) out = [xp, seq] })
  return out
}

describe("legacy JSON snapshots", () => {
  it("load into the table as the table engine would have built it, rankings included", () => {
    expect(fixture.cases.length).toBeGreaterThanOrEqual(8)
    // Most states hold period scores of periods closed by their checkpoint: those are not loaded.
    const openPeriods = (c: Case) => Object.keys(c.dump.boards).filter((k) => !k.endsWith("|all|all")).length
    expect(fixture.cases.filter((c) => openPeriods(c) < Object.keys(c.state.periods).length).length).toBeGreaterThanOrEqual(7)
    const byTime = new Map<number, Array<Case>>()
    for (const c of fixture.cases) byTime.set(c.streamTimeMs, [...(byTime.get(c.streamTimeMs) ?? []), c])
    for (const [t, cases] of byTime) {
      const r = load(cases.map((c) => stored(c)), t)
      for (const c of cases) {
        const uid = r.users.uidOf(c.state.userId)
        expect(dumpUser(r, uid), c.name).toEqual(c.dump)
        expect(ranked(r, "global|all|all", uid)).toEqual([c.dump.totalXp, c.dump.totalSeq])
        for (const [board, score] of Object.entries(c.dump.boards)) expect(ranked(r, board, uid), `${c.name} ${board}`).toEqual(score)
      }
    }
  })

  it("restore a snapshot written before streakReached with the streak its events counted (the whole run then)", () => {
    const c = byName("three-days/u1")
    const r = load([stored(c, (o) => { delete o["streakReached"] })], c.streamTimeMs)
    expect(dumpUser(r, r.users.uidOf("u1"))).toEqual(c.dump)
    // Before the streak counted through the event's day, an event counted its whole run.
    const late = byName("late-gap/u1")
    expect([late.dump.longestStreak, late.dump.streakReached]).toEqual([8, 4])
    const old = load([stored(late, (o) => { delete o["streakReached"] })], late.streamTimeMs)
    expect(dumpUser(old, old.users.uidOf("u1"))).toEqual({ ...late.dump, streakReached: 8 })
  })

  it("put a loaded user on the global board and fall back to the total's seq for an agent without one", () => {
    const c = byName("one-event/u1")
    const r = load([stored(c, (o) => { delete (o["agentSeq"] as Record<string, number>)["bot-1"] })], c.streamTimeMs)
    const uid = r.users.uidOf("u1")
    const all = [["global", boardScoreOf(r, uid, GLOBAL_ALL)?.seq], ["agent:bot-1", dumpUser(r, uid).boards["agent:bot-1|all|all"]?.[1]]]
    expect(all).toEqual([["global", 7], ["agent:bot-1", 7]])
    expect(ranked(r, "global|all|all", uid)).toEqual([10, 7])
    expect(ranked(r, "agent:bot-1|all|all", uid)).toEqual([10, 7])
  })

  it("skip periods closed at the checkpoint's stream time (end + grace), keep the all-time boards", () => {
    const c = byName("one-event/u1")
    const dayClose = Date.UTC(2026, 10, 27) + 10 * 60_000
    const at = (t: number): Array<string> => {
      const r = load([stored(c)], t)
      const uid = r.users.uidOf("u1")
      return [...(boardScoreOf(r, uid, GLOBAL_ALL) === undefined ? [] : ["global|all|all"]), ...Object.keys(dumpUser(r, uid).boards)]
    }
    expect(at(dayClose - 1)).toHaveLength(8)
    expect(at(dayClose).filter((k) => k.includes("|day|"))).toEqual([])
    expect(at(dayClose).filter((k) => k.includes("|all|"))).toEqual(["global|all|all", "agent:bot-1|all|all"])
  })
})
