import { fork } from "node:child_process"
const root = process.argv[3] ?? "/tmp/arena-after"
const { startGateway } = await import(`${root}/dist/gateway/Gateway.js`)
const { gatewayConfig } = await import(`${root}/dist/gateway/GatewayConfig.js`)
const threads = Number(process.argv[2] ?? 2)
let listener = () => {}
const view = { key: { board: "global", window: "all", period: "all" }, seq: 1, total: 0, entries: [] }
const lb = { currentPeriod: () => "all", list: () => [], page: () => null, around: () => null,
  watch: (key) => ({ ...view, key }), unwatch: () => {}, onView: (l) => { listener = l; return () => {} }, onRollover: () => () => {} }
const none = () => { throw new Error("unused") }
const gw = await startGateway({
  leaderboards: lb, users: { profile: none, ledger: none }, ingest: { publish: none }, health: { readiness: none, metrics: () => "" },
  notifications: { onUserNotification: () => () => {}, watchUser: () => () => {} }, shares: {}, rules: { rules: none, achievements: none },
  config: gatewayConfig({ host: "127.0.0.1", port: 0, jwtSecret: "x".repeat(40), authEnabled: true, production: false, wsThreads: threads }, {}),
  log: { warn: () => {}, error: console.error }
})
// Keep the main thread busy in bursts, like the pipeline does.
const busy = setInterval(() => { const t = Date.now() + 20 + Math.random() * 60; while (Date.now() < t); }, 50)
const c = fork(new URL("./clients.mjs", import.meta.url).pathname, ["--port", String(gw.port), "--from", "0", "--count", "8000", "--ipBase", "40", "--readEvery", "1000"])
c.on("message", (m) => {
  if (m.type === "ready") setTimeout(() => c.send({ type: "report" }), 3000)
  if (m.type === "report") { console.log(threads, { closedWhy: m.closedWhy, closed: m.closed, stats: gw.stats() }); c.send({ type: "exit" }); clearInterval(busy); setTimeout(async () => { await gw.close(); process.exit(0) }, 500) }
})
