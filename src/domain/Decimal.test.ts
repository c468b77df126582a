// Proves exact multiplier arithmetic: canonical decimal texts, floor(base × min(M, cap)), and
// that the number fast path and the BigInt path agree wherever both apply.
import { describe, expect, it } from "vitest"
import fc from "fast-check"
import type { Dec } from "./Decimal.js"
import { formatDec, multiply, parseDec, toBasisPoints } from "./Decimal.js"

const d = (s: string): Dec => {
  const x = parseDec(s)
  if (x === null) throw new Error(s)
  return x
}

/** Reference: everything in BigInt. */
const reference = (base: number, fs: ReadonlyArray<Dec>, cap: Dec) => {
  let n = 1n, k = 0
  for (const f of fs) { n *= BigInt(f.n); k += f.d }
  const over = n * 10n ** BigInt(cap.d) > BigInt(cap.n) * 10n ** BigInt(k)
  const [an, ad] = over ? [BigInt(cap.n), cap.d] : [n, k]
  return { total: formatDec(n, k), applied: formatDec(an, ad), xp: Number((BigInt(base) * an) / 10n ** BigInt(ad)) }
}

describe("decimals", () => {
  it("parses and formats canonically", () => {
    expect(d("2.0")).toEqual({ n: 2, d: 0 })
    expect(d("1.50")).toEqual({ n: 15, d: 1 })
    expect(toBasisPoints(d("1.25"))).toBe(12500)
    expect([formatDec(165, 2), formatDec(300, 2), formatDec(198, 2), formatDec(5, 3), formatDec(10n ** 30n, 30)]).toEqual(["1.65", "3", "1.98", "0.005", "1"])
    for (const bad of ["", "1.", ".5", "1.23456", "-1", "1e3", "0x10", " 1"]) expect(parseDec(bad)).toBeNull()
  })

  it("computes base 25 × 1.5 × 1.1 = 41.25 → 41", () => {
    expect(multiply(25, [d("1.5"), d("1.1")], d("3.0"))).toEqual({ total: "1.65", applied: "1.65", xp: 41 })
  })

  it("stays exact where binary floating point is not (e.g. 10 × 1.1 × 1.1 × 1.1 = 13.31)", () => {
    expect(10 * 1.1 * 1.1 * 1.1).not.toBe(13.31)
    expect(multiply(10, [d("1.1"), d("1.1"), d("1.1")], d("9"))).toEqual({ total: "1.331", applied: "1.331", xp: 13 })
    expect(multiply(100, [d("1.1"), d("1.1"), d("1.1")], d("9")).xp).toBe(133)
  })

  it("handles products beyond 2^53 (six 4-decimal factors) exactly", () => {
    const f = d("9.9999")
    const r = multiply(500, [f, f, f, f, f, f], d("3"))
    expect(r.applied).toBe("3")
    expect(r.xp).toBe(1500)
    expect(r).toEqual(reference(500, [f, f, f, f, f, f], d("3")))
    expect(r.total).toBe(formatDec(99_999n ** 6n, 24))
    expect(Number.isSafeInteger(99_999 ** 6)).toBe(false)
  })

  it("agrees with an all-BigInt reference on random factors", () => {
    const dec = fc.tuple(fc.integer({ min: 1, max: 999_999 }), fc.integer({ min: 0, max: 4 })).map(([n, k]) => d(formatDec(n, k)))
    fc.assert(fc.property(fc.integer({ min: 0, max: 100_000 }), fc.array(dec, { minLength: 1, maxLength: 6 }), dec, (base, fs, cap) => {
      expect(multiply(base, fs, cap)).toEqual(reference(base, fs, cap))
    }), { numRuns: 2000 })
  })
})
