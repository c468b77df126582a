// Gateway-only server for the fan-out bench (`run.mjs --server gateway`): Arena's real gateway
// (startGateway from a build's dist/, same thread setting) fed by a synthetic LeaderboardPort instead
// of the pipeline, so what is measured is the gateway itself. Boards: global and the 20 agents, 300
// users each; every view raises one user's XP, and each user's username carries the time of its last
// change ("t=<ms>"), so a probe reads the age of the oldest change a delta shows.
import { parseArgs } from "node:util"
import { AGENTS } from "../../dist/cli/Producer.js"

const { values: a } = parseArgs({ options: {
  root: { type: "string" }, threads: { type: "string" }, "global-rate": { type: "string" }, "agent-rate": { type: "string" }, seconds: { type: "string" }
} })
const { startGateway } = await import(`${a.root}/dist/gateway/Gateway.js`)
const { gatewayConfig } = await import(`${a.root}/dist/gateway/GatewayConfig.js`)
const { registry } = await import(`${a.root}/dist/observability/Metrics.js`)
const now = () => performance.timeOrigin + performance.now()

let seq = 0
const boards = new Map(["global", ...AGENTS.map((x) => `agent:${x}`)].map((b, k) => [b, {
  users: Array.from({ length: 300 }, (_, i) => ({ id: `u${k}-${i}`, xp: 100_000 - i * 100, name: "t=0" })),
  maxWatched: 0
}]))
const viewOf = (board) => {
  const b = boards.get(board)
  b.users.sort((x, y) => y.xp - x.xp)
  const entries = b.users.slice(0, Math.max(b.maxWatched, 1)).map((u, i) => ({ rank: i + 1, user_id: u.id, username: u.name, xp: u.xp, level: 1 }))
  return { key: { board, window: "all", period: "all" }, seq, total: b.users.length, entries }
}
const listeners = new Set()
const lb = {
  currentPeriod: () => "all", list: () => [], page: () => null, around: () => null,
  watch: (key, limit) => { const b = boards.get(key.board); if (b) b.maxWatched = Math.max(b.maxWatched, limit); return b ? viewOf(key.board) : { key, seq, entries: [], total: 0 } },
  unwatch: () => {}, onView: (l) => { listeners.add(l); return () => listeners.delete(l) }, onRollover: () => () => {}
}
const none = () => { throw new Error("not used by this bench") }
const gw = await startGateway({
  leaderboards: lb, users: { profile: none, ledger: none }, ingest: { publish: none }, health: { readiness: () => ({ ready: true, reasons: [], details: {} }), metrics: () => registry.render() },
  notifications: { onUserNotification: () => () => {}, watchUser: () => () => {} }, shares: {}, rules: { rules: none, achievements: none },
  config: gatewayConfig({ host: "127.0.0.1", port: 0, jwtSecret: "fanout-bench-secret-0123456789abcdef", authEnabled: true, production: false, wsThreads: Number(a.threads ?? 0) }, {}),
  log: { warn: () => {}, error: (m, f) => console.error(m, f) }
})
process.send({ type: "listening", port: gw.port })

/** One board update: a user from the top 150 gains XP (it may climb), stamped with the time. */
const bump = (board) => {
  const b = boards.get(board)
  const u = b.users[Math.floor(Math.random() * 150)]
  u.xp += 50 + Math.floor(Math.random() * 400)
  u.name = `t=${now().toFixed(2)}`
  seq++
  const v = viewOf(board)
  for (const l of listeners) l(v)
}

process.on("message", async (m) => {
  if (m.type === "start") {
    const seconds = Number(a.seconds ?? 60), rates = [["global", Number(a["global-rate"] ?? 20)], ...AGENTS.map((x) => [`agent:${x}`, Number(a["agent-rate"] ?? 3)])]
    const t0 = performance.now(), done = rates.map(() => 0)
    while (performance.now() - t0 < seconds * 1000) {
      const el = (performance.now() - t0) / 1000
      rates.forEach(([board, r], i) => { while (done[i] < Math.floor(el * r)) { done[i]++; bump(board) } })
      await new Promise((r) => setTimeout(r, 1))
    }
    process.send({ type: "done", views: done.reduce((s, x) => s + x, 0) })
  }
  if (m.type === "exit") { await gw.close(); process.exit(0) }
})
