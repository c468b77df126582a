// Recent deltas of one topic, for resume (`since` + `epoch`): bounded by count and by bytes, and
// always contiguous (each delta's prev_seq is the previous one's seq), so a replay never has a gap.

interface Item {
  readonly prevSeq: number
  readonly seq: number
  readonly json: string
}

export class DeltaRing {
  private items: Array<Item> = []
  private head = 0
  private bytes = 0
  /** Retained deltas whose seq equals their prev_seq (see since). */
  private stalls = 0

  constructor(private readonly maxCount: number, private readonly maxBytes: number) {}

  get size(): number {
    return this.items.length - this.head
  }

  get totalBytes(): number {
    return this.bytes
  }

  push(prevSeq: number, seq: number, json: string): void {
    const last = this.items.length > this.head ? this.items[this.items.length - 1]! : null
    // A break in the chain would let a resume skip a delta: start over instead.
    if (last !== null && last.seq !== prevSeq) this.clear()
    this.items.push({ prevSeq, seq, json })
    this.bytes += json.length
    if (prevSeq === seq) this.stalls++
    while (this.size > 0 && (this.size > this.maxCount || this.bytes > this.maxBytes)) {
      const old = this.items[this.head]!
      this.bytes -= old.json.length
      if (old.prevSeq === old.seq) this.stalls--
      this.head++
    }
    // Compact lazily so eviction stays O(1) amortized.
    if (this.head > 64 && this.head * 2 > this.items.length) {
      this.items = this.items.slice(this.head)
      this.head = 0
    }
  }

  clear(): void {
    this.items = []
    this.head = 0
    this.bytes = 0
    this.stalls = 0
  }

  /**
   * The deltas that bring a client at `since` up to `currentSeq`: [] when it is already current,
   * null when they are not all retained (the caller then sends a snapshot).
   */
  since(since: number, currentSeq: number): ReadonlyArray<string> | null {
    // A delta that did not move seq (a group's membership changed between two events) leaves a
    // client at that seq either before or after it: only a snapshot is exact then.
    if (this.stalls > 0) for (let i = this.head; i < this.items.length; i++) if (this.items[i]!.seq === since && this.items[i]!.prevSeq === since) return null
    if (since === currentSeq) return []
    for (let i = this.head; i < this.items.length; i++) {
      const it = this.items[i]!
      if (it.prevSeq === since) {
        const tail = this.items.slice(i)
        return tail[tail.length - 1]!.seq === currentSeq ? tail.map((t) => t.json) : null
      }
    }
    return null
  }
}
