// `arena rules apply <file>` against a running `arena serve` (ARCHITECTURE §10 "Re-projection",
// from head): the service learns the new version without a restart, in force from the stream head
// + 1; events before keep the old version's XP, also when a kill -9 replays them; a restart with
// the old ARENA_RULES file does not undo the apply; a reused version string with other content and
// an unchanged apply get clear answers.
import * as fs from "node:fs"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { mintToken } from "../../src/gateway/auth/Auth.js"
import { JWT_SECRET, cleanup, db, freshNames, natsClient } from "../support/arena.js"
import type { Nats } from "../support/arena.js"
import { everyone, rulesApplyHarness } from "../support/rulesApply.js"

const names = freshNames("ra")
let nats: Nats
const { rulesFile, publishRound, board, cli, serve } = rulesApplyHarness(names, () => nats)

beforeAll(async () => { nats = await natsClient() })
afterAll(async () => {
  await nats?.nc.close()
  await cleanup(names)
})

describe("arena rules apply (from head)", () => {
  it("puts a version in force from head + 1 in the running service, survives kill -9 and a stale ARENA_RULES, refuses a reused version string", async () => {
    const fileA = rulesFile("ra-a", 10)
    const fileB = rulesFile("ra-b", 50)
    let arena = await serve(fileA)
    const head = await publishRound(5)
    await arena.waitForSeq(head)
    expect(await board(arena)).toEqual(everyone(50))

    const applied = await cli(arena, [fileB])
    expect(applied.stderr).toBe("")
    expect(applied.code).toBe(0)
    expect(applied.stdout).toContain(`rules ra-b are in force from seq ${head + 1} (stream head ${head} when applied)`)
    expect(arena.log).toContain(`rules apply: rules ra-b are in force from seq ${head + 1}`)
    // The same process: it learned the version without a restart.
    const rules = await (await fetch(`${arena.baseUrl}/v1/rules`)).json() as { version: string; effective_from_seq: number; history: Array<{ version: string; effective_from_seq: number }> }
    expect(rules).toMatchObject({ version: "ra-b", effective_from_seq: head + 1 })
    expect(rules.history.map((h) => [h.version, h.effective_from_seq])).toEqual([["ra-a", 1], ["ra-b", head + 1]])
    const head2 = await publishRound(2)
    await arena.waitForSeq(head2)
    expect(await board(arena)).toEqual(everyone(50 + 2 * 50))

    // An apply of the content in force changes nothing; a reused version string is refused (409).
    const again = await cli(arena, [fileB, "--json"])
    expect(again.code).toBe(0)
    expect(JSON.parse(again.stdout)).toMatchObject({ version: "ra-b", applied: false, effective_from_seq: head + 1 })
    const reused = await cli(arena, [rulesFile("ra-a", 99)])
    expect(reused.code).toBe(1)
    expect(reused.stderr).toContain("rules version \"ra-a\" is already recorded with other content")
    expect(reused.stderr).toContain("409 rules_version_conflict")

    // Producers and anonymous callers cannot apply rules.
    const producer = await mintToken({ sub: "p", scope: "events:write", ttlSeconds: 600 }, JWT_SECRET)
    const body = JSON.stringify({ rules: JSON.parse(fs.readFileSync(fileA, "utf8")) })
    expect((await fetch(`${arena.baseUrl}/v1/rules/apply`, { method: "POST", body, headers: { "content-type": "application/json" } })).status).toBe(401)
    expect((await fetch(`${arena.baseUrl}/v1/rules/apply`, { method: "POST", body, headers: { "content-type": "application/json", authorization: `Bearer ${producer}` } })).status).toBe(403)
    const admin = await mintToken({ sub: "ops", scope: "admin", ttlSeconds: 600 }, JWT_SECRET)
    const bad = await fetch(`${arena.baseUrl}/v1/rules/apply`, { method: "POST", body: JSON.stringify({ rules: { version: "x" } }), headers: { "content-type": "application/json", authorization: `Bearer ${admin}` } })
    expect(bad.status).toBe(400)
    expect(((await bad.json()) as { error: { code: string } }).error.code).toBe("invalid_rules")

    // kill -9 and a restart with the OLD file: the applied version stays in force, the replay is exact.
    await arena.kill()
    arena = await serve(fileA)
    await arena.waitForSeq(head2)
    expect(arena.log).toContain("were put in force by `arena rules apply`")
    expect(await board(arena)).toEqual(everyone(150))
    const head3 = await publishRound(1)
    await arena.waitForSeq(head3)
    expect(await board(arena)).toEqual(everyone(200))
    expect(await arena.stop()).toBe(0)

    const sql = db(names)
    try {
      const stored = await sql<{ version: string; effective_from_seq: string; source: string; projection: number }[]>`SELECT version, effective_from_seq, source, projection FROM arena_rules_history ORDER BY id`
      expect(stored.map((r) => [r.version, Number(r.effective_from_seq), r.source, r.projection])).toEqual([["ra-a", 1, "start", 0], ["ra-b", head + 1, "apply", 0]])
    } finally { await sql.end() }
  })
})
