// An erasure held at its clickhouse step by an open retroactive re-projection (ARCHITECTURE §10 ×
// §11) whose build already covers the erasure message, switched while no new event comes: the
// erasure must still reach done. The soak's failure (CI T1): the publisher waited for the first
// erasure, so the stream ended where v3 was built to; after the switch the analytics sink read the
// new projection's watermarks only at the next submit, and the erasure waited on them forever.
import * as fs from "node:fs"
import { afterAll, beforeAll, expect, it } from "vitest"
import { mintToken } from "../../src/gateway/auth/Auth.js"
import { JWT_SECRET, cleanup, db, freshNames, natsClient } from "../support/arena.js"
import type { Nats } from "../support/arena.js"
import { rulesApplyHarness, waitFor } from "../support/rulesApply.js"

const names = freshNames("eas")
let nats: Nats
const h = rulesApplyHarness(names, () => nats)

beforeAll(async () => { nats = await natsClient() })
afterAll(async () => {
  await nats?.nc.close()
  await cleanup(names)
})

it("an erasure held by a re-projection built past its message finishes after the switch with no new event", async () => {
  const fileA = h.rulesFile("eas-a", 20)
  const fileB = h.rulesFile("eas-b", 30)
  // Each erasure step pauses (the re-projection opens before the erasure reaches its clickhouse
  // step); the re-projection pauses once its rows are in and once built (the erasure holds meanwhile).
  const arena = await h.serve(fileA, { ARENA_ERASURE_STEP_PAUSE: "1s", ARENA_REPROJECTION_STEP_PAUSE: "4s" })
  try {
    const head = await h.publishRound(2)
    await arena.waitForSeq(head)
    const admin = { authorization: `Bearer ${await mintToken({ sub: "ops", scope: "admin", ttlSeconds: 600 }, JWT_SECRET)}` }
    const del = await fetch(`${arena.baseUrl}/v1/users/u3`, { method: "DELETE", headers: admin })
    expect(del.status).toBe(202)
    const id = (await del.json() as { erasure_id: string }).erasure_id
    // The erasure message is in the stream: the build below re-scores through it.
    const pg = db(names)
    let eraseSeq = 0
    try {
      eraseSeq = await waitFor("the erasure message", async () => {
        const r = await pg<{ erase_seq: string | null }[]>`SELECT erase_seq FROM arena_erasure WHERE id = ${id}`
        return r[0]?.erase_seq == null ? undefined : Number(r[0].erase_seq)
      })
    } finally { await pg.end() }
    const post = await fetch(`${arena.baseUrl}/v1/rules/apply`, {
      method: "POST", headers: { "content-type": "application/json", ...admin },
      body: JSON.stringify({ rules: JSON.parse(fs.readFileSync(fileB, "utf8")), retroactive: true })
    })
    expect(post.status).toBe(202)
    await waitFor("the erasure held by the re-projection", async () => /a re-projection is open; the user's stream messages are erased/.test(arena.log))
    await waitFor("the switch", async () => (await h.projections()).states.at(-1)?.[1] === "switched")
    const built = (await (await fetch(`${arena.baseUrl}/v1/rules/apply`, { headers: admin })).json() as { built_seq: number }).built_seq
    expect(built).toBeGreaterThanOrEqual(eraseSeq) // the switch replays nothing new: no submit reaches the sink
    // No event is published from here on.
    const last = await waitFor("the erasure done", async () => {
      const r = await (await fetch(`${arena.baseUrl}/v1/erasures/${id}`, { headers: admin })).json() as { status: string; step: string }
      return r.status === "done" ? r : undefined
    }, 60_000).catch(async () => {
      const r = await (await fetch(`${arena.baseUrl}/v1/erasures/${id}`, { headers: admin })).text()
      throw new Error(`erasure not done 60 s after the switch: ${r}\n${arena.log.slice(-4000)}`)
    })
    expect(last.status).toBe("done")
  } finally {
    await arena.stop()
  }
}, 240_000)
