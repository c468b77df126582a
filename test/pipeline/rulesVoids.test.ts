// Voids across `arena rules apply --retroactive` (ARCHITECTURE §10, README "Changing rules"): a
// void takes back what its event is worth in the projection that applies it. A void asked before
// the re-projection is re-scored by the shadow build (task_completed 20 → 30: it takes back 30);
// while the re-projection is open a void is 409 apply_running (adjusts are taken); a void that got
// past the door before it opened but is stored after the build's end names the old projection and
// is refused (projection_changed) by the new one, as is one naming it after the switch; a void asked
// after the switch takes back the re-scored award. Profiles and boards (REST), the ledger, the DLQ
// and ClickHouse equal the independent oracle (test/oracle/Oracle.ts reproject), also after a kill -9
// that replays from the new projection's snapshot, and in a ClickHouse rebuilt by `arena backfill`.
import { execFile } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { mintToken } from "../../src/gateway/auth/Auth.js"
import { JWT_SECRET, NATS_URL, cleanup, freshNames, natsClient, publishAll } from "../support/arena.js"
import type { Nats } from "../support/arena.js"
import { ledgerOf, rulesApplyHarness, waitFor } from "../support/rulesApply.js"
import { Oracle } from "../oracle/Oracle.js"
import { DEFAULT_TABLES } from "../oracle/rules.js"
import type { OracleRules } from "../oracle/rules.js"
import { readStream } from "../oracle/stream.js"
import { SourceIps, request } from "../reliability/lib/http.js"
import { checkClickHouse, checkDlq, checkRest } from "../reliability/lib/verify.js"

const ROOT = path.resolve(import.meta.dirname, "../..")
const names = freshNames("rv")
let nats: Nats
const { rulesFile, cli, serve } = rulesApplyHarness(names, () => nats)
/** The same two versions for the oracle, by hand: task_completed worth 20, then 30. */
const tables = (version: string, points: number): OracleRules => ({ ...DEFAULT_TABLES, version, points: { ...DEFAULT_TABLES.points, task_completed: points } })
const C = tables("rv-c", 20), D = tables("rv-d", 30)

beforeAll(async () => { nats = await natsClient() })
afterAll(async () => {
  await nats?.nc.close()
  await cleanup(names)
})

interface ApplyView { projection: number; state: string; built_seq: number | null }

describe("voids across a retroactive re-projection", () => {
  it("take back what the event is worth in the projection that applies them: re-scored by the build, refused while open (409) or when they name the old projection after the build's end", async () => {
    const fileC = rulesFile("rv-c", 20)
    const fileD = rulesFile("rv-d", 30)
    // Each step of the re-projection is held 4 s: the window in which it is open (state is waited on, not time).
    let arena = await serve(fileC, { ARENA_REPROJECTION_STEP_PAUSE: "4s" })
    await arena.waitForSeq(0)
    const admin = await mintToken({ sub: "ops", scope: "admin", ttlSeconds: 3600 }, JWT_SECRET)
    const now = new Date().toISOString()
    const events = Array.from({ length: 20 }, (_, i) => ({ event_id: `${names.id}-e${i}`, user_id: `u${i % 10}`, agent_name: "coder", action_type: "task_completed", timestamp: now }))
    const acks = await publishAll(nats.js, names.subject, events)
    await arena.waitForSeq(Math.max(...acks.map((a) => a.seq)))
    const post = (body: Record<string, unknown>) => request<{ seq: number; error?: { code: string; message: string } }>(arena.baseUrl, "POST", "/v1/corrections", { token: admin, json: body })
    const voidOf = (i: number, id: string) => ({ correction_id: `${names.id}-${id}`, kind: "void", event_id: events[i]!.event_id, reason: "test" })
    /** A void as the door writes it, naming projection 0: one that passed the door's check before the re-projection opened. */
    const raced = async (i: number, id: string) => {
      const body = { ...voidOf(i, id), by: "ops", event: { seq: acks[i]!.seq, user_id: events[i]!.user_id, agent_name: "coder", xp: 20, event_time: now, projection: 0 } }
      return (await nats.js.publish(`${names.prefix}.corrections`, JSON.stringify(body), { msgID: body.correction_id })).seq
    }
    const applyView = async () => (await request<ApplyView>(arena.baseUrl, "GET", "/v1/rules/apply", { token: admin })).json

    // Before: a void of u0's first award (20 under C) and an adjust of u1.
    const v0 = await post(voidOf(0, "v0"))
    expect([v0.status, v0.text]).toEqual([202, expect.stringContaining("accepted")])
    const a1 = await post({ correction_id: `${names.id}-a1`, kind: "adjust", user_id: "u1", xp: 7, reason: "test" })
    expect(a1.status).toBe(202)
    await arena.waitForSeq(a1.json.seq)
    expect((await ledgerOf(arena, "u0")).find((e) => e["kind"] === "correction")).toMatchObject({ requested_xp: -20, total_xp_after: 20 })

    // Retroactive D (waits for the switch); while it is open, voids are refused and adjusts taken.
    const applying = cli(arena, [fileD, "--retroactive"])
    await waitFor("the re-projection pending", async () => (await applyView())?.state === "pending")
    const whilePending = await post(voidOf(2, "v2"))
    expect([whilePending.status, whilePending.json.error?.code]).toEqual([409, "apply_running"])
    expect(whilePending.json.error?.message).toMatch(/retroactive apply of rules rv-d \(projection 1\) is pending.*cannot be voided until the switch/)
    await waitFor("the re-projection built", async () => (await applyView())?.state === "built")
    const whileBuilt = await post(voidOf(3, "v3"))
    expect([whileBuilt.status, whileBuilt.json.error?.code]).toEqual([409, "apply_running"])
    const a3 = await post({ correction_id: `${names.id}-a3`, kind: "adjust", user_id: "u3", xp: 5, reason: "test" })
    expect(a3.status).toBe(202)
    // Built: the build's range is closed, so this lands after its end (and before the switch).
    const racedSeq = await raced(4, "v4")
    const done = await applying
    expect(done.code, done.stderr).toBe(0)
    const view = await applyView()
    expect(view).toMatchObject({ projection: 1, state: "switched" })
    const built = view.built_seq!
    expect(racedSeq).toBeGreaterThan(built)
    expect(v0.json.seq).toBeLessThanOrEqual(built)

    // After the switch: a void reads the new projection's award (30); one naming projection 0 is refused.
    const v5 = await post(voidOf(5, "v5"))
    expect(v5.status).toBe(202)
    const late = await raced(6, "v6")
    await arena.waitForSeq(late)

    const stored = await readStream(nats.js, nats.jsm, names.stream)
    const oracle = new Oracle(`${names.prefix}.corrections`, { rules: [{ fromSeq: 1, rules: C }] })
    for (const m of stored) if (m.seq <= built) oracle.apply(m)
    oracle.reproject(D, { projection: 1, builtThrough: built })
    for (const m of stored) if (m.seq > built) oracle.apply(m)
    // What the oracle says, in words: u0's void takes back 30, u4's and u6's are refused, u5's takes 30.
    expect(Object.fromEntries([...oracle.users].map(([id, u]) => [id, u.totalXp]))).toEqual({
      u0: 30, u1: 67, u2: 60, u3: 65, u4: 60, u5: 30, u6: 60, u7: 60, u8: 60, u9: 60
    })
    expect([...oracle.rejections]).toEqual([[racedSeq, "projection_changed"], [late, "projection_changed"]])

    const ips = new SourceIps(50)
    expect((await checkRest(arena.baseUrl, oracle, ips)).problems).toEqual([])
    const voidEntry = (await ledgerOf(arena, "u0")).find((e) => e["kind"] === "correction")
    expect(voidEntry).toMatchObject({ correction: "void", event_seq: acks[0]!.seq, requested_xp: -30, xp: -30, total_xp_after: 30, rules_version: "rv-d" })
    expect((await ledgerOf(arena, "u5")).find((e) => e["kind"] === "correction")).toMatchObject({ requested_xp: -30, total_xp_after: 30 })
    expect((await ledgerOf(arena, "u4")).some((e) => e["kind"] === "correction")).toBe(false)
    expect(await checkDlq(nats.js, nats.jsm, names.dlqStream, oracle)).toEqual([])

    // A kill -9 now: the next life replays from the new projection's snapshot (the switch's) to the same state.
    await arena.kill()
    arena = await serve(fileD)
    await arena.waitForSeq(late)
    expect((await checkRest(arena.baseUrl, oracle, ips)).problems).toEqual([])
    expect(await checkDlq(nats.js, nats.jsm, names.dlqStream, oracle)).toEqual([])
    expect(await arena.stop()).toBe(0)
    expect((await checkClickHouse(names.dataDir, oracle, 1)).problems).toEqual([])

    // `arena backfill` into an empty ClickHouse rebuilds the same rows from the stream alone: it
    // replays the current projection's history and reads the voids its build re-scored first.
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "arena-rv-backfill-"))
    try {
      const out = await new Promise<{ code: number; stderr: string }>((resolve) => {
        execFile(process.execPath, [path.join(ROOT, "bin/arena"), "backfill"], {
          cwd: ROOT,
          env: { ...process.env, NATS_URL, DATABASE_URL: names.databaseUrl, ARENA_STREAM: names.stream, ARENA_SUBJECT_PREFIX: names.prefix, ARENA_DATA_DIR: dir, ARENA_RULES: fileD }
        }, (err, _stdout, stderr) => resolve({ code: err === null ? 0 : (err as { code?: number }).code ?? 1, stderr }))
      })
      expect(out.code, out.stderr).toBe(0)
      expect((await checkClickHouse(dir, oracle)).problems).toEqual([])
    } finally {
      fs.rmSync(dir, { recursive: true, force: true })
    }
  }, 300_000)
})
