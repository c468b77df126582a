// Proves the event decoder enforces every limit of ARCHITECTURE §5 with a path and a human
// message per bad field, classifies raw payloads (oversized / malformed_json / invalid_event),
// and that the hand-written fast path accepts exactly what XpEventSchema accepts.
import { describe, expect, it } from "vitest"
import fc from "fast-check"
import { Exit, Schema } from "effect"
import type { DecodeResult } from "./Event.js"
import { decodeEventBytes, decodeEventValue, encodeEventForPublish, EVENT_PARSE_OPTIONS, MAX_EVENT_BYTES, XpEventSchema } from "./Event.js"
import { fastAccept, METADATA_EXPANSION, metadataBytes, utf8Length } from "./EventFastPath.js"

const valid = {
  event_id: "evt-1",
  user_id: "user-1",
  agent_name: "claude-code",
  action_type: "task_completed",
  timestamp: "2026-11-26T09:30:00Z"
}

const enc = (s: string) => new TextEncoder().encode(s)

/** The issues of a rejected decode, as "path: message". */
const problems = (r: DecodeResult): Array<string> => {
  if (r.ok) throw new Error("expected a rejection")
  expect(r.rejection.reason).toBe("invalid_event")
  return r.rejection.issues.map((i) => `${i.path}: ${i.message}`)
}
const bad = (over: Record<string, unknown>): Array<string> => problems(decodeEventValue({ ...valid, ...over }))
const ok = (over: Record<string, unknown>): boolean => decodeEventValue({ ...valid, ...over }).ok

describe("field limits", () => {
  it("event_id: 1..128 of [A-Za-z0-9._:-], required", () => {
    expect(ok({ event_id: "A.z_0:9-" + "x".repeat(120) })).toBe(true)
    expect(bad({ event_id: "x".repeat(129) })).toEqual(["event_id: must be at most 128 characters"])
    expect(bad({ event_id: "" })).toEqual(["event_id: must not be empty"])
    expect(bad({ event_id: "a b" })).toEqual(["event_id: must match [A-Za-z0-9._:-]"])
    expect(bad({ event_id: "a@b" })).toEqual(["event_id: must match [A-Za-z0-9._:-]"])
    expect(bad({ event_id: 7 })).toEqual(["event_id: must be a string"])
    expect(problems(decodeEventValue({ ...valid, event_id: undefined }))).toEqual(["event_id: must be a string"])
    const { event_id: _, ...rest } = valid
    expect(problems(decodeEventValue(rest))).toEqual(["event_id: is required"])
  })
  it("user_id: 1..128 of [A-Za-z0-9._:@-]", () => {
    expect(ok({ user_id: "ada@example.com" })).toBe(true)
    expect(ok({ user_id: "u".repeat(128) })).toBe(true)
    expect(bad({ user_id: "u".repeat(129) })).toEqual(["user_id: must be at most 128 characters"])
    expect(bad({ user_id: "a/b" })).toEqual(["user_id: must match [A-Za-z0-9._:@-]"])
    expect(bad({ user_id: "é" })).toEqual(["user_id: must match [A-Za-z0-9._:@-]"])
  })
  it("username: optional, 0..64 characters", () => {
    expect(ok({ username: "" })).toBe(true)
    expect(ok({ username: "Ada Lovelace 👩‍💻" })).toBe(true)
    expect(ok({ username: "n".repeat(64) })).toBe(true)
    expect(bad({ username: "n".repeat(65) })).toEqual(["username: must be at most 64 characters"])
    expect(bad({ username: null })).toEqual(["username: must be a string"])
  })
  it("agent_name: 1..64 of [a-z0-9-]", () => {
    expect(ok({ agent_name: "a".repeat(64) })).toBe(true)
    expect(bad({ agent_name: "a".repeat(65) })).toEqual(["agent_name: must be at most 64 characters"])
    expect(bad({ agent_name: "Claude" })).toEqual(["agent_name: must match [a-z0-9-]"])
    expect(bad({ agent_name: "a_b" })).toEqual(["agent_name: must match [a-z0-9-]"])
    expect(bad({ agent_name: "" })).toEqual(["agent_name: must not be empty"])
  })
  it("action_type: any string here (the rules decide membership)", () => {
    expect(ok({ action_type: "not_in_rules" })).toBe(true)
    expect(bad({ action_type: ["task_completed"] })).toEqual(["action_type: must be a string"])
  })
  it("base_points: optional safe integer", () => {
    expect(ok({ base_points: 500 })).toBe(true)
    expect(ok({ base_points: -1 })).toBe(true)
    expect(bad({ base_points: 1.5 })).toEqual(["base_points: must be an integer"])
    expect(bad({ base_points: 2 ** 53 })).toEqual(["base_points: must be an integer"])
    expect(bad({ base_points: "10" })).toEqual(["base_points: must be a number"])
  })
  it("multipliers: optional array of at most 5 strings, bad items named by index", () => {
    expect(ok({ multipliers: [] })).toBe(true)
    expect(ok({ multipliers: ["a", "b", "c", "d", "e"] })).toBe(true)
    expect(bad({ multipliers: ["a", "b", "c", "d", "e", "f"] })).toEqual(["multipliers: must have at most 5 items"])
    expect(bad({ multipliers: ["a", "b", 3] })).toEqual(["multipliers[2]: must be a string"])
    expect(bad({ multipliers: "first_try" })).toEqual(["multipliers: must be an array of strings"])
  })
  it("timestamp: strict RFC 3339 of a real date, required", () => {
    expect(ok({ timestamp: "2026-11-26T09:30:00.123456+05:30" })).toBe(true)
    const msg = "timestamp: must be an RFC 3339 date-time with offset, e.g. 2026-11-26T09:30:00Z"
    for (const t of ["2026-02-30T09:30:00Z", "2026-11-26T09:30:00", "2026-11-26", "yesterday", "1764149400000"]) expect(bad({ timestamp: t })).toEqual([msg])
    expect(bad({ timestamp: 1764149400000 })).toEqual(["timestamp: must be a string"])
  })
  it("metadata: optional object of at most 4096 bytes serialized (UTF-8), nested included", () => {
    expect(ok({ metadata: { p: "x".repeat(4088) } })).toBe(true) // {"p":"…"} = 4096 bytes
    const over = "metadata: must be at most 4096 bytes when serialized as JSON"
    expect(bad({ metadata: { p: "x".repeat(4089) } })).toEqual([over])
    expect(ok({ metadata: { p: "é".repeat(2044) } })).toBe(true) // 2 bytes each: exactly 4096
    expect(bad({ metadata: { p: "é".repeat(2045) } })).toEqual([over])
    expect(bad({ metadata: { a: { b: [{ c: "x".repeat(4100) }] } } })).toEqual([over])
    expect(bad({ metadata: [1, 2] })).toEqual(["metadata: must be an object"])
    expect(bad({ metadata: null })).toEqual(["metadata: must be an object"])
  })
  it("rejects unknown top-level keys with the key as the path, and non-objects at the root", () => {
    expect(bad({ xp: 1000 })).toEqual(["xp: is not a known field"])
    expect(bad({ __proto__x: 1, Event_id: "x" })).toEqual(["__proto__x: is not a known field", "Event_id: is not a known field"])
    expect(problems(decodeEventBytes(enc(JSON.stringify(valid).replace("{", '{"__proto__":{"admin":true},'))))).toEqual(["__proto__: is not a known field"])
    for (const root of [null, [], "event", 42]) expect(problems(decodeEventValue(root))).toEqual([": must be a JSON object"])
  })
  it("reports one issue per bad field, all of them at once", () => {
    const r = decodeEventValue({ event_id: "", user_id: "x", agent_name: "A", action_type: 1, timestamp: "no", extra: true })
    expect(problems(r).map((p) => p.split(":")[0])).toEqual(["extra", "event_id", "agent_name", "action_type", "timestamp"])
    if (!r.ok) expect(r.rejection.message).toContain("event_id: must not be empty")
  })
})

describe("encodeEventForPublish (POST /v1/events items)", () => {
  /** A valid event whose JSON is exactly `bytes` long, grown through the timestamp's fraction digits. */
  const sized = (bytes: number): Record<string, unknown> => {
    const base = JSON.stringify({ ...valid, timestamp: "2026-11-26T09:30:00.Z" }).length
    return { ...valid, timestamp: `2026-11-26T09:30:00.${"0".repeat(bytes - base)}Z` }
  }

  it("refuses an event whose published JSON is over 16 KiB, saying so — a 20,000-digit fraction is a valid timestamp", () => {
    const e = { ...valid, timestamp: `2026-11-26T09:30:00.${"1".repeat(20_000)}Z` }
    expect(decodeEventValue(e).ok).toBe(true) // every field is valid…
    const r = encodeEventForPublish(e) // …but the event is not
    expect(r.ok).toBe(false)
    if (r.ok) return
    expect(r.rejection.reason).toBe("oversized")
    expect(r.rejection.message).toMatch(/^event is 20\d{3} bytes serialized; the limit is 16384$/)
    expect(r.rejection.issues).toEqual([{ path: "", message: expect.stringMatching(/^must be at most 16384 bytes when serialized as JSON/) }])
  })

  it("accepts exactly 16 KiB of published JSON and refuses one byte more (multi-byte text counted in UTF-8)", () => {
    const exact = encodeEventForPublish(sized(MAX_EVENT_BYTES))
    expect(exact.ok && enc(exact.json).length).toBe(MAX_EVENT_BYTES)
    expect(encodeEventForPublish(sized(MAX_EVENT_BYTES + 1)).ok).toBe(false)
    // 1,000 "é" are 1,000 UTF-16 units but 2,000 UTF-8 bytes: the byte count decides.
    const wide = { ...sized(MAX_EVENT_BYTES - 2000 - 13), metadata: { a: "é".repeat(1000) } }
    const w = encodeEventForPublish(wide)
    expect(w.ok).toBe(false)
    expect(!w.ok && w.rejection.reason).toBe("oversized")
  })

  it("names `metadata` when metadata is over 4 KiB, however big the event", () => {
    for (const e of [{ ...valid, metadata: { pad: "x".repeat(4100) } }, { ...sized(MAX_EVENT_BYTES + 10), metadata: { pad: "x".repeat(4100) } }]) {
      const r = encodeEventForPublish(e)
      expect(!r.ok && r.rejection.reason).toBe("invalid_event")
      expect(!r.ok && r.rejection.issues.map((i) => i.path)).toEqual(["metadata"])
    }
  })

  it("publishes JSON that the pipeline's decoder accepts byte for byte, and refuses exactly what it would dead-letter", () => {
    // Every size across both limits (event 16 KiB, metadata 4 KiB), with ASCII and 2-byte text.
    const cases: Array<Record<string, unknown>> = []
    for (let n = MAX_EVENT_BYTES - 12; n <= MAX_EVENT_BYTES + 12; n++) cases.push(sized(n))
    for (let m = -12; m <= 12; m++) {
      for (const [total, ch] of [[12_000, "x"], [MAX_EVENT_BYTES - 40, "x"], [12_000, "é"]] as const) {
        const pad = ch.repeat(Math.floor((4096 - 10 + m) / (ch === "x" ? 1 : 2))) // {"pad":"…"} is 10 bytes + the text
        cases.push({ ...sized(total - 4096 - 12 - m), metadata: { pad } })
      }
    }
    let accepted = 0, refused = 0
    for (const e of cases) {
      const r = encodeEventForPublish(e)
      const stored = decodeEventBytes(enc(JSON.stringify(e)))
      expect(r.ok).toBe(stored.ok)
      if (r.ok && stored.ok) {
        accepted++
        expect(stored.event).toEqual(r.event)
        expect(r.json).toBe(JSON.stringify(e))
      } else refused++
    }
    expect(accepted > 20 && refused > 20).toBe(true)
  })
})

describe("decodeEventBytes", () => {
  it("decodes a valid payload and normalizes its timestamp once", () => {
    const r = decodeEventBytes(enc(JSON.stringify({ ...valid, timestamp: "2026-11-26T10:30:00+01:00" })))
    expect(r.ok && r.timeMs).toBe(Date.UTC(2026, 10, 26, 9, 30))
  })
  it("accepts exactly 16 KiB and rejects 16 KiB + 1 byte as oversized", () => {
    const json = JSON.stringify(valid)
    const exact = json + " ".repeat(MAX_EVENT_BYTES - json.length)
    expect(enc(exact).length).toBe(16_384)
    expect(decodeEventBytes(enc(exact)).ok).toBe(true)
    const r = decodeEventBytes(enc(exact + " "))
    expect(!r.ok && r.rejection.reason).toBe("oversized")
  })
  it("rejects invalid UTF-8 and invalid JSON as malformed_json", () => {
    const json = enc(JSON.stringify({ ...valid, username: "ab" }))
    const at = json.indexOf(0x61) // 'a' of "ab"… any byte inside a string value
    for (const seq of [[0xff], [0xc0, 0xaf], [0xed, 0xa0, 0x80], [0xe2, 0x82]]) {
      const b = new Uint8Array([...json.slice(0, at), ...seq, ...json.slice(at + 1)])
      const r = decodeEventBytes(b)
      expect(!r.ok && r.rejection.reason).toBe("malformed_json")
      expect(!r.ok && r.rejection.message).toBe("payload is not valid UTF-8")
    }
    for (const s of ["", "{", "{'a':1}", '{"event_id":"x",}', "NaN"]) {
      const r = decodeEventBytes(enc(s))
      expect(!r.ok && r.rejection.reason).toBe("malformed_json")
    }
  })
  it("survives hostile nesting inside metadata without throwing", () => {
    const deep = "[".repeat(5000) + "]".repeat(5000)
    const r = decodeEventBytes(enc(JSON.stringify(valid).replace("}", `,"metadata":{"d":${deep}}}`)))
    expect(r.ok).toBe(false)
  })
})

describe("fast path and Schema agree", () => {
  const schemaAccepts = (u: unknown): boolean => Exit.isSuccess(Schema.decodeUnknownExit(XpEventSchema, EVENT_PARSE_OPTIONS)(u))
  const str = (max: number, chars: string) => fc.oneof(
    fc.string({ unit: fc.constantFrom(...chars), minLength: 0, maxLength: max + 1 }),
    fc.string({ maxLength: 4 }),
    fc.constantFrom("", "x".repeat(max), "x".repeat(max + 1)),
    fc.constantFrom<unknown>(1, null, undefined, ["x"], {})
  )
  const idChars = "aZ09._:-@ /é"
  const value = fc.record({
    event_id: str(128, idChars),
    user_id: str(128, idChars),
    agent_name: str(64, "az09-A_"),
    action_type: fc.oneof(fc.string({ maxLength: 3 }), fc.constantFrom<unknown>(1, null)),
    username: str(64, "abc é"),
    base_points: fc.oneof(fc.integer(), fc.double(), fc.constantFrom<unknown>("1", 2 ** 53, null)),
    multipliers: fc.oneof(fc.array(fc.string({ maxLength: 3 }), { maxLength: 7 }), fc.array(fc.oneof(fc.string(), fc.integer()), { maxLength: 3 }), fc.constantFrom<unknown>("x", null)),
    timestamp: fc.oneof(
      fc.date({ min: new Date("0001-01-01"), max: new Date("9999-12-31"), noInvalidDate: true }).map((d) => d.toISOString()),
      fc.constantFrom("2026-02-29T00:00:00Z", "2024-02-29T23:59:59.1-01:00", "2026-11-26T09:30:00", "2026-11-26T09:30:60Z"),
      fc.string({ maxLength: 25 })
    ),
    metadata: fc.oneof(fc.object({ maxDepth: 2 }), fc.integer({ min: 4080, max: 4100 }).map((n) => ({ p: "x".repeat(n - 8) })), fc.constantFrom<unknown>([], null, "m")),
    extra: fc.constant(1)
  }, { requiredKeys: [] })
  // Valid required fields, a random subset of the optional ones dropped: many near-misses.
  const mostlyValid = fc.tuple(
    value,
    fc.subarray(["event_id", "user_id", "agent_name", "action_type", "timestamp"] as const),
    fc.subarray(["username", "base_points", "multipliers", "metadata"] as const),
    fc.integer({ min: 0, max: 9 })
  ).map(([v, keep, drop, extra]) => {
    const o: Record<string, unknown> = { ...v }
    for (const k of keep) o[k] = valid[k]
    for (const k of drop) delete o[k]
    delete o["extra"]
    return extra === 0 ? { ...o, extra: 1 } : o
  })

  it("bounds re-serialized size by 6 × the source bytes (the small-payload shortcut)", () => {
    const numberish = fc.oneof(fc.constantFrom("1e20", "-1e20", "1e9", "1e-7", "1E-6", "0.0000001", "5e-324", "1.7976931348623157e308", "-0"), fc.double({ noNaN: true, noDefaultInfinity: true }).map(String))
    const text = fc.oneof(
      fc.json({ maxDepth: 3 }),
      fc.array(numberish, { maxLength: 40 }).map((xs) => `{"n":[${xs.join(",")}]}`),
      fc.string({ unit: fc.constantFrom("\\u00e9", "\\n", "\\u000b", "\\ud800", "\\/", "é", "a", "\\u2028") , maxLength: 30 }).map((s) => `{"s":"${s}"}`)
    )
    fc.assert(fc.property(text, (t) => {
      const v: unknown = JSON.parse(t)
      expect(metadataBytes(v)).toBeLessThanOrEqual(METADATA_EXPANSION * utf8Length(t))
    }), { numRuns: 3000 })
    // And at the threshold the shortcut agrees with a full check: 682 bytes of "1e20"s stay ≤ 4096.
    const worst = `{"m":[${Array(134).fill("1e20").join(",")}]}`
    expect(metadataBytes(JSON.parse(worst))).toBeLessThanOrEqual(4096)
  })

  // 5,000 generated events through both decoders: CPU-bound, so it gets a budget that a loaded CI machine meets.
  it("accepts exactly what XpEventSchema accepts", { timeout: 60_000 }, () => {
    let accepted = 0
    fc.assert(fc.property(fc.oneof(value, mostlyValid, mostlyValid), (u) => {
      const fast = fastAccept(u) !== null
      expect(fast).toBe(schemaAccepts(u))
      if (fast) accepted++
      // The same value as a raw payload, where small payloads take the metadata shortcut.
      const text = JSON.stringify(u)
      const v: unknown = JSON.parse(text)
      expect(decodeEventBytes(enc(text)).ok).toBe(schemaAccepts(v))
    }), { numRuns: 5000 })
    expect(accepted).toBeGreaterThan(100) // the generator must exercise the accepting side too
  })
})
