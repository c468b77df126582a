// Fan-out benchmark of the gateway's leaderboard feed (run after `npx tsc`, uses dist/):
//   node test/gateway/bench/fanout.mjs [subscribers=5000] [views=300]
// One topic (global, limit 100). A child process holds `subscribers` raw WebSocket clients that
// only count frames, plus 50 probe clients (connected last, so they are last in fan-out order)
// that decode frames and measure view → receive latency. The server changes one user per view,
// embedding the send time. Baseline measured in the same run: the same with 0 bulk subscribers.
import { fork } from "node:child_process"
import net from "node:net"
import os from "node:os"
import { startGateway } from "../../../dist/gateway/Gateway.js"
import { gatewayConfig } from "../../../dist/gateway/GatewayConfig.js"
import { registry } from "../../../dist/observability/Metrics.js"

const PROBES = 50

if (process.argv[2] === "--clients") {
  // ---- client process ----
  const [port, bulk] = [Number(process.argv[3]), Number(process.argv[4])]
  const lat = []
  let frames = 0
  const open = (probe) => new Promise((resolve, reject) => {
    const s = net.connect(port, "127.0.0.1")
    let buf = Buffer.alloc(0), upgraded = false
    s.on("error", reject)
    s.on("connect", () => s.write(`GET /ws/leaderboard/global?limit=100 HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n`))
    s.on("data", (d) => {
      buf = buf.length ? Buffer.concat([buf, d]) : d
      if (!upgraded) {
        const i = buf.indexOf("\r\n\r\n")
        if (i < 0) return
        upgraded = true
        buf = buf.subarray(i + 4)
        resolve()
      }
      for (;;) {
        if (buf.length < 2) return
        let len = buf[1] & 0x7f, off = 2
        if (len === 126) { if (buf.length < 4) return; len = buf.readUInt16BE(2); off = 4 }
        else if (len === 127) { if (buf.length < 10) return; len = Number(buf.readBigUInt64BE(2)); off = 10 }
        if (buf.length < off + len) return
        const op = buf[0] & 0x0f
        if (op === 1) {
          frames++
          if (probe) {
            const m = JSON.parse(buf.subarray(off, off + len).toString())
            const c = m.type === "delta" ? m.changes.find((x) => x.username.startsWith("t=")) : undefined
            if (c) lat.push(performance.timeOrigin + performance.now() - Number(c.username.slice(2)))
          }
        }
        buf = buf.subarray(off + len)
      }
    })
  })
  for (let i = 0; i < bulk; i += 200) await Promise.all(Array.from({ length: Math.min(200, bulk - i) }, () => open(false)))
  for (let i = 0; i < PROBES; i++) await open(true)
  process.send({ ready: true })
  process.on("message", (m) => { if (m.report) process.send({ lat, frames }) })
} else {
  // ---- server ----
  const bulk = Number(process.argv[2] ?? 5000), views = Number(process.argv[3] ?? 300)
  const run = async (bulkSubs) => {
    let listener = () => {}
    const users = Array.from({ length: 1000 }, (_, i) => ({ id: `u${i}`, xp: 100000 - i * 10 }))
    let seq = 1
    const view = (stamp) => {
      const sorted = [...users].sort((a, b) => b.xp - a.xp)
      return { key: { board: "global", window: "all", period: "all" }, seq, total: users.length,
        entries: sorted.slice(0, 100).map((u, i) => ({ rank: i + 1, user_id: u.id, username: u.id === stamp ? `t=${performance.timeOrigin + performance.now()}` : u.id, xp: u.xp, level: 1 })) }
    }
    const lb = { currentPeriod: () => "all", list: () => [], page: () => null, around: () => null,
      watch: () => view(null), unwatch: () => {}, onView: (l) => { listener = l; return () => {} }, onRollover: () => () => {} }
    const none = () => { throw new Error("unused") }
    const gw = await startGateway({
      leaderboards: lb, users: { profile: none, ledger: none }, ingest: { publish: none }, health: { readiness: none, metrics: () => "" },
      notifications: { onUserNotification: () => () => {}, watchUser: () => () => {} }, shares: {}, rules: { rules: none, achievements: none },
      config: gatewayConfig({ host: "127.0.0.1", port: 0, jwtSecret: "x".repeat(40), authEnabled: true, production: false },
        { rateLimit: { perIp: 1e9 }, ws: { maxConnectionsPerIp: 1e6, maxSubscriptionsPerIp: 1e6, maxConnections: 1e6 } }),
      log: { warn: () => {}, error: console.error }
    })
    const child = fork(new URL(import.meta.url).pathname, ["--clients", String(gw.port), String(bulkSubs)])
    await new Promise((r) => child.once("message", r))
    const hist = registry.histogram("arena_ws_publish_latency_seconds", "", [])
    const before = hist.snapshot()
    const t0 = performance.now()
    for (let v = 0; v < views; v++) {
      const u = users[(v * 37) % users.length]
      u.xp += 1 + (v % 50) * 25
      seq++
      listener(view(u.id))
      await new Promise((r) => setTimeout(r, 20))
    }
    const wall = performance.now() - t0
    await new Promise((r) => setTimeout(r, 500))
    child.send({ report: true })
    const rep = await new Promise((r) => child.on("message", (m) => { if (m.lat) r(m) }))
    child.kill()
    const after = hist.snapshot()
    await gw.close()
    const lat = rep.lat.sort((a, b) => a - b)
    const q = (p) => lat[Math.min(lat.length - 1, Math.floor(p * lat.length))]?.toFixed(2)
    return { bulkSubs, frames: rep.frames, probeSamples: lat.length, p50: q(0.5), p99: q(0.99), max: lat[lat.length - 1]?.toFixed(2),
      serverPublishMeanUs: (((after.sum - before.sum) / (after.count - before.count)) * 1e6).toFixed(0), wallMs: wall.toFixed(0) }
  }
  console.log(`machine: ${os.cpus().length} × ${os.cpus()[0].model}, Node ${process.version}`)
  const base = await run(0)
  const loaded = await run(bulk)
  console.table([base, loaded])
  console.log(`probe p99 ratio loaded/baseline: ${(Number(loaded.p99) / Number(base.p99)).toFixed(1)}×; server view→publish mean ${base.serverPublishMeanUs} → ${loaded.serverPublishMeanUs} µs`)
  process.exit(0)
}
