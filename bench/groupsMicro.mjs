#!/usr/bin/env node
// In-process micro-benchmark of GroupBoards (no service): 1,000 groups × 1,000 members over 100k
// users, every group's all-time board watched (top 100); times the watches, then SLICES slices of
// S events each with one coalesced turn (flush) every 5 slices. Prints CPU-µs/event and views.
// Run: npm run build && node bench/groupsMicro.mjs [S=20] [SLICES=200] [DIST=dist]
const dist = new URL(`../${process.argv[4] ?? "dist"}`, import.meta.url).href
const { boardsHarness } = await import(`${dist}/actors/TestBoards.js`)
const { GroupBoards } = await import(`${dist}/actors/GroupBoards.js`)
const U = 100_000, G = 1000, M = 1000, S = Number(process.argv[2] ?? 20), SLICES = Number(process.argv[3] ?? 200)
const h = boardsHarness()
let views = 0
const rows = []
for (let g = 0; g < G; g++) rows.push({ id: `b${g}`, name: "B", owner: "o", members: Array.from({ length: M }, (_, j) => `user-${(g + j * 100) % U}`), updated_at: "" })
const store = { loadAll: async () => rows, put: async () => ({ ok: false }), delete: async () => "missing" }
const gb = new GroupBoards(store, () => { views++ })
await gb.load()
gb.attach(h.boards)
let seq = 0
const xp = new Float64Array(U)
const batch = []
for (let u = 0; u < U; u++) { xp[u] = 1 + (u % 997); batch.push([`user-${u}`, xp[u], ++seq]) }
h.dispatch(batch)
let t = performance.now()
for (let g = 0; g < G; g++) gb.watch({ board: `group:b${g}`, window: "all", period: "all" }, 100)
console.log(`watch ${G}: ${(performance.now() - t).toFixed(0)} ms`)
let r = 12345
const rnd = () => (r = (r * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff
t = performance.now()
const c0 = process.cpuUsage()
const end = Date.now() + 1e9
for (let s = 0; s < SLICES; s++) {
  const b = []
  for (let k = 0; k < S; k++) { const u = Math.floor(rnd() * U); xp[u] += 1 + Math.floor(rnd() * 20); b.push([`user-${u}`, xp[u], ++seq]) }
  h.dispatch(b)
  if (gb.flush && s % 5 === 4) gb.flush() // ~ one coalesced turn per 5 slices
}
gb.flush?.()
const c = process.cpuUsage(c0)
console.log(`${SLICES} slices × ${S}: ${(performance.now() - t).toFixed(0)} ms wall, ${((c.user + c.system) / (SLICES * S)).toFixed(0)} CPU-µs/event, ${views} views`)
