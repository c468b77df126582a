// Property-based fuzzing of the event decoder (src/domain/Event.ts decodeEventBytes, the pipeline's
// entry point, and encodeEventForPublish, POST /v1/events' per-item check) against hostile payloads:
// it never throws, always explains a refusal (reason, message, field paths), never coerces, and
// agrees with the oracle's independent reading of ARCHITECTURE §5 on every case.
import fc from "fast-check"
import { expect, it } from "vitest"
import { decodeEventBytes, encodeEventForPublish } from "../../src/domain/Event.js"
import { parseTimestamp } from "../oracle/calendar.js"
import { judge } from "../oracle/validate.js"
import { hostileBytes, mutatedEvent } from "./hostile.js"

const STRUCTURAL = new Set(["oversized", "malformed_json", "invalid_event"])
const REQUIRED = ["event_id", "user_id", "agent_name", "action_type", "timestamp"]
const RUNS = Number(process.env["FUZZ_RUNS"] ?? 4000)

/** The oracle's verdict on structure only (Nats-Msg-Id taken to match, no future-skew limit). */
const oracleStructure = (bytes: Uint8Array): { ok: boolean; reason: string } => {
  let id: unknown
  try { id = (JSON.parse(new TextDecoder().decode(bytes)) as { event_id?: unknown } | null)?.event_id } catch { id = undefined }
  const v = judge(bytes, typeof id === "string" ? id : undefined, Number.MAX_SAFE_INTEGER / 2)
  return v.ok ? { ok: true, reason: "" } : { ok: !STRUCTURAL.has(v.reason), reason: v.reason }
}

it("decodeEventBytes: never throws, explains every refusal, and agrees with the oracle", () => {
  let cases = 0, accepted = 0
  const reasons = new Map<string, number>()
  fc.assert(fc.property(hostileBytes, (bytes) => {
    cases++
    const d = decodeEventBytes(bytes)
    const o = oracleStructure(bytes)
    expect({ ok: d.ok, oracle: o.ok }).toEqual({ ok: o.ok, oracle: o.ok })
    if (d.ok) {
      accepted++
      expect(d.event).toEqual(JSON.parse(new TextDecoder().decode(bytes)))
      expect(d.timeMs).toBe(parseTimestamp(d.event.timestamp))
      return
    }
    const r = d.rejection
    reasons.set(r.reason, (reasons.get(r.reason) ?? 0) + 1)
    expect(r.reason).toBe(o.reason)
    expect(typeof r.message === "string" && r.message.length > 0).toBe(true)
    if (r.reason === "invalid_event") {
      expect(r.issues.length).toBeGreaterThan(0)
      for (const i of r.issues) expect([typeof i.path, typeof i.message]).toEqual(["string", "string"])
    }
  }), { numRuns: RUNS })
  console.log(`decodeEventBytes fuzz: ${cases} cases, ${accepted} accepted, refusals ${JSON.stringify(Object.fromEntries(reasons))}`)
  expect(cases).toBe(RUNS)
  expect(reasons.size).toBeGreaterThanOrEqual(3)
})

it("encodeEventForPublish (HTTP items): agrees with the oracle at every size, names the offending field, and pollutes nothing", () => {
  let cases = 0, oversized = 0
  fc.assert(fc.property(mutatedEvent, (e) => {
    cases++
    let bytes: Uint8Array
    try { bytes = new TextEncoder().encode(JSON.stringify(e)) } catch { return } // the generator's own limits
    const parsed: unknown = JSON.parse(new TextDecoder().decode(bytes))
    const d = encodeEventForPublish(parsed)
    // What HTTP accepts is what the pipeline accepts, over 16 KiB too (the oracle reads the stored bytes).
    expect(d.ok).toBe(oracleStructure(bytes).ok)
    if (d.ok) expect(d.json).toBe(new TextDecoder().decode(bytes))
    else if (d.rejection.reason === "oversized") oversized++
    if (!d.ok) {
      // Each issue names a field the event has (or a required one it lacks), never internals.
      const fields = new Set([...Object.keys(parsed !== null && typeof parsed === "object" ? parsed : {}), ...REQUIRED])
      for (const i of d.rejection.issues) expect({ path: i.path, named: i.path === "" || fields.has(i.path) || fields.has(i.path.split(/[.[]/)[0]!) }).toMatchObject({ named: true })
      expect(d.rejection.message).not.toMatch(/\n\s+at /)
    }
  }), { numRuns: RUNS })
  expect(({} as Record<string, unknown>)["admin"]).toBeUndefined()
  expect(Object.prototype).not.toHaveProperty("owner")
  console.log(`encodeEventForPublish fuzz: ${cases} mutated events, ${oversized} refused as oversized`)
  expect(oversized).toBeGreaterThan(0)
})
