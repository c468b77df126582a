// Benchmark of RankTree (the counted B+tree behind every leaderboard) at 1M entries against a
// naive sorted array (binary search + splice) measured in the same run, machine printed first.
// The tree is keyed by dense user ids and its callers keep each user's key (the user table does);
// here a small adapter plays that part with a Map<string, uid>, whose cost has its own row.
// Run: npx tsc -p tsconfig.json, then node --expose-gc --single-threaded bench/ranking.bench.mjs   (~40 s)
// Env: BENCH_N (default 1000000), RANK_TREE_JS=/abs/path/RankTree.js to bench another build.
// Times are CPU time (getrusage) per op, min and median over rounds: the machine is shared, and
// CPU time does not count the time another process holds the core.
import os from "node:os"
import { setTimeout as sleep } from "node:timers/promises"
import { pathToFileURL } from "node:url"

const modUrl = process.env.RANK_TREE_JS
  ? pathToFileURL(process.env.RANK_TREE_JS).href
  : new URL("../dist/domain/ranking/RankTree.js", import.meta.url).href
const { RankTree } = await import(modUrl)

/** The caller's side of a RankTree, as the user table does it: uid per user id, each uid's key. */
class RankIndex {
  constructor() { this.tree = new RankTree(); this.uids = new Map(); this.ids = []; this.key = new Float64Array(0) }
  static fromUnsorted(entries) {
    const r = new RankIndex()
    const n = entries.length
    const uids = new Int32Array(n), scores = new Float64Array(n), seqs = new Float64Array(n)
    r.key = new Float64Array(2 * n)
    for (let i = 0; i < n; i++) {
      const e = entries[i]
      const uid = r.uidOf(e.userId)
      uids[i] = uid; scores[i] = e.score; seqs[i] = e.seq
      r.key[2 * uid] = e.score; r.key[2 * uid + 1] = e.seq
    }
    r.tree.load(uids, scores, seqs, n)
    return r
  }
  uidOf(id) {
    let u = this.uids.get(id)
    if (u === undefined) {
      u = this.ids.length; this.ids.push(id); this.uids.set(id, u)
      if (2 * u + 1 >= this.key.length) { const k = new Float64Array(Math.max(64, 2 * this.key.length)).fill(-1); k.set(this.key); this.key = k }
      this.key[2 * u] = -1
    }
    return u
  }
  get size() { return this.tree.size }
  get depth() { return this.tree.depth }
  has(id) { const u = this.uids.get(id); return u !== undefined && this.key[2 * u] >= 0 }
  set(id, score, seq) {
    const u = this.uidOf(id)
    const os = this.key[2 * u], oq = this.key[2 * u + 1]
    if (os < 0) this.tree.insert(score, seq, u)
    else this.tree.move(os, oq, score, seq, u)
    this.key[2 * u] = score; this.key[2 * u + 1] = seq
  }
  rankOf(id) { const u = this.uids.get(id); return u === undefined || this.key[2 * u] < 0 ? undefined : this.tree.countBefore(this.key[2 * u], this.key[2 * u + 1], u) + 1 }
  countBefore(score, seq) { return this.tree.countBefore(score, seq, -1) }
  forEachInRange(offset, limit, fn) { return this.tree.forEachInRange(offset, limit, (u, s, q, r) => fn(this.ids[u], s, q, r)) }
  range(offset, limit) { const out = []; this.forEachInRange(offset, limit, (userId, score, seq) => out.push({ userId, score, seq })); return out }
  forEach(fn) { this.forEachInRange(0, this.tree.size, fn) }
  assertInvariants() { this.tree.assertInvariants() }
}

const N = Number(process.env.BENCH_N ?? 1_000_000)
const gc = globalThis.gc
if (typeof gc !== "function") throw new Error("run with node --expose-gc")

const cpus = os.cpus()
const mhz = cpus[0]?.speed ? ` @ ${cpus[0].speed} MHz` : ""
console.log(`machine: ${cpus.length} cores, ${cpus[0]?.model ?? "?"}${mhz}, ${Math.round(os.totalmem() / 2 ** 30)} GiB, ${os.platform()} ${os.arch()}`)
console.log(`node ${process.version} (V8 ${process.versions.v8}), flags: ${process.execArgv.join(" ")}; load average at start: ${os.loadavg().map((x) => x.toFixed(1)).join(" ")}`)

// ---- deterministic data ---------------------------------------------------------------------
// Scores are exponential (mean 3,000): dense ties at the bottom and a sparse top, like XP.
// Seqs are a random permutation of 1..N (who reached their score first); updates take new seqs.
let rs = 0x9e3779b9
const rnd = () => {
  rs ^= rs << 13
  rs ^= rs >>> 17
  rs ^= rs << 5
  return (rs >>> 0) / 4294967296
}
const makeData = (n) => {
  const ids = Array.from({ length: n }, (_, i) => `user-${(i * 2654435761) >>> 0}`)
  const score = new Float64Array(n)
  const seq = new Float64Array(n)
  for (let i = 0; i < n; i++) {
    score[i] = Math.floor(-Math.log(1 - rnd()) * 3000)
    seq[i] = i + 1
  }
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(rnd() * (i + 1))
    const t = seq[i]
    seq[i] = seq[j]
    seq[j] = t
  }
  const entries = Array.from({ length: n }, (_, i) => ({ userId: ids[i], score: score[i], seq: seq[i] }))
  return { n, ids, score, entries, nextSeq: n + 1 }
}

// ---- measurement --------------------------------------------------------------------------
const cpuNs = (c) => (c.user + c.system) * 1000
const stats = (xs) => {
  const a = [...xs].sort((x, y) => x - y)
  return { min: a[0], med: a[a.length >> 1] }
}
/** ns/op of `op(k)` over `rounds` rounds of `ops` calls; `prepare()` runs untimed before each round. */
const measure = ({ rounds, ops, op, prepare = () => {} }) => {
  prepare()
  for (let k = 0; k < Math.min(ops, 20_000); k++) op(k)
  const out = []
  for (let r = 0; r < rounds; r++) {
    prepare()
    const c0 = process.cpuUsage()
    for (let k = 0; k < ops; k++) op(k)
    out.push(cpuNs(process.cpuUsage(c0)) / ops)
  }
  return stats(out)
}
const settle = async () => {
  // ArrayBuffer backing stores are released after the GC that finds them dead; give it a turn.
  for (let i = 0; i < 3; i++) {
    gc()
    await sleep(50)
  }
  const m = process.memoryUsage()
  return m.heapUsed + m.arrayBuffers
}
// Results go to a typed-array slot: a module-level `let` holding a double would box a
// HeapNumber on every write and charge that allocation to the operation measured.
const sink = new Float64Array(1)
const visit = (_u, s, _q, r) => {
  sink[0] += s + r
}

/** The naive baseline: one sorted array of entry objects, binary search and splice. */
class SortedArray {
  arr = []
  byId = new Map()
  static fromUnsorted(es) {
    const t = new SortedArray()
    t.arr = es.map((e) => ({ userId: e.userId, score: e.score, seq: e.seq }))
    t.arr.sort((a, b) => b.score - a.score || a.seq - b.seq || (a.userId < b.userId ? -1 : 1))
    for (const e of t.arr) t.byId.set(e.userId, e)
    return t
  }
  lb(s, q, id) {
    let lo = 0
    let hi = this.arr.length
    while (lo < hi) {
      const mid = (lo + hi) >>> 1
      const e = this.arr[mid]
      if (e.score > s || (e.score === s && (e.seq < q || (e.seq === q && e.userId < id)))) lo = mid + 1
      else hi = mid
    }
    return lo
  }
  set(id, s, q) {
    const old = this.byId.get(id)
    if (old !== undefined) this.arr.splice(this.lb(old.score, old.seq, id), 1)
    const e = { userId: id, score: s, seq: q }
    this.arr.splice(this.lb(s, q, id), 0, e)
    this.byId.set(id, e)
  }
  rankOf(id) {
    const e = this.byId.get(id)
    return e === undefined ? undefined : this.lb(e.score, e.seq, id) + 1
  }
  countBefore(s, q) {
    return this.lb(s, q, "")
  }
  forEachInRange(offset, limit, fn) {
    const end = Math.min(this.arr.length, offset + limit)
    for (let i = Math.max(0, offset); i < end; i++) {
      const e = this.arr[i]
      fn(e.userId, e.score, e.seq, i + 1)
    }
  }
  range(offset, limit) {
    return this.arr.slice(offset, offset + limit).map((e) => ({ userId: e.userId, score: e.score, seq: e.seq }))
  }
}

/** The read/write workload shared by both implementations. */
const workload = (impl, data, scale) => {
  const { n, ids } = data
  const cur = Float64Array.from(data.score)
  const OPS = 1 << 16
  const opId = new Array(OPS).fill("")
  const opScore = new Float64Array(OPS)
  // Per round, untimed: which users, their (canonical) id strings and, for updates, their new
  // scores, laid out so the timed loop reads them sequentially, as a board reads its batch.
  const prepare = (pool, gain) => () => {
    for (let k = 0; k < OPS; k++) {
      const u = pool === 0 ? Math.floor(rnd() * n) : Math.floor(rnd() * pool) * Math.floor(n / pool)
      if (gain) cur[u] += 1 + Math.floor(rnd() * 50)
      opId[k] = ids[u]
      opScore[k] = cur[u]
    }
  }
  const update = (k) => impl.set(opId[k], opScore[k], data.nextSeq++)
  const w = scale.writes
  const r = scale.reads
  return {
    updateUniform: measure({ ...w, op: update, prepare: prepare(0, true) }),
    updateHot: measure({ ...w, op: update, prepare: prepare(Math.min(n, 50_000), true) }),
    rankOf: measure({ ...r, op: (k) => (sink[0] += impl.rankOf(opId[k])), prepare: prepare(0) }),
    countBefore: measure({ ...r, op: (k) => (sink[0] += impl.countBefore(opScore[k], 1 + k)), prepare: prepare(0) }),
    top100: measure({ ...r, ops: Math.max(200, r.ops >> 4), op: () => impl.forEachInRange(0, 100, visit) }),
    top100Alloc: measure({ ...r, ops: Math.max(200, r.ops >> 4), op: () => (sink[0] += impl.range(0, 100).length) }),
    aroundMe: measure({
      ...r,
      ops: Math.max(200, r.ops >> 2),
      op: (k) => impl.forEachInRange(Math.max(0, impl.rankOf(opId[k]) - 11), 21, visit),
      prepare: prepare(0)
    }),
    lookupOnly: impl.has ? measure({ ...r, op: (k) => (sink[0] += impl.has(opId[k]) ? 1 : 0), prepare: prepare(0) }) : undefined
  }
}

// ---- build and memory -----------------------------------------------------------------------
const data = makeData(N)
console.log(`entries: ${N.toLocaleString("en")}; scores exponential (mean 3,000); user ids like "${data.ids[1]}"\n`)

let base = await settle()
let t0 = process.hrtime.bigint()
let idx = RankIndex.fromUnsorted(data.entries)
const bulkMs = Number(process.hrtime.bigint() - t0) / 1e6
const bulkBytes = ((await settle()) - base) / N
const depth = idx.depth
idx = null

base = await settle()
const order = Int32Array.from({ length: N }, (_, i) => i)
for (let i = N - 1; i > 0; i--) {
  const j = Math.floor(rnd() * (i + 1))
  const t = order[i]
  order[i] = order[j]
  order[j] = t
}
t0 = process.hrtime.bigint()
let viaSet = new RankIndex()
for (let i = 0; i < N; i++) {
  const u = order[i]
  viaSet.set(data.ids[u], data.entries[u].score, data.entries[u].seq)
}
const setMs = Number(process.hrtime.bigint() - t0) / 1e6
const setBytes = ((await settle()) - base - order.byteLength) / N
// Read after measuring: V8 frees an object once no live code reads it, even mid-function.
sink[0] += viaSet.size
viaSet = null

base = await settle()
let plainMap = new Map()
for (let i = 0; i < N; i++) plainMap.set(data.ids[i], i)
const mapBytes = ((await settle()) - base) / N
sink[0] += plainMap.size
plainMap = null

base = await settle()
t0 = process.hrtime.bigint()
let naive = SortedArray.fromUnsorted(data.entries)
const naiveMs = Number(process.hrtime.bigint() - t0) / 1e6
const naiveBytes = ((await settle()) - base) / N
sink[0] += naive.arr.length

// ---- operations -------------------------------------------------------------------------------
idx = RankIndex.fromUnsorted(data.entries)
const fast = workload(idx, data, { writes: { rounds: 10, ops: 1 << 16 }, reads: { rounds: 10, ops: 1 << 16 } })
const updatesDone = data.nextSeq - N - 1
idx.assertInvariants()
t0 = process.hrtime.bigint()
idx.forEach(visit)
const scanMs = Number(process.hrtime.bigint() - t0) / 1e6
idx = null
await settle()
const slow = workload(naive, data, { writes: { rounds: 3, ops: 300 }, reads: { rounds: 3, ops: 4_000 } })
naive = null

// In cache: the same operations on a 10k-entry board show the CPU cost without memory stalls.
const small = makeData(10_000)
const smallIdx = RankIndex.fromUnsorted(small.entries)
const inCache = workload(smallIdx, small, { writes: { rounds: 10, ops: 1 << 16 }, reads: { rounds: 10, ops: 1 << 16 } })

// ---- report -----------------------------------------------------------------------------------
const f = (x) => (x === undefined ? "-" : x >= 1e5 ? `${(x / 1e3).toFixed(0)}µs` : x.toFixed(0))
const row = (name, a, b, c) =>
  console.log(
    `${name.padEnd(34)} ${`${f(a.min)} / ${f(a.med)}`.padStart(13)} ${`${f(b?.min)} / ${f(b?.med)}`.padStart(20)} ${(b ? `${(b.med / a.med).toFixed(1)}x` : "").padStart(8)} ${`${f(c?.min)} / ${f(c?.med)}`.padStart(13)}`
  )
console.log(`ns/op at ${N.toLocaleString("en")} entries (min / median of rounds, CPU time)`)
console.log(`${"".padEnd(34)} ${"RankTree".padStart(13)} ${"naive sorted array".padStart(20)} ${"ratio".padStart(8)} ${"RI at 10k".padStart(13)}`)
row("update, random user +1..50", fast.updateUniform, slow.updateUniform, inCache.updateUniform)
row("update, user from a 50k hot set", fast.updateHot, slow.updateHot, inCache.updateHot)
row("rankOf(userId)", fast.rankOf, slow.rankOf, inCache.rankOf)
row("countBefore(score, seq)", fast.countBefore, slow.countBefore, inCache.countBefore)
row("top-100 forEachInRange", fast.top100, slow.top100, inCache.top100)
row("top-100 range() (allocates)", fast.top100Alloc, slow.top100Alloc, inCache.top100Alloc)
row("around-me: rankOf + ±10", fast.aroundMe, slow.aroundMe, inCache.aroundMe)
row("of which: the userId Map lookup", fast.lookupOnly, undefined, inCache.lookupOnly)
console.log("")
console.log(`bulk build RankTree.load(1M):          ${bulkMs.toFixed(0)} ms (${depth} inner levels)`)
console.log(`1M set() calls in random order:       ${setMs.toFixed(0)} ms → bulk load ${(setMs / bulkMs).toFixed(1)}x faster`)
console.log(`naive build (sort 1M objects):         ${naiveMs.toFixed(0)} ms`)
console.log(`full rank-order scan (forEach):        ${scanMs.toFixed(0)} ms; invariants checked after ${updatesDone.toLocaleString("en")} updates`)
console.log(
  `memory per entry (heapUsed + arrayBuffers; id strings not counted): bulk-built ${bulkBytes.toFixed(0)} B, ` +
    `set()-built ${setBytes.toFixed(0)} B, naive ${naiveBytes.toFixed(0)} B; a bare Map<string, number> alone is ${mapBytes.toFixed(0)} B`
)
console.log(`load average at end: ${os.loadavg().map((x) => x.toFixed(1)).join(" ")}`)
if (sink[0] === 42) console.log("")
