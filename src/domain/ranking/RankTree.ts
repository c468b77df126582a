// Order-statistic ranking for one leaderboard: a counted B+tree over the key (score desc, seq asc,
// uid asc) kept entirely in typed-array pools. No per-entry object and no map: the caller owns
// each user's current key (the user table holds it) and passes the old key with every change.

/** Called in rank order: dense user id, score, the seq that set it, 1-based rank. */
export type RankVisitor = (uid: number, score: number, seq: number, rank: number) => void

// At 1M entries the cost is cache misses, not comparisons. A leaf entry is one (score, seq, uid)
// record in a Float64Array, so a probe and its tie-breaks stay within the leaf's own cache lines,
// and each node is fetched as a whole before it is searched (see `touch`). Each node has one
// spare slot (stride = cap + 1) so an insert can overflow first and split afterwards.
const LEAF_CAP = 64
const LEAF_STRIDE = LEAF_CAP + 1
// Relaxed minimum (cap/4, not cap/2): fewer borrow/merge rounds under churn; height stays O(log n).
const LEAF_MIN = 16
const INNER_CAP = 64
const INNER_STRIDE = INNER_CAP + 1
const INNER_MIN = 16
// Bulk load leaves 1/8 headroom so the first updates after a rebuild do not split every node.
const BULK_FILL = 56

// Descent paths (node, child index per inner level). Module-level because every operation is
// synchronous and never re-enters another descent; height is < 10 for 2^31 entries.
const PATH_NODE = new Int32Array(48)
const PATH_IDX = new Int32Array(48)
const PATH2_NODE = new Int32Array(48)
const PATH2_IDX = new Int32Array(48)

type F64 = Float64Array<ArrayBuffer>
type I32 = Int32Array<ArrayBuffer>

const checkKey = (score: number, seq: number, uid: number): void => {
  if (!(Number.isSafeInteger(score) && score >= 0)) throw new RangeError(`RankTree: score must be a non-negative safe integer, got ${score}`)
  if (!(Number.isSafeInteger(seq) && seq > 0)) throw new RangeError(`RankTree: seq must be a positive safe integer, got ${seq}`)
  if (!(Number.isInteger(uid) && uid >= 0)) throw new RangeError(`RankTree: uid must be a non-negative integer, got ${uid}`)
}

let touchSink = 0

/** Loads one double per 64-byte line of keys[from, to): independent loads overlap their misses. */
const touch = (keys: F64, from: number, to: number): void => {
  let t = 0
  for (let k = from; k < to; k += 8) t += keys[k]!
  touchSink = t
}

/** True when key a sorts strictly before key b. */
const before = (as: number, aq: number, au: number, bs: number, bq: number, bu: number): boolean =>
  as > bs || (as === bs && (aq < bq || (aq === bq && au < bu)))

export class RankTree {
  // Leaf pool: entry p of leaf L is slot L * LEAF_STRIDE + p, record at lRec[3 * slot ..]: score, seq, uid.
  private lRec: F64 = new Float64Array(0)
  private lN: I32 = new Int32Array(0)
  private lNext: I32 = new Int32Array(0)
  private lPrev: I32 = new Int32Array(0)
  private leafHigh = 0
  private leafFree = -1
  // Inner pool: child j of node I is slot I * INNER_STRIDE + j; iLink holds (child, entries under
  // it) at 2 * slot; the key at slot j >= 1 (iKey[3 * slot ..]) is child j's lower bound.
  private iKey: F64 = new Float64Array(0)
  private iLink: I32 = new Int32Array(0)
  private iN: I32 = new Int32Array(0)
  private innerHigh = 0
  private innerFree = -1
  private root = 0
  /** Number of inner levels above the leaves (0: the root is a leaf). */
  private height = 0
  private head = 0
  private count = 0
  private version = 0

  constructor() {
    this.clear()
  }

  get size(): number {
    return this.count
  }

  /** Number of inner levels above the leaves (diagnostics and tests). */
  get depth(): number {
    return this.height
  }

  /** Bytes held by the pools (typed arrays, outside the JS heap). */
  get bytes(): number {
    return this.lRec.byteLength + 3 * this.lN.byteLength + this.iKey.byteLength + this.iLink.byteLength + this.iN.byteLength
  }

  clear(): void {
    this.resetTree(4, 4)
    this.root = this.allocLeaf()
    this.head = this.root
    this.height = 0
    this.count = 0
    this.version++
  }

  insert(score: number, seq: number, uid: number): void {
    checkKey(score, seq, uid)
    this.insertKey(score, seq, uid)
    this.count++
    this.version++
  }

  /** Removes the entry with exactly this key; throws when it is absent (the caller's key is wrong). */
  remove(score: number, seq: number, uid: number): void {
    this.removeKey(score, seq, uid)
    this.count--
    this.version++
  }

  /** Moves uid from (os, oq) to (s, q); throws when the old key is absent. */
  move(os: number, oq: number, s: number, q: number, uid: number): void {
    if (os === s && oq === q) return
    checkKey(s, q, uid)
    this.moveKey(os, oq, s, q, uid)
    this.version++
  }

  /** Number of entries strictly before the key: a present entry's rank is this + 1. */
  countBefore(score: number, seq: number, uid: number): number {
    let node = this.root
    let n = 0
    for (let d = 0; d < this.height; d++) {
      this.touchInner(node)
      const j = this.searchInner(node, score, seq, uid)
      const at = 2 * node * INNER_STRIDE
      for (let c = 0; c < j; c++) n += this.iLink[at + 2 * c + 1]!
      node = this.iLink[at + 2 * j]!
    }
    this.touchLeaf(node)
    return n + this.searchLeaf(node, score, seq, uid)
  }

  /** Entries at or better than (score, seq) whatever their uid: the offset after a keyset cursor. */
  countThrough(score: number, seq: number): number {
    return this.countBefore(score, seq + 1, -1)
  }

  /** Calls fn for ranks offset+1 .. offset+limit without allocating; returns how many it visited. */
  forEachInRange(offset: number, limit: number, fn: RankVisitor): number {
    let rank = Math.max(0, Math.floor(offset))
    if (rank >= this.count || !(limit > 0)) return 0
    const n = Math.min(Math.floor(limit), this.count - rank)
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
    for (let k = 0; k < n; k++) {
      while (r >= this.lN[node]!) {
        node = this.lNext[node]!
        r = 0
      }
      const at = 3 * (node * LEAF_STRIDE + r++)
      const rec = this.lRec
      fn(rec[at + 2]!, rec[at]!, rec[at + 1]!, ++rank)
      if (this.version !== version) throw new Error("RankTree modified during forEachInRange")
    }
    return n
  }

  /** Every entry in rank order. */
  forEach(fn: RankVisitor): void {
    this.forEachInRange(0, this.count, fn)
  }

  /**
   * Replaces the contents with n entries given as parallel arrays in any order (keys must be
   * distinct); radix-sorts them and builds the tree bottom-up in linear time.
   */
  load(uids: Int32Array, scores: Float64Array, seqs: Float64Array, n: number): void {
    for (let i = 0; i < n; i++) checkKey(scores[i]!, seqs[i]!, uids[i]!)
    const order = sortKeys(uids, scores, seqs, n)
    this.buildFrom(order, uids, scores, seqs, n)
    this.count = n
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
    this.iKey = new Float64Array(3 * inners * INNER_STRIDE)
    this.iLink = new Int32Array(2 * inners * INNER_STRIDE)
    this.iN = new Int32Array(inners)
    this.innerHigh = 0
    this.innerFree = -1
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
        this.iKey = growF64(this.iKey, 3 * cap * INNER_STRIDE)
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

  private touchInner(node: number): void {
    const base = 3 * node * INNER_STRIDE
    touch(this.iKey, base, base + 3 * this.iN[node]!)
  }

  private touchLeaf(leaf: number): void {
    const base = 3 * leaf * LEAF_STRIDE
    touch(this.lRec, base, base + 3 * this.lN[leaf]!)
  }

  /** Index of the child of `node` whose key range holds (s, q, u): the last j with key j <= it. */
  private searchInner(node: number, s: number, q: number, u: number): number {
    const base = node * INNER_STRIDE
    const keys = this.iKey
    let lo = 1
    let hi = this.iN[node]!
    while (lo < hi) {
      const mid = (lo + hi) >>> 1
      const k = 3 * (base + mid)
      if (before(s, q, u, keys[k]!, keys[k + 1]!, keys[k + 2]!)) hi = mid
      else lo = mid + 1
    }
    return lo - 1
  }

  /** Number of entries in `leaf` strictly before (s, q, u). */
  private searchLeaf(leaf: number, s: number, q: number, u: number): number {
    const base = 3 * leaf * LEAF_STRIDE
    const rec = this.lRec
    let lo = 0
    let hi = this.lN[leaf]!
    while (lo < hi) {
      const mid = (lo + hi) >>> 1
      const k = base + 3 * mid
      if (before(rec[k]!, rec[k + 1]!, rec[k + 2]!, s, q, u)) lo = mid + 1
      else hi = mid
    }
    return lo
  }

  // ---- insert ----------------------------------------------------------------------------

  private insertKey(s: number, q: number, u: number): void {
    let node = this.root
    const h = this.height
    for (let d = 0; d < h; d++) {
      this.touchInner(node)
      const j = this.searchInner(node, s, q, u)
      PATH_NODE[d] = node
      PATH_IDX[d] = j
      const at = 2 * (node * INNER_STRIDE + j)
      this.iLink[at + 1]!++
      node = this.iLink[at]!
    }
    this.touchLeaf(node)
    const pos = this.searchLeaf(node, s, q, u)
    const at = 3 * (node * LEAF_STRIDE + pos)
    if (pos < this.lN[node]! && this.lRec[at] === s && this.lRec[at + 1] === q && this.lRec[at + 2] === u) {
      for (let d = 0; d < h; d++) this.iLink[2 * (PATH_NODE[d]! * INNER_STRIDE + PATH_IDX[d]!) + 1]!--
      throw new Error(`RankTree: key (${s}, ${q}, ${u}) is already present`)
    }
    this.insertAt(node, pos, s, q, u)
  }

  /** Inserts a record at position pos of the leaf at the end of the current path. */
  private insertAt(leaf: number, pos: number, s: number, q: number, u: number): void {
    const n = this.lN[leaf]!
    const rec = this.lRec
    const at = 3 * (leaf * LEAF_STRIDE + pos)
    for (let k = 3 * (leaf * LEAF_STRIDE + n) - 1; k >= at; k--) rec[k + 3] = rec[k]!
    rec[at] = s
    rec[at + 1] = q
    rec[at + 2] = u
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
    this.postSplit(this.height - 1, leaf, keep, right, total - keep, rec[3 * dst]!, rec[3 * dst + 1]!, rec[3 * dst + 2]!)
  }

  /** Registers `right` (whose lower bound is (s, q, u)) after `left` in the path node at level d. */
  private postSplit(d: number, left: number, leftCount: number, right: number, rightCount: number, s: number, q: number, u: number): void {
    if (d < 0) {
      const root = this.allocInner()
      const slot = root * INNER_STRIDE
      this.setLink(slot, left, leftCount)
      this.setLink(slot + 1, right, rightCount)
      this.setKey(slot + 1, s, q, u)
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
    this.setKey(base + j, s, q, u)
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
    }
    this.iN[node] = keep
    this.iN[sib] = total - keep
    // The sibling's slot-0 key is its lower bound: it moves up instead of staying below.
    const ks = 3 * sbase
    this.postSplit(d - 1, node, this.sumCounts(base, keep), sib, moved, this.iKey[ks]!, this.iKey[ks + 1]!, this.iKey[ks + 2]!)
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

  private setKey(slot: number, s: number, q: number, u: number): void {
    this.iKey[3 * slot] = s
    this.iKey[3 * slot + 1] = q
    this.iKey[3 * slot + 2] = u
  }

  private moveInner(from: number, to: number): void {
    const k = this.iKey
    k[3 * to] = k[3 * from]!
    k[3 * to + 1] = k[3 * from + 1]!
    k[3 * to + 2] = k[3 * from + 2]!
    this.iLink[2 * to] = this.iLink[2 * from]!
    this.iLink[2 * to + 1] = this.iLink[2 * from + 1]!
  }

  // ---- move ------------------------------------------------------------------------------

  /**
   * Moves uid from key (os, oq) to (s, q). Both descents run level by level in lockstep, each
   * level's two nodes fetched before either is searched, so their cache misses overlap; the
   * removal and insertion then reuse both paths unless the removal had to rebalance.
   */
  private moveKey(os: number, oq: number, s: number, q: number, u: number): void {
    let a = this.root
    let b = a
    const height = this.height
    const link = this.iLink
    for (let d = 0; d < height; d++) {
      this.touchInner(a)
      if (b !== a) this.touchInner(b)
      const ja = this.searchInner(a, os, oq, u)
      const jb = this.searchInner(b, s, q, u)
      PATH_NODE[d] = a
      PATH_IDX[d] = ja
      PATH2_NODE[d] = b
      PATH2_IDX[d] = jb
      a = link[2 * (a * INNER_STRIDE + ja)]!
      b = link[2 * (b * INNER_STRIDE + jb)]!
    }
    this.touchLeaf(a)
    if (b !== a) this.touchLeaf(b)
    const pa = this.searchLeaf(a, os, oq, u)
    const pb = this.searchLeaf(b, s, q, u)
    const rec = this.lRec
    const at = 3 * (a * LEAF_STRIDE + pa)
    if (pa >= this.lN[a]! || rec[at] !== os || rec[at + 1] !== oq || rec[at + 2] !== u) {
      throw new Error(`RankTree: key (${os}, ${oq}, ${u}) is not present`)
    }
    if (a === b) {
      // Same leaf, same path: shift the entries in between; no count changes.
      if (pb < this.lN[b]! && pb !== pa && rec[3 * (b * LEAF_STRIDE + pb)] === s && rec[3 * (b * LEAF_STRIDE + pb) + 1] === q && rec[3 * (b * LEAF_STRIDE + pb) + 2] === u) {
        throw new Error(`RankTree: key (${s}, ${q}, ${u}) is already present`)
      }
      const to = 3 * (a * LEAF_STRIDE + (pb > pa ? pb - 1 : pb))
      if (to < at) for (let k = at - 1; k >= to; k--) rec[k + 3] = rec[k]!
      else for (let k = at; k < to; k++) rec[k] = rec[k + 3]!
      rec[to] = s
      rec[to + 1] = q
      rec[to + 2] = u
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
      this.insertKey(s, q, u)
      return
    }
    for (let d = 0; d < height; d++) {
      PATH_NODE[d] = PATH2_NODE[d]!
      PATH_IDX[d] = PATH2_IDX[d]!
      link[2 * (PATH_NODE[d]! * INNER_STRIDE + PATH_IDX[d]!) + 1]!++
    }
    this.insertAt(b, pb, s, q, u)
  }

  // ---- remove ----------------------------------------------------------------------------

  private removeKey(s: number, q: number, u: number): void {
    let node = this.root
    const h = this.height
    for (let d = 0; d < h; d++) {
      this.touchInner(node)
      const j = this.searchInner(node, s, q, u)
      PATH_NODE[d] = node
      PATH_IDX[d] = j
      node = this.iLink[2 * (node * INNER_STRIDE + j)]!
    }
    this.touchLeaf(node)
    const pos = this.searchLeaf(node, s, q, u)
    const n = this.lN[node]! - 1
    const rec = this.lRec
    const at = 3 * (node * LEAF_STRIDE + pos)
    if (pos > n || rec[at] !== s || rec[at + 1] !== q || rec[at + 2] !== u) throw new Error(`RankTree: key (${s}, ${q}, ${u}) is not present`)
    for (let d = 0; d < h; d++) this.iLink[2 * (PATH_NODE[d]! * INNER_STRIDE + PATH_IDX[d]!) + 1]!--
    const end = 3 * (node * LEAF_STRIDE + n)
    for (let k = at; k < end; k++) rec[k] = rec[k + 3]!
    this.lN[node] = n
    if (n < LEAF_MIN && h > 0) this.rebalanceLeaf(node)
  }

  /** Moves entries [from, from + k) of leaf slots to slot `to` (overlap-safe). */
  private moveEntries(from: number, to: number, k: number): void {
    this.lRec.copyWithin(3 * to, 3 * from, 3 * (from + k))
  }

  private rebalanceLeaf(leaf: number): void {
    const d = this.height - 1
    const parent = PATH_NODE[d]!
    const j = PATH_IDX[d]!
    const pbase = parent * INNER_STRIDE
    // Pair the underfull leaf with a sibling under the same parent: (left, right) at (i, i + 1).
    const i = j > 0 ? j - 1 : 0
    const left = this.iLink[2 * (pbase + i)]!
    const right = this.iLink[2 * (pbase + i + 1)]!
    void leaf
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
    this.setKey(pbase + i + 1, rec[3 * rb]!, rec[3 * rb + 1]!, rec[3 * rb + 2]!)
  }

  /** Removes child j (and key slot j) of an inner node. */
  private removeChild(node: number, j: number): void {
    const base = node * INNER_STRIDE
    const m = this.iN[node]! - 1
    for (let k = base + j; k < base + m; k++) this.moveInner(k + 1, k)
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
    const k0 = this.iKey
    // The parent's separator becomes the key between the two halves when they are joined.
    const sep = 3 * (pbase + i + 1)
    this.setKey(rb, k0[sep]!, k0[sep + 1]!, k0[sep + 2]!)
    if (lm + rm <= INNER_CAP) {
      for (let k = 0; k < rm; k++) this.moveInner(rb + k, lb + lm + k)
      this.iN[left] = lm + rm
      const at = 2 * (pbase + i) + 1
      this.iLink[at] = this.iLink[at]! + this.iLink[at + 2]!
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
      }
    }
    // `moved` entries went from right to left (negative: left to right).
    const at = 2 * (pbase + i) + 1
    this.iLink[at] = this.iLink[at]! + moved
    this.iLink[at + 2] = this.iLink[at + 2]! - moved
    this.iN[left] = half
    this.iN[right] = lm + rm - half
    // The right node's new slot-0 key is its new lower bound: it moves up into the parent.
    this.setKey(pbase + i + 1, this.iKey[3 * rb]!, this.iKey[3 * rb + 1]!, this.iKey[3 * rb + 2]!)
  }

  // ---- bulk build ------------------------------------------------------------------------

  /** Builds the tree bottom-up from entries already in rank order (order[t] indexes the arrays). */
  private buildFrom(order: I32, uids: Int32Array, scores: Float64Array, seqs: Float64Array, n: number): void {
    const leaves = Math.max(1, Math.ceil(n / BULK_FILL))
    this.resetTree(leaves + (leaves >>> 3) + 4, Math.ceil(leaves / (BULK_FILL - 8)) + 8)
    let nodes: I32 = new Int32Array(leaves)
    let counts: I32 = new Int32Array(leaves)
    let firstKey: F64 = new Float64Array(3 * leaves)
    let prev = -1
    for (let L = 0; L < leaves; L++) {
      const from = Math.floor((L * n) / leaves)
      const to = Math.floor(((L + 1) * n) / leaves)
      const leaf = this.allocLeaf()
      const base = leaf * LEAF_STRIDE
      for (let t = from; t < to; t++) {
        const i = order[t]!
        const at = 3 * (base + t - from)
        this.lRec[at] = scores[i]!
        this.lRec[at + 1] = seqs[i]!
        this.lRec[at + 2] = uids[i]!
      }
      this.lN[leaf] = to - from
      this.lPrev[leaf] = prev
      if (prev !== -1) this.lNext[prev] = leaf
      prev = leaf
      nodes[L] = leaf
      counts[L] = to - from
      firstKey[3 * L] = this.lRec[3 * base]!
      firstKey[3 * L + 1] = this.lRec[3 * base + 1]!
      firstKey[3 * L + 2] = this.lRec[3 * base + 2]!
    }
    this.head = nodes[0]!
    let width = leaves
    let height = 0
    while (width > 1) {
      const parents = Math.ceil(width / BULK_FILL)
      const pNodes: I32 = new Int32Array(parents)
      const pCounts: I32 = new Int32Array(parents)
      const pKey: F64 = new Float64Array(3 * parents)
      for (let P = 0; P < parents; P++) {
        const from = Math.floor((P * width) / parents)
        const to = Math.floor(((P + 1) * width) / parents)
        const node = this.allocInner()
        const base = node * INNER_STRIDE
        let total = 0
        for (let c = from; c < to; c++) {
          this.setLink(base + c - from, nodes[c]!, counts[c]!)
          if (c > from) this.setKey(base + c - from, firstKey[3 * c]!, firstKey[3 * c + 1]!, firstKey[3 * c + 2]!)
          total += counts[c]!
        }
        this.iN[node] = to - from
        pNodes[P] = node
        pCounts[P] = total
        pKey[3 * P] = firstKey[3 * from]!
        pKey[3 * P + 1] = firstKey[3 * from + 1]!
        pKey[3 * P + 2] = firstKey[3 * from + 2]!
      }
      nodes = pNodes
      counts = pCounts
      firstKey = pKey
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
      throw new Error(`RankTree invariant: ${msg}`)
    }
    type Key = [number, number, number]
    const leaves: Array<number> = []
    const lt = (a: Key, b: Key) => before(a[0], a[1], a[2], b[0], b[1], b[2])
    const walk = (node: number, depth: number, lo: Key | undefined, hi: Key | undefined): number => {
      if (depth === this.height) {
        const n = this.lN[node]!
        if ((node !== this.root && n < LEAF_MIN) || n > LEAF_CAP) fail(`leaf ${node} holds ${n}`)
        leaves.push(node)
        for (let p = 0; p < n; p++) {
          const at = 3 * (node * LEAF_STRIDE + p)
          const e: Key = [this.lRec[at]!, this.lRec[at + 1]!, this.lRec[at + 2]!]
          if (lo !== undefined && (p === 0 ? lt(e, lo) : !lt(lo, e))) fail(`entry ${e.join(",")} out of order`)
          if (hi !== undefined && !lt(e, hi)) fail(`entry ${e.join(",")} does not sort before its upper bound`)
          lo = e
        }
        return n
      }
      const m = this.iN[node]!
      if (m > INNER_CAP || m < (node === this.root ? 2 : INNER_MIN)) fail(`inner ${node} has ${m} children`)
      let total = 0
      for (let j = 0; j < m; j++) {
        const slot = node * INNER_STRIDE + j
        const key = (s: number): Key => [this.iKey[3 * s]!, this.iKey[3 * s + 1]!, this.iKey[3 * s + 2]!]
        const clo = j === 0 ? lo : key(slot)
        const chi = j === m - 1 ? hi : key(slot + 1)
        if (clo !== undefined && chi !== undefined && !lt(clo, chi)) fail(`inner ${node} keys out of order`)
        const c = walk(this.iLink[2 * slot]!, depth + 1, clo, chi)
        if (c !== this.iLink[2 * slot + 1]) fail(`inner ${node} child ${j} counts ${this.iLink[2 * slot + 1]}, holds ${c}`)
        total += c
      }
      return total
    }
    const total = walk(this.root, 0, undefined, undefined)
    if (total !== this.count) fail(`tree holds ${total}, size says ${this.count}`)
    let leaf = this.head
    let prev = -1
    for (const expected of leaves) {
      if (leaf !== expected || this.lPrev[leaf] !== prev) fail(`leaf chain broken at ${expected}`)
      prev = leaf
      leaf = this.lNext[leaf]!
    }
    if (leaf !== -1) fail("leaf chain longer than the tree")
    void touchSink
  }
}

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

const SMALL_SORT = 4096

/**
 * Indexes 0..n-1 in rank order: LSD radix sort on 16-bit digits (uid, then seq ascending, then
 * score descending), skipping digits every key shares. Linear time.
 */
const sortKeys = (uids: Int32Array, scores: Float64Array, seqs: Float64Array, n: number): I32 => {
  if (n <= SMALL_SORT) {
    // Below a few thousand keys the radix passes' 64K-bucket histograms cost more than comparing.
    const order = Array.from({ length: n }, (_, i) => i)
    order.sort((a, b) => scores[b]! - scores[a]! || seqs[a]! - seqs[b]! || uids[a]! - uids[b]!)
    return Int32Array.from(order)
  }
  let src: I32 = new Int32Array(n)
  let dst: I32 = new Int32Array(n)
  for (let i = 0; i < n; i++) src[i] = i
  const lo = new Uint32Array(n)
  const hi = new Uint32Array(n)
  const hist = new Int32Array(65536)
  const passes = (value: (i: number) => number, descending: boolean, words: number): void => {
    for (let i = 0; i < n; i++) {
      const v = value(i)
      lo[i] = v % 4294967296
      hi[i] = Math.floor(v / 4294967296)
    }
    for (let digit = 0; digit < 2 * words; digit++) {
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
  passes((i) => uids[i]!, false, 1)
  passes((i) => seqs[i]!, false, 2)
  passes((i) => scores[i]!, true, 2)
  return src
}
