// Exact decimal arithmetic for multipliers: a Dec is n / 10^d with integer n (reduced: no
// trailing zeros). Products run in plain numbers while provably exact (every intermediate a
// safe integer) and fall back to BigInt otherwise — never binary floating-point fractions.

/** An exact non-negative decimal n / 10^d, n a safe integer, d ≥ 0. */
export interface Dec {
  readonly n: number
  readonly d: number
}

/** At most 4 fraction digits: multipliers have basis-point precision. */
const DECIMAL_RE = /^(\d{1,6})(?:\.(\d{1,4}))?$/

/** Parses "1.5", "2.0", "3" into a reduced Dec; null if not a plain decimal with ≤ 4 fraction digits. */
export const parseDec = (s: string): Dec | null => {
  const m = DECIMAL_RE.exec(s)
  if (m === null) return null
  let digits = (m[1] ?? "") + (m[2] ?? "")
  let d = (m[2] ?? "").length
  while (d > 0 && digits.endsWith("0")) {
    digits = digits.slice(0, -1)
    d--
  }
  return { n: Number(digits), d }
}

/** Basis points (value × 10^4) of a Dec with d ≤ 4. */
export const toBasisPoints = (x: Dec): number => x.n * 10 ** (4 - x.d)

export const ONE: Dec = { n: 1, d: 0 }

/** Canonical decimal text: "1.65", "3", "0.05" (no trailing zeros, no exponent). */
export const formatDec = (n: number | bigint, d: number): string => {
  let s = String(n)
  if (d === 0) return s
  if (s.length <= d) s = "0".repeat(d - s.length + 1) + s
  let end = s.length
  while (end > s.length - d && s.charCodeAt(end - 1) === 48) end--
  const intPart = s.slice(0, s.length - d)
  return end === s.length - d ? intPart : intPart + "." + s.slice(s.length - d, end)
}

export const decText = (x: Dec): string => formatDec(x.n, x.d)

/** The outcome of multiplying: exact texts of the product and the capped product, and the XP. */
export interface MultiplierResult {
  readonly total: string
  readonly applied: string
  readonly xp: number
}

// 10^k for k ≤ 15 is a safe integer; beyond that the number path gives up.
const POW10: ReadonlyArray<number> = Array.from({ length: 16 }, (_, k) => 10 ** k)

const bigResult = (base: number, factors: ReadonlyArray<Dec>, cap: Dec): MultiplierResult => {
  let n = 1n
  let d = 0
  for (const f of factors) {
    n *= BigInt(f.n)
    d += f.d
  }
  const capN = BigInt(cap.n)
  const over = n * 10n ** BigInt(cap.d) > capN * 10n ** BigInt(d)
  const an = over ? capN : n
  const ad = over ? cap.d : d
  const xp = (BigInt(base) * an) / 10n ** BigInt(ad) // BigInt division truncates; operands ≥ 0, so floor
  return { total: formatDec(n, d), applied: formatDec(an, ad), xp: Number(xp) }
}

/**
 * `xp = floor(base × min(Π factors, cap))`, exactly. `base` is a non-negative safe integer.
 * Number path: a product of safe integers is exact iff the result is a safe integer (a true
 * product > 2^53-1 rounds to ≥ 2^53), so checking each step proves exactness.
 */
export const multiply = (base: number, factors: ReadonlyArray<Dec>, cap: Dec): MultiplierResult => {
  let n = 1
  let d = 0
  for (let i = 0; i < factors.length; i++) {
    const f = factors[i]!
    n *= f.n
    d += f.d
  }
  if (!Number.isSafeInteger(n) || d > 15 || cap.d > 15) return bigResult(base, factors, cap)
  const lhs = n * POW10[cap.d]!
  const rhs = cap.n * POW10[d]!
  if (!Number.isSafeInteger(lhs) || !Number.isSafeInteger(rhs)) return bigResult(base, factors, cap)
  const over = lhs > rhs
  const an = over ? cap.n : n
  const ad = over ? cap.d : d
  const x = base * an
  if (!Number.isSafeInteger(x)) return bigResult(base, factors, cap)
  const p = POW10[ad]!
  // x - x % p is an exact multiple of p, so the division is exact: this is floor(x / p).
  const xp = (x - (x % p)) / p
  return { total: formatDec(n, d), applied: formatDec(an, ad), xp }
}
