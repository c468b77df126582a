// The partitioned gateway's correction door (ARCHITECTURE §9, §10) against fake partition answers:
// the single process's decode and answers, a void's award found in whichever partition holds it
// (the earliest when two do), 409 / `duplicate` by the correction_id stored at the void's seq,
// 404 for no award, an erased user's award and an unknown adjust user, 503 when a partition does
// not answer, and every message published on its user's partition subject with Nats-Msg-Id =
// correction_id.
import { describe, expect, it } from "vitest"
import { partitionKindSubject, partitionOfUser } from "../domain/Partition.js"
import type { Voidable } from "./PartitionDoor.js"
import { makePartitionedCorrections } from "./PartitionedCorrections.js"

const P = 4
const award = (seq: number, user: string) => ({ seq, user_id: user, agent_name: "cursor", xp: 10, event_time: "2026-11-01T10:00:00Z" })

const door = (answers: ReadonlyArray<Voidable | null> | Error, opts: { known?: boolean; idAt?: string } = {}) => {
  const published: Array<{ subject: string; id: string; message: Record<string, unknown> }> = []
  const port = makePartitionedCorrections({
    partitions: P,
    voidable: () => (answers instanceof Error ? Promise.reject(answers) : Promise.resolve(answers)),
    adjustable: (_u, k) => { expect(k).toBe(partitionOfUser(_u, P)); return Promise.resolve(opts.known ?? true) },
    msgIdAt: () => Promise.resolve(opts.idAt ?? null),
    publish: (subject, id, json) => { published.push({ subject, id, message: JSON.parse(json) as Record<string, unknown> }); return Promise.resolve({ ok: true, seq: 77, duplicate: false }) }
  })
  return { port, published }
}
const voidReq = { correction_id: "c1", kind: "void", event_id: "e1", reason: "dup" }

describe("the partitioned correction door", () => {
  it("publishes a void on its award's user's partition subject, with the award's facts; the earliest award when two partitions hold the id", async () => {
    const d = door([null, { award: award(9, "ann"), current: true, voidedAt: 0 }, { award: award(3, "c.d"), current: true, voidedAt: 0 }, null])
    expect(await d.port.submit(voidReq, "ops")).toEqual({ ok: true, status: "accepted", correction_id: "c1", seq: 77 })
    expect(d.published).toEqual([{ subject: partitionKindSubject(partitionOfUser("c.d", P), "corrections"), id: "c1", message: { ...voidReq, by: "ops", event: award(3, "c.d") } }])
  })

  it("answers 404 for no award and for an erased user's award, 409 when voided by another correction, duplicate when by this one; publishes nothing", async () => {
    expect(await door([null, null, null, null]).port.submit(voidReq, "ops")).toMatchObject({ ok: false, status: 404, code: "not_found", details: [{ path: "event_id", message: "is not an applied event" }] })
    expect(await door([{ award: award(3, "ann"), current: false, voidedAt: 0 }]).port.submit(voidReq, "ops")).toMatchObject({ ok: false, status: 404, details: [{ message: "belongs to no current user" }] })
    const other = door([{ award: award(3, "ann"), current: true, voidedAt: 12 }], { idAt: "c0" })
    expect(await other.port.submit(voidReq, "ops")).toMatchObject({ ok: false, status: 409, code: "already_voided", details: [{ path: "event_id", message: "was voided at seq 12" }] })
    const same = door([{ award: award(3, "ann"), current: true, voidedAt: 12 }], { idAt: "c1" })
    expect(await same.port.submit(voidReq, "ops")).toEqual({ ok: true, status: "duplicate", correction_id: "c1", seq: 12 })
    expect([...other.published, ...same.published]).toEqual([])
  })

  it("answers 503 when a partition does not answer, 400 naming the field, 404 for an unknown adjust user", async () => {
    expect(await door(new Error("partition 2 has no owner answering")).port.submit(voidReq, "ops")).toMatchObject({ ok: false, status: 503, code: "unavailable" })
    expect(await door([]).port.submit({ ...voidReq, kind: "other" }, "ops")).toMatchObject({ ok: false, status: 400, code: "invalid_correction", details: [{ path: "kind" }] })
    const adj = { correction_id: "c2", kind: "adjust", user_id: "e@f.io", xp: -5, reason: "r" }
    expect(await door([], { known: false }).port.submit(adj, "ops")).toMatchObject({ ok: false, status: 404, details: [{ path: "user_id" }] })
    const d = door([])
    expect(await d.port.submit(adj, "")).toMatchObject({ ok: true, status: "accepted" })
    expect(d.published).toEqual([{ subject: partitionKindSubject(partitionOfUser("e@f.io", P), "corrections"), id: "c2", message: adj }])
  })
})
