// Sliding-window rate limiter (the two-window estimate: previous window's count weighted by how
// much of it still overlaps, plus the current count). O(1) time and memory per key; idle keys are
// evicted and the key count is capped, so memory stays bounded whatever clients send. A limit
// of 0 means no limit (ARENA_RATE_LIMIT_*=off): every request is allowed and nothing is tracked.

export interface RateDecision {
  readonly allowed: boolean
  /** Whole seconds until a request would be allowed (0 when allowed). */
  readonly retryAfterSeconds: number
}

interface Slot {
  start: number
  prev: number
  curr: number
}

const ALLOWED: RateDecision = { allowed: true, retryAfterSeconds: 0 }

export class RateLimiter {
  private readonly slots = new Map<string, Slot>()
  private lastSweep: number

  constructor(
    readonly limit: number,
    readonly windowMs: number,
    private readonly maxKeys = 100_000,
    private readonly now: () => number = Date.now
  ) {
    if (!(Number.isInteger(limit) && limit >= 0 && windowMs >= 1)) throw new Error("rate limit must be a whole number ≥ 0 (0: none) and the window positive")
    this.lastSweep = now()
  }

  get size(): number {
    return this.slots.size
  }

  /** Counts one request for `key` if it is allowed. */
  hit(key: string): RateDecision {
    if (this.limit === 0) return ALLOWED
    const now = this.now()
    if (now - this.lastSweep >= this.windowMs) this.sweep(now)
    const w = this.windowMs
    let s = this.slots.get(key)
    if (s === undefined) {
      if (this.slots.size >= this.maxKeys) this.evict(now)
      s = { start: now - (now % w), prev: 0, curr: 0 }
      this.slots.set(key, s)
    }
    const windows = Math.floor((now - s.start) / w)
    if (windows >= 1) {
      s.prev = windows === 1 ? s.curr : 0
      s.curr = 0
      s.start += windows * w
    }
    const elapsed = now - s.start
    const estimate = s.prev * (1 - elapsed / w) + s.curr
    if (estimate + 1 <= this.limit) {
      s.curr++
      return ALLOWED
    }
    return { allowed: false, retryAfterSeconds: Math.max(1, Math.ceil(this.waitMs(s, elapsed) / 1000)) }
  }

  /** Time until prev·(1 − t/w) + curr + 1 ≤ limit, assuming no more requests meanwhile. */
  private waitMs(s: Slot, elapsed: number): number {
    const w = this.windowMs, L = this.limit
    if (s.curr + 1 <= L) {
      // Still in this window: wait for the previous window's weight to decay enough.
      return s.prev === 0 ? 0 : Math.max(0, w * (1 - (L - 1 - s.curr) / s.prev) - elapsed)
    }
    // Next window: this window's count becomes `prev` and decays from there.
    const intoNext = s.curr === 0 ? 0 : Math.max(0, w * (1 - (L - 1) / s.curr))
    return w - elapsed + intoNext
  }

  /** Drops keys idle for two windows (their estimate is 0, so forgetting them changes nothing). */
  sweep(now = this.now()): void {
    this.lastSweep = now
    for (const [k, s] of this.slots) if (now - s.start >= 2 * this.windowMs) this.slots.delete(k)
  }

  private evict(now: number): void {
    this.sweep(now)
    // Still full of active keys: drop the oldest-inserted tenth (bounded memory beats fairness).
    if (this.slots.size >= this.maxKeys) {
      let n = Math.max(1, Math.floor(this.maxKeys / 10))
      for (const k of this.slots.keys()) {
        this.slots.delete(k)
        if (--n === 0) break
      }
    }
  }
}
