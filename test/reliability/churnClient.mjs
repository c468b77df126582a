// Child process for churn.test.ts: opens `count` leaderboard sockets spread over loopback source
// addresses (so per-IP limits are not what is measured), holds them, closes them, `cycles` times;
// `nonReaders` of them stop reading as soon as they open. Reports one JSON line per cycle.
// Plain JS: run by node directly, outside vitest. Every wait is bounded.
import WebSocket from "ws"

const [base, count, cycles, holdMs, nonReaders] = [process.argv[2], ...process.argv.slice(3).map(Number)]
const SUBS = ["global?limit=10", "global?limit=100", "global?window=day&limit=50", "global?limit=1000", "agent%3Aclaude-code?limit=25"]
const ip = (i) => `127.0.${10 + Math.floor((i % 100) / 250)}.${2 + (i % 100)}`
const sleep = (ms) => new Promise((r) => setTimeout(r, ms))

const openOne = (i, cycle) => new Promise((resolve) => {
  const sub = i < nonReaders ? "global?limit=1000" : SUBS[(i + cycle) % SUBS.length]
  const ws = new WebSocket(`${base.replace("http", "ws")}/ws/leaderboard/${sub}`, { localAddress: ip(i) })
  const timer = setTimeout(() => { ws.terminate(); resolve({ ws: null, outcome: "timeout" }) }, 20_000)
  ws.once("open", () => {
    clearTimeout(timer)
    if (i < nonReaders) {
      ws._socket.pause() // never reads again: the server must bound what it keeps for it
      ws.nonReader = true
    }
    resolve({ ws, outcome: "open" })
  })
  ws.once("unexpected-response", (_q, res) => { clearTimeout(timer); resolve({ ws: null, outcome: `http ${res.statusCode}` }) })
  ws.once("error", () => { clearTimeout(timer); resolve({ ws: null, outcome: "error" }) })
})

for (let cycle = 0; cycle < cycles; cycle++) {
  const outcomes = {}
  const socks = []
  for (let i = 0; i < count; i += 250) {
    const batch = await Promise.all(Array.from({ length: Math.min(250, count - i) }, (_, k) => openOne(i + k, cycle)))
    for (const r of batch) { outcomes[r.outcome] = (outcomes[r.outcome] ?? 0) + 1; if (r.ws) socks.push(r.ws) }
  }
  await sleep(holdMs)
  const closed = Promise.all(socks.map((ws) => new Promise((r) => { const t = setTimeout(r, 10_000); ws.once("close", () => { clearTimeout(t); r() }) })))
  // Half close politely, half just vanish (RST), as real clients do.
  socks.forEach((ws, i) => (i % 2 === 0 && ws.nonReader !== true ? ws.close() : ws.terminate()))
  await closed
  process.stdout.write(JSON.stringify({ cycle, outcomes }) + "\n")
}
process.exit(0)
