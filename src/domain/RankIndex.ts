// Order-statistic ranking for one leaderboard: a counted B+tree over the key
// (score desc, seq asc, userId asc) kept in typed-array pools, plus a userId → handle Map.
// Owns ordering, rank/range/keyset queries, rank-order iteration and the bulk loader.

/** One ranked entry. `seq` is the stream sequence of the event that set `score`. */
export interface RankEntry {
  readonly userId: string
  readonly score: number
  readonly seq: number
}

export type RankVisitor = (userId: string, score: number, seq: number, rank: number) => void

// At 1M entries the cost is cache misses, not comparisons (bench/ranking.bench.mjs). A leaf
// entry is one (score, seq, handle) record in a Float64Array, so a probe, its tie-break and the
// shift after an insert stay within the leaf's own cache lines (userIds live per handle and are
// read only by range reads and exact-key ties), and each node is fetched as a whole before it
// is searched (see `touch`). Each node has one spare slot (stride = cap + 1) so an insert can
// overflow first and split afterwards with plain copies.
const LEAF_CAP = 64
const LEAF_STRIDE = LEAF_CAP + 1
// Relaxed minimum (cap/4, not cap/2): fewer borrow/merge rounds under churn; height stays O(log n).
const LEAF_MIN = 16
const INNER_CAP = 64
const INNER_STRIDE = INNER_CAP + 1
const INNER_MIN = 16
// Bulk load leaves 1/8 headroom so the first updates after a rebuild do not split every node.
const BULK_FILL = 56

// Descent path scratch (node, child index per inner level). Module-level because every
// operation is synchronous and never re-enters another descent; height is < 10 for 2^31 entries.
const PATH_NODE = new Int32Array(48)
const PATH_IDX = new Int32Array(48)
// The second path of a move (the new key's), walked in lockstep with the first.
const PATH2_NODE = new Int32Array(48)
const PATH2_IDX = new Int32Array(48)

type F64 = Float64Array<ArrayBuffer>
type I32 = Int32Array<ArrayBuffer>

const checkKey = (score: number, seq: number): void => {
  if (!(Number.isSafeInteger(score) && score >= 0)) {
    throw new RangeError(`RankIndex: score must be a non-negative safe integer, got ${score}`)
  }
  if (!(Number.isSafeInteger(seq) && seq > 0)) {
    throw new RangeError(`RankIndex: seq must be a positive safe integer, got ${seq}`)
  }
}

// Where `touch` leaves its sum: a module-level store the compiler cannot drop, so neither can
// it drop the loads.
// eslint-disable-next-line @typescript-eslint/no-unused-vars -- written, never read: that is the point
let touchSink = 0

/**
 * Loads one double per 64-byte line of keys[from, to). The loads do not depend on each other,
 * so the CPU overlaps their misses and the binary search that follows hits cache instead of
 * paying one dependent miss per probe (measured: -13% per update at 1M entries).
 */
const touch = (keys: F64, from: number, to: number): void => {
  let t = 0
  for (let k = from; k < to; k += 8) t += keys[k]!
  touchSink = t
}

export class RankIndex {
  private index = new Map<string, number>()
  // Handle h holds the user's current key at hKey[2h], hKey[2h + 1] (removal must find it).
  private hKey: F64 = new Float64Array(0)
  private hId: Array<string> = []
  private hFree: I32 = new Int32Array(0)
  private hFreeTop = 0
  private hHigh = 0
  // Leaf pool: entry p of leaf L is slot L * LEAF_STRIDE + p, record at lRec[3 * slot ..]:
  // score, seq, handle.
  private lRec: F64 = new Float64Array(0)
  private lN: I32 = new Int32Array(0)
  private lNext: I32 = new Int32Array(0)
  private lPrev: I32 = new Int32Array(0)
  private leafHigh = 0
  private leafFree = -1
  // Inner pool: child j of node I is slot I * INNER_STRIDE + j; iLink holds (child, entries
  // under it) at 2 * slot; the key at slot j >= 1 is child j's lower bound (slot 0 unused).
  private iKey: F64 = new Float64Array(0)
  private iId: Array<string> = []
  private iLink: I32 = new Int32Array(0)
  private iN: I32 = new Int32Array(0)
  private innerHigh = 0
  private innerFree = -1
  private root = 0
  /** Number of inner levels above the leaves (0: the root is a leaf). */
  private height = 0
  private head = 0
  private version = 0

  constructor() {
    this.clear()
  }

  /** Builds an index from entries in any order (a later duplicate userId wins); radix-sorts keys. */
  static fromUnsorted(entries: Iterable<RankEntry>): RankIndex {
    const idx = new RankIndex()
    idx.load(entries)
    return idx
  }

  get size(): number {
    return this.index.size
  }

  /** Number of inner levels above the leaves (diagnostics and tests). */
  get depth(): number {
    return this.height
  }

  has(userId: string): boolean {
    return this.index.has(userId)
  }

  get(userId: string): { score: number; seq: number } | undefined {
    const h = this.index.get(userId)
    return h === undefined ? undefined : { score: this.hKey[2 * h]!, seq: this.hKey[2 * h + 1]! }
  }

  /** Current score of a user without allocating (undefined when absent). */
  scoreOf(userId: string): number | undefined {
    const h = this.index.get(userId)
    return h === undefined ? undefined : this.hKey[2 * h]!
  }

  clear(): void {
    this.index = new Map()
    this.hKey = new Float64Array(32)
    this.hId = fillStrings([], 16)
    this.hFree = new Int32Array(16)
    this.hFreeTop = 0
    this.hHigh = 0
    this.resetTree(4, 4)
    this.root = this.allocLeaf()
    this.head = this.root
    this.height = 0
    this.version++
  }

  /** Inserts the user or moves it to its new key. */
  set(userId: string, score: number, seq: number): void {
    checkKey(score, seq)
    let h = this.index.get(userId)
    if (h === undefined) {
      h = this.allocHandle()
      this.index.set(userId, h)
      this.hId[h] = userId
    } else {
      const os = this.hKey[2 * h]!
      const oq = this.hKey[2 * h + 1]!
      if (os === score && oq === seq) return
      this.hKey[2 * h] = score
      this.hKey[2 * h + 1] = seq
      this.moveKey(os, oq, score, seq, userId, h)
      this.version++
      return
    }
    this.hKey[2 * h] = score
    this.hKey[2 * h + 1] = seq
    this.insertKey(score, seq, userId, h)
    this.version++
  }

  remove(userId: string): boolean {
    const h = this.index.get(userId)
    if (h === undefined) return false
    this.removeKey(this.hKey[2 * h]!, this.hKey[2 * h + 1]!, userId, h)
    this.index.delete(userId)
    this.hId[h] = ""
    if (this.hFreeTop === this.hFree.length) this.hFree = grow32(this.hFree, this.hFree.length * 2)
    this.hFree[this.hFreeTop++] = h
    this.version++
    return true
  }

  /** 1-based rank of the user, O(log n). */
  rankOf(userId: string): number | undefined {
    const h = this.index.get(userId)
    return h === undefined ? undefined : this.countBeforeKey(this.hKey[2 * h]!, this.hKey[2 * h + 1]!, userId) + 1
  }

  /** Number of entries strictly better than the key (score, seq): the keyset-cursor offset. */
  countBefore(score: number, seq: number): number {
    // "" sorts before every userId, so an entry with exactly (score, seq) is not counted.
    return this.countBeforeKey(score, seq, "")
  }

  /**
   * Number of entries at or better than the key (score, seq): the offset of the page that
   * follows a keyset cursor naming the last entry seen. Seqs are integers, so (score, seq + 1)
   * is the first key after every entry that holds exactly (score, seq).
   */
  countThrough(score: number, seq: number): number {
    return this.countBeforeKey(score, seq + 1, "")
  }

  /** Entries at ranks offset+1 .. offset+limit, best first. */
  range(offset: number, limit: number): Array<RankEntry> {
    const out: Array<RankEntry> = []
    this.forEachInRange(offset, limit, (userId, score, seq) => {
      out.push({ userId, score, seq })
    })
    return out
  }

  /** Calls fn for ranks offset+1 .. offset+limit without allocating; returns how many it visited. */
  forEachInRange(offset: number, limit: number, fn: RankVisitor): number {
    const size = this.index.size
    let rank = Math.max(0, Math.floor(offset))
    if (rank >= size || !(limit > 0)) return 0
    const count = Math.min(Math.floor(limit), size - rank)
    // Descend by subtree counts to the leaf holding rank offset+1.
    let node = this.root
    let r = rank
    const link = this.iLink
    for (let d = 0; d < this.height; d++) {
      let at = 2 * node * INNER_STRIDE
      for (let c = link[at + 1]!; r >= c; c = link[at + 1]!) {
        r -= c
        at += 2
      }
      node = link[at]!
    }
    const version = this.version
    for (let k = 0; k < count; k++) {
      while (r >= this.lN[node]!) {
        node = this.lNext[node]!
        r = 0
      }
      const at = 3 * (node * LEAF_STRIDE + r++)
      const rec = this.lRec
      fn(this.hId[rec[at + 2]!]!, rec[at]!, rec[at + 1]!, ++rank)
      if (this.version !== version) throw new Error("RankIndex modified during forEachInRange")
    }
    return count
  }

  /** Calls fn for every entry in rank order. */
  forEach(fn: RankVisitor): void {
    this.forEachInRange(0, this.index.size, fn)
  }

  /** Every entry in rank order (for snapshots and archives); throws if the index changes meanwhile. */
  *entries(): IterableIterator<RankEntry> {
    const version = this.version
    for (let leaf = this.head; leaf !== -1; leaf = this.lNext[leaf]!) {
      const n = this.lN[leaf]!
      for (let p = 0; p < n; p++) {
        if (this.version !== version) throw new Error("RankIndex modified during iteration")
        const at = 3 * (leaf * LEAF_STRIDE + p)
        yield { userId: this.hId[this.lRec[at + 2]!]!, score: this.lRec[at]!, seq: this.lRec[at + 1]! }
      }
    }
  }

  [Symbol.iterator](): IterableIterator<RankEntry> {
    return this.entries()
  }

  /** Replaces the contents with `entries` (any order; a later duplicate userId wins). */
  load(entries: Iterable<RankEntry>): void {
    const index = new Map<string, number>()
    let cap = Array.isArray(entries) ? Math.max(16, entries.length) : 1024
    let hKey: F64 = new Float64Array(2 * cap)
    const ids: Array<string> = []
    for (const e of entries) {
      checkKey(e.score, e.seq)
      let h = index.get(e.userId)
      if (h === undefined) {
        h = ids.length
        if (h === cap) {
          cap = Math.ceil(cap * 1.5)
          hKey = growF64(hKey, 2 * cap)
        }
        ids.push(e.userId)
        index.set(e.userId, h)
      }
      hKey[2 * h] = e.score
      hKey[2 * h + 1] = e.seq
    }
    const n = ids.length
    const order = sortHandles(hKey, ids, n)
    this.index = index
    this.hKey = hKey
    this.hId = fillStrings(ids, hKey.length >>> 1)
    this.hFree = new Int32Array(16)
    this.hFreeTop = 0
    this.hHigh = n
    this.buildFrom(order, n)
    this.version++
  }

  // ---- pools -----------------------------------------------------------------------------

  private resetTree(leaves: number, inners: number): void {
    this.lRec = new Float64Array(3 * leaves * LEAF_STRIDE)
    this.lN = new Int32Array(leaves)
    this.lNext = new Int32Array(leaves)
    this.lPrev = new Int32Array(leaves)
    this.leafHigh = 0
    this.leafFree = -1
    this.iKey = new Float64Array(2 * inners * INNER_STRIDE)
    this.iId = fillStrings([], inners * INNER_STRIDE)
    this.iLink = new Int32Array(2 * inners * INNER_STRIDE)
    this.iN = new Int32Array(inners)
    this.innerHigh = 0
    this.innerFree = -1
  }

  private allocHandle(): number {
    if (this.hFreeTop > 0) return this.hFree[--this.hFreeTop]!
    if (2 * this.hHigh === this.hKey.length) {
      const cap = Math.ceil(this.hHigh * 1.5) + 16
      this.hKey = growF64(this.hKey, 2 * cap)
      fillStrings(this.hId, cap)
    }
    return this.hHigh++
  }

  private allocLeaf(): number {
    let leaf = this.leafFree
    if (leaf !== -1) {
      this.leafFree = this.lNext[leaf]!
    } else {
      leaf = this.leafHigh++
      if (leaf === this.lN.length) {
        // 1.5x growth: a doubling pool would waste up to half of the largest columns.
        const cap = Math.ceil(leaf * 1.5) + 4
        this.lRec = growF64(this.lRec, 3 * cap * LEAF_STRIDE)
        this.lN = grow32(this.lN, cap)
        this.lNext = grow32(this.lNext, cap)
        this.lPrev = grow32(this.lPrev, cap)
      }
    }
    this.lN[leaf] = 0
    this.lNext[leaf] = -1
    this.lPrev[leaf] = -1
    return leaf
  }

  private freeLeaf(leaf: number): void {
    const next = this.lNext[leaf]!
    const prev = this.lPrev[leaf]!
    if (prev !== -1) this.lNext[prev] = next
    else this.head = next
    if (next !== -1) this.lPrev[next] = prev
    this.lNext[leaf] = this.leafFree
    this.leafFree = leaf
  }

  private allocInner(): number {
    let node = this.innerFree
    if (node !== -1) {
      this.innerFree = this.iLink[2 * node * INNER_STRIDE]!
    } else {
      node = this.innerHigh++
      if (node === this.iN.length) {
        const cap = Math.ceil(node * 1.5) + 4
        this.iKey = growF64(this.iKey, 2 * cap * INNER_STRIDE)
        fillStrings(this.iId, cap * INNER_STRIDE)
        this.iLink = grow32(this.iLink, 2 * cap * INNER_STRIDE)
        this.iN = grow32(this.iN, cap)
      }
    }
    this.iN[node] = 0
    return node
  }

  private freeInner(node: number): void {
    this.iLink[2 * node * INNER_STRIDE] = this.innerFree
    this.innerFree = node
  }

  // ---- search ----------------------------------------------------------------------------

  /** Index of the child of `node` whose key range holds (s, q, id): the last j with key j <= it. */
  private route(node: number, s: number, q: number, id: string): number {
    this.touchInner(node)
    return this.searchInner(node, s, q, id)
  }

  private touchInner(node: number): void {
    const base = 2 * node * INNER_STRIDE
    touch(this.iKey, base, base + 2 * this.iN[node]!)
  }

  private touchLeaf(leaf: number): void {
    const base = 3 * leaf * LEAF_STRIDE
    touch(this.lRec, base, base + 3 * this.lN[leaf]!)
  }

  private searchInner(node: number, s: number, q: number, id: string): number {
    const base = node * INNER_STRIDE
    const keys = this.iKey
    let lo = 1
    let hi = this.iN[node]!
    while (lo < hi) {
      const mid = (lo + hi) >>> 1
      const k = 2 * (base + mid)
      const ms = keys[k]!
      if (s > ms || (s === ms && (q < keys[k + 1]! || (q === keys[k + 1]! && id < this.iId[base + mid]!)))) hi = mid
      else lo = mid + 1
    }
    return lo - 1
  }

  /** Number of entries in `leaf` strictly before (s, q, id). */
  private leafLowerBound(leaf: number, s: number, q: number, id: string): number {
    this.touchLeaf(leaf)
    return this.searchLeaf(leaf, s, q, id)
  }

  private searchLeaf(leaf: number, s: number, q: number, id: string): number {
    const base = 3 * leaf * LEAF_STRIDE
    const rec = this.lRec
    let lo = 0
    let hi = this.lN[leaf]!
    while (lo < hi) {
      const mid = (lo + hi) >>> 1
      const k = base + 3 * mid
      const ms = rec[k]!
      if (ms > s || (ms === s && (rec[k + 1]! < q || (rec[k + 1]! === q && this.hId[rec[k + 2]!]! < id)))) lo = mid + 1
      else hi = mid
    }
    return lo
  }

  private countBeforeKey(s: number, q: number, id: string): number {
    let node = this.root
    let before = 0
    for (let d = 0; d < this.height; d++) {
      const j = this.route(node, s, q, id)
      const at = 2 * node * INNER_STRIDE
      for (let c = 0; c < j; c++) before += this.iLink[at + 2 * c + 1]!
      node = this.iLink[at + 2 * j]!
    }
    return before + this.leafLowerBound(node, s, q, id)
  }

  // ---- insert ----------------------------------------------------------------------------

  private insertKey(s: number, q: number, id: string, handle: number): void {
    let node = this.root
    const h = this.height
    for (let d = 0; d < h; d++) {
      const j = this.route(node, s, q, id)
      PATH_NODE[d] = node
      PATH_IDX[d] = j
      const at = 2 * (node * INNER_STRIDE + j)
      this.iLink[at + 1]!++
      node = this.iLink[at]!
    }
    this.insertAt(node, this.leafLowerBound(node, s, q, id), s, q, handle)
  }

  /** Inserts a record at position pos of the leaf at the end of the current path. */
  private insertAt(leaf: number, pos: number, s: number, q: number, handle: number): void {
    const n = this.lN[leaf]!
    const rec = this.lRec
    const at = 3 * (leaf * LEAF_STRIDE + pos)
    for (let k = 3 * (leaf * LEAF_STRIDE + n) - 1; k >= at; k--) rec[k + 3] = rec[k]!
    rec[at] = s
    rec[at + 1] = q
    rec[at + 2] = handle
    this.lN[leaf] = n + 1
    if (n + 1 > LEAF_CAP) this.splitLeaf(leaf)
  }

  /** Splits an overflowing leaf (LEAF_CAP + 1 entries) and posts the new right leaf upwards. */
  private splitLeaf(leaf: number): void {
    const right = this.allocLeaf()
    const total = this.lN[leaf]!
    const keep = total >>> 1
    const src = leaf * LEAF_STRIDE
    const dst = right * LEAF_STRIDE
    const rec = this.lRec
    rec.copyWithin(3 * dst, 3 * (src + keep), 3 * (src + total))
    this.lN[leaf] = keep
    this.lN[right] = total - keep
    const next = this.lNext[leaf]!
    this.lNext[right] = next
    this.lPrev[right] = leaf
    if (next !== -1) this.lPrev[next] = right
    this.lNext[leaf] = right
    this.postSplit(this.height - 1, leaf, keep, right, total - keep, rec[3 * dst]!, rec[3 * dst + 1]!, this.hId[rec[3 * dst + 2]!]!)
  }

  /** Registers `right` (whose lower bound is (s, q, id)) after `left` in the path node at level d. */
  private postSplit(d: number, left: number, leftCount: number, right: number, rightCount: number, s: number, q: number, id: string): void {
    if (d < 0) {
      const root = this.allocInner()
      const slot = root * INNER_STRIDE
      this.setLink(slot, left, leftCount)
      this.setLink(slot + 1, right, rightCount)
      this.setKey(slot + 1, s, q, id)
      this.iN[root] = 2
      this.root = root
      this.height++
      return
    }
    const node = PATH_NODE[d]!
    const j = PATH_IDX[d]! + 1
    const base = node * INNER_STRIDE
    const m = this.iN[node]!
    this.iLink[2 * (base + j - 1) + 1] = leftCount
    for (let k = base + m; k > base + j; k--) this.moveInner(k - 1, k)
    this.setLink(base + j, right, rightCount)
    this.setKey(base + j, s, q, id)
    this.iN[node] = m + 1
    if (m + 1 <= INNER_CAP) return
    const sib = this.allocInner()
    const total = m + 1
    const keep = total >>> 1
    const sbase = sib * INNER_STRIDE
    let moved = 0
    for (let k = keep; k < total; k++) {
      this.moveInner(base + k, sbase + k - keep)
      moved += this.iLink[2 * (base + k) + 1]!
      this.iId[base + k] = ""
    }
    this.iN[node] = keep
    this.iN[sib] = total - keep
    // The sibling's slot-0 key is its lower bound: it moves up instead of staying below.
    this.postSplit(d - 1, node, this.sumCounts(base, keep), sib, moved, this.iKey[2 * sbase]!, this.iKey[2 * sbase + 1]!, this.iId[sbase]!)
  }

  private sumCounts(base: number, m: number): number {
    let total = 0
    for (let k = 0; k < m; k++) total += this.iLink[2 * (base + k) + 1]!
    return total
  }

  private setLink(slot: number, child: number, count: number): void {
    this.iLink[2 * slot] = child
    this.iLink[2 * slot + 1] = count
  }

  private setKey(slot: number, s: number, q: number, id: string): void {
    this.iKey[2 * slot] = s
    this.iKey[2 * slot + 1] = q
    this.iId[slot] = id
  }

  private moveInner(from: number, to: number): void {
    this.iKey[2 * to] = this.iKey[2 * from]!
    this.iKey[2 * to + 1] = this.iKey[2 * from + 1]!
    this.iLink[2 * to] = this.iLink[2 * from]!
    this.iLink[2 * to + 1] = this.iLink[2 * from + 1]!
    this.iId[to] = this.iId[from]!
  }

  // ---- move ------------------------------------------------------------------------------

  /**
   * Moves handle h from key (os, oq) to (s, q). Both descents run level by level in lockstep,
   * each level's two nodes fetched before either is searched, so their cache misses overlap;
   * the removal and insertion then reuse both paths unless the removal had to rebalance.
   */
  private moveKey(os: number, oq: number, s: number, q: number, id: string, h: number): void {
    let a = this.root
    let b = a
    const height = this.height
    const link = this.iLink
    for (let d = 0; d < height; d++) {
      this.touchInner(a)
      if (b !== a) this.touchInner(b)
      const ja = this.searchInner(a, os, oq, id)
      const jb = this.searchInner(b, s, q, id)
      PATH_NODE[d] = a
      PATH_IDX[d] = ja
      PATH2_NODE[d] = b
      PATH2_IDX[d] = jb
      a = link[2 * (a * INNER_STRIDE + ja)]!
      b = link[2 * (b * INNER_STRIDE + jb)]!
    }
    this.touchLeaf(a)
    if (b !== a) this.touchLeaf(b)
    const pa = this.searchLeaf(a, os, oq, id)
    const pb = this.searchLeaf(b, s, q, id)
    const rec = this.lRec
    const at = 3 * (a * LEAF_STRIDE + pa)
    if (pa >= this.lN[a]! || rec[at + 2] !== h) throw new Error(`RankIndex corrupted: ${id} not at its key`)
    if (a === b) {
      // Same leaf, same path: shift the entries in between; no count changes.
      const to = 3 * (a * LEAF_STRIDE + (pb > pa ? pb - 1 : pb))
      if (to < at) for (let k = at - 1; k >= to; k--) rec[k + 3] = rec[k]!
      else for (let k = at; k < to; k++) rec[k] = rec[k + 3]!
      rec[to] = s
      rec[to + 1] = q
      rec[to + 2] = h
      return
    }
    for (let d = 0; d < height; d++) link[2 * (PATH_NODE[d]! * INNER_STRIDE + PATH_IDX[d]!) + 1]!--
    const na = this.lN[a]! - 1
    const end = 3 * (a * LEAF_STRIDE + na)
    for (let k = at; k < end; k++) rec[k] = rec[k + 3]!
    this.lN[a] = na
    if (na < LEAF_MIN && height > 0) {
      // Rebalancing may restructure the new key's path: insert by a fresh descent instead.
      this.rebalanceLeaf(a)
      this.insertKey(s, q, id, h)
      return
    }
    for (let d = 0; d < height; d++) {
      PATH_NODE[d] = PATH2_NODE[d]!
      PATH_IDX[d] = PATH2_IDX[d]!
      link[2 * (PATH_NODE[d]! * INNER_STRIDE + PATH_IDX[d]!) + 1]!++
    }
    this.insertAt(b, pb, s, q, h)
  }

  // ---- remove ----------------------------------------------------------------------------

  private removeKey(s: number, q: number, id: string, handle: number): void {
    let node = this.root
    const h = this.height
    for (let d = 0; d < h; d++) {
      const j = this.route(node, s, q, id)
      PATH_NODE[d] = node
      PATH_IDX[d] = j
      const at = 2 * (node * INNER_STRIDE + j)
      this.iLink[at + 1]!--
      node = this.iLink[at]!
    }
    const pos = this.leafLowerBound(node, s, q, id)
    const n = this.lN[node]! - 1
    const rec = this.lRec
    const at = 3 * (node * LEAF_STRIDE + pos)
    if (pos > n || rec[at + 2] !== handle) throw new Error(`RankIndex corrupted: ${id} not at its key`)
    const end = 3 * (node * LEAF_STRIDE + n)
    for (let k = at; k < end; k++) rec[k] = rec[k + 3]!
    this.lN[node] = n
    if (n < LEAF_MIN && h > 0) this.rebalanceLeaf(node)
  }

  /** Moves entries [from, from + k) of leaf slots to slot `to` (overlap-safe). */
  private moveEntries(from: number, to: number, k: number): void {
    this.lRec.copyWithin(3 * to, 3 * from, 3 * (from + k))
  }

  private rebalanceLeaf(_leaf: number): void {
    const d = this.height - 1
    const parent = PATH_NODE[d]!
    const j = PATH_IDX[d]!
    const pbase = parent * INNER_STRIDE
    // Pair the underfull leaf with a sibling under the same parent: (left, right) at (i, i + 1).
    const i = j > 0 ? j - 1 : 0
    const left = this.iLink[2 * (pbase + i)]!
    const right = this.iLink[2 * (pbase + i + 1)]!
    const ln = this.lN[left]!
    const rn = this.lN[right]!
    const lb = left * LEAF_STRIDE
    const rb = right * LEAF_STRIDE
    if (ln + rn <= LEAF_CAP) {
      this.moveEntries(rb, lb + ln, rn)
      this.lN[left] = ln + rn
      this.iLink[2 * (pbase + i) + 1] = ln + rn
      this.freeLeaf(right)
      this.removeChild(parent, i + 1)
      this.rebalanceInner(d)
      return
    }
    // Even the pair out: the sibling has more than the minimum, so both end above it.
    const half = (ln + rn) >>> 1
    if (ln < half) {
      const k = half - ln
      this.moveEntries(rb, lb + ln, k)
      this.moveEntries(rb + k, rb, rn - k)
    } else {
      const k = ln - half
      this.moveEntries(rb, rb + k, rn)
      this.moveEntries(lb + half, rb, k)
    }
    this.lN[left] = half
    this.lN[right] = ln + rn - half
    this.iLink[2 * (pbase + i) + 1] = half
    this.iLink[2 * (pbase + i + 1) + 1] = ln + rn - half
    const rec = this.lRec
    this.setKey(pbase + i + 1, rec[3 * rb]!, rec[3 * rb + 1]!, this.hId[rec[3 * rb + 2]!]!)
  }

  /** Removes child j (and key slot j) of an inner node. */
  private removeChild(node: number, j: number): void {
    const base = node * INNER_STRIDE
    const m = this.iN[node]! - 1
    for (let k = base + j; k < base + m; k++) this.moveInner(k + 1, k)
    this.iId[base + m] = ""
    this.iN[node] = m
  }

  /** Restores the minimum fan-out of the inner node on the path at level d. */
  private rebalanceInner(d: number): void {
    const node = PATH_NODE[d]!
    const m = this.iN[node]!
    if (d === 0) {
      if (m === 1) {
        // A root with a single child is pure overhead: the child becomes the root.
        this.root = this.iLink[2 * node * INNER_STRIDE]!
        this.height--
        this.freeInner(node)
      }
      return
    }
    if (m >= INNER_MIN) return
    const parent = PATH_NODE[d - 1]!
    const j = PATH_IDX[d - 1]!
    const pbase = parent * INNER_STRIDE
    const i = j > 0 ? j - 1 : 0
    const left = this.iLink[2 * (pbase + i)]!
    const right = this.iLink[2 * (pbase + i + 1)]!
    const lm = this.iN[left]!
    const rm = this.iN[right]!
    const lb = left * INNER_STRIDE
    const rb = right * INNER_STRIDE
    // The parent's separator becomes the key between the two halves when they are joined.
    this.setKey(rb, this.iKey[2 * (pbase + i + 1)]!, this.iKey[2 * (pbase + i + 1) + 1]!, this.iId[pbase + i + 1]!)
    if (lm + rm <= INNER_CAP) {
      for (let k = 0; k < rm; k++) this.moveInner(rb + k, lb + lm + k)
      this.iN[left] = lm + rm
      const at = 2 * (pbase + i) + 1
      this.iLink[at] = this.iLink[at]! + this.iLink[at + 2]!
      this.iId[rb] = ""
      this.freeInner(right)
      this.removeChild(parent, i + 1)
      this.rebalanceInner(d - 1)
      return
    }
    const half = (lm + rm) >>> 1
    let moved = 0
    if (lm < half) {
      const k = half - lm
      for (let t = 0; t < k; t++) {
        this.moveInner(rb + t, lb + lm + t)
        moved += this.iLink[2 * (rb + t) + 1]!
      }
      for (let t = 0; t < rm - k; t++) this.moveInner(rb + t + k, rb + t)
    } else {
      const k = lm - half
      for (let t = rm - 1; t >= 0; t--) this.moveInner(rb + t, rb + t + k)
      for (let t = 0; t < k; t++) {
        this.moveInner(lb + half + t, rb + t)
        moved -= this.iLink[2 * (rb + t) + 1]!
        this.iId[lb + half + t] = ""
      }
    }
    // `moved` entries went from right to left (negative: left to right).
    const at = 2 * (pbase + i) + 1
    this.iLink[at] = this.iLink[at]! + moved
    this.iLink[at + 2] = this.iLink[at + 2]! - moved
    this.iN[left] = half
    this.iN[right] = lm + rm - half
    // The right node's new slot-0 key is its new lower bound: it moves up into the parent.
    this.setKey(pbase + i + 1, this.iKey[2 * rb]!, this.iKey[2 * rb + 1]!, this.iId[rb]!)
    this.iId[rb] = ""
  }

  // ---- bulk build ------------------------------------------------------------------------

  /** Builds the tree bottom-up from handles already in rank order. */
  private buildFrom(order: I32, n: number): void {
    const leaves = Math.max(1, Math.ceil(n / BULK_FILL))
    this.resetTree(leaves + (leaves >>> 3) + 4, Math.ceil(leaves / (BULK_FILL - 8)) + 8)
    // Per node of the level being built: its id, entry count and lower-bound key.
    let nodes: I32 = new Int32Array(leaves)
    let counts: I32 = new Int32Array(leaves)
    let firstKey: F64 = new Float64Array(2 * leaves)
    let firstId: Array<string> = new Array<string>(leaves)
    const hKey = this.hKey
    let prev = -1
    for (let L = 0; L < leaves; L++) {
      const from = Math.floor((L * n) / leaves)
      const to = Math.floor(((L + 1) * n) / leaves)
      const leaf = this.allocLeaf()
      const base = leaf * LEAF_STRIDE
      for (let t = from; t < to; t++) {
        const h = order[t]!
        const at = 3 * (base + t - from)
        this.lRec[at] = hKey[2 * h]!
        this.lRec[at + 1] = hKey[2 * h + 1]!
        this.lRec[at + 2] = h
      }
      this.lN[leaf] = to - from
      this.lPrev[leaf] = prev
      if (prev !== -1) this.lNext[prev] = leaf
      prev = leaf
      nodes[L] = leaf
      counts[L] = to - from
      firstKey[2 * L] = this.lRec[3 * base]!
      firstKey[2 * L + 1] = this.lRec[3 * base + 1]!
      firstId[L] = this.hId[this.lRec[3 * base + 2]!]!
    }
    this.head = nodes[0]!
    let width = leaves
    let height = 0
    while (width > 1) {
      const parents = Math.ceil(width / BULK_FILL)
      const pNodes: I32 = new Int32Array(parents)
      const pCounts: I32 = new Int32Array(parents)
      const pKey: F64 = new Float64Array(2 * parents)
      const pId: Array<string> = new Array<string>(parents)
      for (let P = 0; P < parents; P++) {
        const from = Math.floor((P * width) / parents)
        const to = Math.floor(((P + 1) * width) / parents)
        const node = this.allocInner()
        const base = node * INNER_STRIDE
        let total = 0
        for (let c = from; c < to; c++) {
          this.setLink(base + c - from, nodes[c]!, counts[c]!)
          if (c > from) this.setKey(base + c - from, firstKey[2 * c]!, firstKey[2 * c + 1]!, firstId[c]!)
          total += counts[c]!
        }
        this.iN[node] = to - from
        pNodes[P] = node
        pCounts[P] = total
        pKey[2 * P] = firstKey[2 * from]!
        pKey[2 * P + 1] = firstKey[2 * from + 1]!
        pId[P] = firstId[from]!
      }
      nodes = pNodes
      counts = pCounts
      firstKey = pKey
      firstId = pId
      width = parents
      height++
    }
    this.root = nodes[0]!
    this.height = height
  }

  // ---- self-check ------------------------------------------------------------------------

  /** Checks every structural invariant; throws on the first violation (tests and debugging). */
  assertInvariants(): void {
    const fail = (msg: string): never => {
      throw new Error(`RankIndex invariant: ${msg}`)
    }
    const leafEntry = (slot: number): RankEntry => ({ userId: this.hId[this.lRec[3 * slot + 2]!]!, score: this.lRec[3 * slot]!, seq: this.lRec[3 * slot + 1]! })
    const innerKey = (slot: number): RankEntry => ({ userId: this.iId[slot]!, score: this.iKey[2 * slot]!, seq: this.iKey[2 * slot + 1]! })
    const leaves: Array<number> = []
    const walk = (node: number, depth: number, lo: RankEntry | undefined, hi: RankEntry | undefined): number => {
      if (depth === this.height) {
        const n = this.lN[node]!
        if ((node !== this.root && n < LEAF_MIN) || n > LEAF_CAP) fail(`leaf ${node} holds ${n}`)
        leaves.push(node)
        for (let p = 0; p < n; p++) {
          const e = leafEntry(node * LEAF_STRIDE + p)
          if (lo !== undefined && precedes(e, lo)) fail(`${e.userId} sorts before its lower bound`)
          if (hi !== undefined && !precedes(e, hi)) fail(`${e.userId} does not sort before its upper bound`)
          const h = this.index.get(e.userId)
          if (h === undefined || h !== this.lRec[3 * (node * LEAF_STRIDE + p) + 2] || this.hKey[2 * h] !== e.score || this.hKey[2 * h + 1] !== e.seq) fail(`${e.userId} disagrees with its handle`)
          lo = e
        }
        return n
      }
      const m = this.iN[node]!
      if (m > INNER_CAP || m < (node === this.root ? 2 : INNER_MIN)) fail(`inner ${node} has ${m} children`)
      let total = 0
      for (let j = 0; j < m; j++) {
        const slot = node * INNER_STRIDE + j
        const clo = j === 0 ? lo : innerKey(slot)
        const chi = j === m - 1 ? hi : innerKey(slot + 1)
        if (clo !== undefined && chi !== undefined && !precedes(clo, chi)) fail(`inner ${node} keys out of order`)
        const c = walk(this.iLink[2 * slot]!, depth + 1, clo, chi)
        if (c !== this.iLink[2 * slot + 1]) fail(`inner ${node} child ${j} counts ${this.iLink[2 * slot + 1]}, holds ${c}`)
        total += c
      }
      return total
    }
    const total = walk(this.root, 0, undefined, undefined)
    if (total !== this.index.size) fail(`tree holds ${total}, index ${this.index.size}`)
    let leaf = this.head
    let prev = -1
    for (const expected of leaves) {
      if (leaf !== expected || this.lPrev[leaf] !== prev) fail(`leaf chain broken at ${expected}`)
      prev = leaf
      leaf = this.lNext[leaf]!
    }
    if (leaf !== -1) fail("leaf chain longer than the tree")
  }
}

const precedes = (a: RankEntry, b: RankEntry): boolean =>
  a.score > b.score || (a.score === b.score && (a.seq < b.seq || (a.seq === b.seq && a.userId < b.userId)))

const growF64 = (a: F64, len: number): F64 => {
  const b = new Float64Array(len)
  b.set(a.subarray(0, Math.min(a.length, len)))
  return b
}

const grow32 = (a: I32, len: number): I32 => {
  const b = new Int32Array(len)
  b.set(a.subarray(0, Math.min(a.length, len)))
  return b
}

// Push (not `length =`) keeps the array's elements packed, which V8 reads without hole checks.
const fillStrings = (a: Array<string>, len: number): Array<string> => {
  while (a.length < len) a.push("")
  return a
}

/**
 * Handles 0..n-1 in rank order: LSD radix sort on 16-bit digits (seq ascending, then score
 * descending), skipping digits every key shares; runs of equal (score, seq) are ordered by id.
 * Linear time: a comparison sort of 1M keys costs several times more.
 */
const sortHandles = (hKey: F64, ids: Array<string>, n: number): I32 => {
  let src: I32 = new Int32Array(n)
  let dst: I32 = new Int32Array(n)
  for (let i = 0; i < n; i++) src[i] = i
  const lo = new Uint32Array(n)
  const hi = new Uint32Array(n)
  const hist = new Int32Array(65536)
  const passes = (field: number, descending: boolean): void => {
    for (let i = 0; i < n; i++) {
      const v = hKey[2 * i + field]!
      lo[i] = v % 4294967296
      hi[i] = Math.floor(v / 4294967296)
    }
    for (let digit = 0; digit < 4; digit++) {
      const word = digit < 2 ? lo : hi
      const shift = (digit & 1) * 16
      hist.fill(0)
      for (let i = 0; i < n; i++) hist[(word[i]! >>> shift) & 0xffff]!++
      if (hist.includes(n)) continue
      let acc = 0
      for (let b = 0; b < 65536; b++) {
        const bucket = descending ? 65535 - b : b
        const c = hist[bucket]!
        hist[bucket] = acc
        acc += c
      }
      for (let i = 0; i < n; i++) {
        const h = src[i]!
        dst[hist[(word[h]! >>> shift) & 0xffff]!++] = h
      }
      const t = src
      src = dst
      dst = t
    }
  }
  passes(1, false)
  passes(0, true)
  for (let i = 0; i + 1 < n; ) {
    const a = src[i]!
    let j = i + 1
    while (j < n && hKey[2 * src[j]!] === hKey[2 * a] && hKey[2 * src[j]! + 1] === hKey[2 * a + 1]) j++
    if (j - i > 1) src.set(Array.from(src.subarray(i, j)).sort((x, y) => (ids[x]! < ids[y]! ? -1 : 1)), i)
    i = j
  }
  return src
}
