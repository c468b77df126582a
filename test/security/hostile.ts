// Hostile-input generators shared by the fuzz tests: mutations of a valid event (any field
// replaced by any JSON, unknown/prototype keys, huge, deep, binary, lone surrogates, SQL and
// header-injection text) and raw byte payloads. Deterministic per fast-check seed.
import fc from "fast-check"

export const SQL_AND_HEADERS: ReadonlyArray<string> = [
  "'; DROP TABLE arena_user_state; --", "\" OR 1=1 --", "1; SELECT pg_sleep(10)", "$1", "%00", "\u0000", "a\r\nArena-Reason: forged",
  "x\r\n\r\nHTTP/1.1 200 OK", "\\", "../../etc/passwd", "<script>alert(1)</script>", "${jndi:ldap://x}", "\ud800", "\udfff", "😀".repeat(40),
  "constructor", "__proto__", "toString", "hasOwnProperty", "NaN", "Infinity", "-0", "1e309"
]

export const validEvent = (i: number): Record<string, unknown> => ({
  event_id: `fz-${i}`, user_id: `fz-user-${i % 7}`, agent_name: "fuzzer", action_type: "task_completed", timestamp: new Date(Date.UTC(2026, 0, 1)).toISOString()
})

/** Nested arrays/objects `depth` levels deep (JSON.parse makes them; JSON.stringify may overflow). */
export const deep = (depth: number, obj: boolean): string => (obj ? '{"a":'.repeat(depth) + "1" + "}".repeat(depth) : "[".repeat(depth) + "]".repeat(depth))

const anyString = fc.oneof(
  fc.string({ maxLength: 300, unit: "binary" }),
  fc.constantFrom(...SQL_AND_HEADERS),
  fc.integer({ min: 0, max: 70_000 }).map((n) => "x".repeat(n))
)
const anyJson: fc.Arbitrary<unknown> = fc.oneof(
  { weight: 4, arbitrary: fc.jsonValue({ maxDepth: 4 }) },
  { weight: 2, arbitrary: anyString },
  { weight: 1, arbitrary: fc.constantFrom(1e308, -1, 0, 1.5, 2 ** 53, -(2 ** 53), 0.1 + 0.2, -0) },
  // Deep, but shallow enough for the generator's own JSON.stringify.
  { weight: 1, arbitrary: fc.integer({ min: 100, max: 2_000 }).map((d) => JSON.parse(deep(d, d % 2 === 0)) as unknown) }
)
const KEYS = ["event_id", "user_id", "username", "agent_name", "action_type", "base_points", "multipliers", "timestamp", "metadata"] as const

/**
 * Valid values that make an event big, around the limits of §5: a timestamp with up to 20,000
 * fraction digits (valid RFC 3339) and metadata around 4 KiB — the event over 16 KiB serialized.
 */
const bigButValid: fc.Arbitrary<[string, unknown]> = fc.oneof(
  fc.integer({ min: 1, max: 20_000 }).map((n): [string, unknown] => ["timestamp", `2026-01-01T00:00:00.${"0".repeat(n)}Z`]),
  fc.integer({ min: 3_900, max: 4_200 }).map((n): [string, unknown] => ["metadata", { pad: "x".repeat(n) }])
)

/** An event with 1..3 fields replaced, removed or added (arbitrary keys, including __proto__). */
export const mutatedEvent: fc.Arbitrary<Record<string, unknown>> = fc.tuple(
  fc.nat(1_000_000),
  fc.array(fc.oneof(
    { weight: 6, arbitrary: fc.tuple(fc.oneof(fc.constantFrom(...KEYS), fc.constantFrom("__proto__", "constructor", "owner", "xp", "seq"), fc.string({ maxLength: 20 })), fc.option(anyJson)) },
    { weight: 1, arbitrary: bigButValid }
  ), { minLength: 1, maxLength: 3 })
).map(([i, edits]) => {
  const e = validEvent(i)
  for (const [k, v] of edits) {
    if (v === null) delete e[k]
    else Object.defineProperty(e, k, { value: v, enumerable: true, writable: true, configurable: true })
  }
  return e
})

/** Serialized hostile payloads: mutated events, any JSON, raw bytes, truncations, deep nesting. */
export const hostileBytes: fc.Arbitrary<Uint8Array> = fc.oneof(
  { weight: 4, arbitrary: mutatedEvent.map((e) => new TextEncoder().encode(JSON.stringify(e))) },
  { weight: 2, arbitrary: fc.jsonValue().map((v) => new TextEncoder().encode(JSON.stringify(v))) },
  { weight: 2, arbitrary: fc.uint8Array({ maxLength: 2000 }) },
  { weight: 1, arbitrary: fc.tuple(mutatedEvent, fc.nat()).map(([e, n]) => { const b = new TextEncoder().encode(JSON.stringify(e)); return b.slice(0, n % (b.length + 1)) }) },
  // As deep as 16 KiB allows: JSON.parse copes, a recursive walk or JSON.stringify may not.
  { weight: 1, arbitrary: fc.integer({ min: 1000, max: 8000 }).map((d) => new TextEncoder().encode(`{"metadata":{"x":${deep(d, false)}}}`)) }
)
