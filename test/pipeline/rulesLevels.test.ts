// A level is part of the scoring (ARCHITECTURE §10, README "Changing rules"): every event is scored
// by the version in force at its seq, and the level with it — a user's level is the one their last
// scored message (award or correction) gave them. A change of level thresholds from head (`arena
// rules apply` without --retroactive) shows on a user's level at their next award or correction:
// until then the profile, the board rows and the ledger keep the level (and the title) of the
// version that scored them, across a kill -9 too.
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { DEFAULT_RULES_DOCUMENT } from "../../src/domain/DefaultRules.js"
import { cleanup, freshNames, natsClient } from "../support/arena.js"
import type { Nats } from "../support/arena.js"
import { USERS, ledgerOf, rulesApplyHarness } from "../support/rulesApply.js"

const names = freshNames("rl")
let nats: Nats
const { rulesFile, publishRound, publishOne, cli, serve } = rulesApplyHarness(names, () => nats)

beforeAll(async () => { nats = await natsClient() })
afterAll(async () => {
  await nats?.nc.close()
  await cleanup(names)
})

interface Level { number: number; title: string; xp_into_level: number; xp_for_next: number | null }
const profile = async (url: string, user: string) =>
  (await (await fetch(`${url}/v1/users/${user}`)).json()) as { total_xp: number; level: Level }
const rowLevels = async (url: string): Promise<Record<string, number>> => {
  const body = await (await fetch(`${url}/v1/leaderboards/global?window=all&limit=100`)).json() as { entries: Array<{ user_id: string; level: number }> }
  return Object.fromEntries(body.entries.map((e) => [e.user_id, e.level]))
}
const all = (level: number) => Object.fromEntries(Array.from({ length: USERS }, (_, i) => [`u${i}`, level]))

describe("levels across a rules change from head", () => {
  it("a user keeps the level their last scored message gave them until their next award or correction", async () => {
    // Adept from 110 (not 300), titled "Journeyman".
    const lower = DEFAULT_RULES_DOCUMENT.levels.map((l) => (l.level === 3 ? { ...l, title: "Journeyman", xp: 110 } : l))
    let arena = await serve(rulesFile("rl-a", 10))
    const head = await publishRound(12) // 120 XP each: Apprentice (100) under the default table
    await arena.waitForSeq(head)
    const applied = await cli(arena, [rulesFile("rl-b", 10, lower)])
    expect(applied.code, applied.stderr).toBe(0)

    // No award since: every user is still an Apprentice of the default table (profile and rows).
    const apprentice = { number: 2, title: "Apprentice", xp_into_level: 20, xp_for_next: 180 }
    expect((await profile(arena.baseUrl, "u1")).level).toEqual(apprentice)
    expect(await rowLevels(arena.baseUrl)).toEqual(all(2))

    // u0's next award is scored by rl-b: 130 XP is past 110, level 3 under its table.
    const seq = await publishOne("u0")
    await arena.waitForSeq(seq)
    const journeyman = { number: 3, title: "Journeyman", xp_into_level: 20, xp_for_next: 570 }
    expect((await profile(arena.baseUrl, "u0")).level).toEqual(journeyman)
    expect((await profile(arena.baseUrl, "u1")).level).toEqual(apprentice)
    expect(await rowLevels(arena.baseUrl)).toEqual({ ...all(2), u0: 3 })
    const [last] = await ledgerOf(arena, "u0")
    expect(last).toMatchObject({ seq, level_before: 2, level_after: 3, rules_version: "rl-b" })

    // The same after kill -9 (replayed from the snapshot and the stream under the same history).
    await arena.kill()
    arena = await serve(rulesFile("rl-b", 10, lower))
    await arena.waitForSeq(seq)
    expect((await profile(arena.baseUrl, "u0")).level).toEqual(journeyman)
    expect((await profile(arena.baseUrl, "u1")).level).toEqual(apprentice)
    expect(await rowLevels(arena.baseUrl)).toEqual({ ...all(2), u0: 3 })
    expect(await arena.stop()).toBe(0)
  })
})
