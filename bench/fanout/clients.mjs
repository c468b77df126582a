// Load clients (a child process of run.mjs): `count` raw WebSocket sockets that only count frames
// (no JSON), each from a 127.x address so the gateway's per-IP limits hold. Each socket reads in
// bulk once per `readEvery` ms (a rotating slice is resumed, the previous one paused): the server
// still sends every frame as it happens, the client wakes once per batch. Reports over IPC.
import { parseArgs } from "node:util"
import { openMany, sourceIp } from "./wsclient.mjs"
import { pathOf, planOf } from "./plan.mjs"

const { values: a } = parseArgs({ options: {
  port: { type: "string" }, from: { type: "string" }, count: { type: "string" }, ipBase: { type: "string" }, readEvery: { type: "string" }
} })
const port = Number(a.port), from = Number(a.from), count = Number(a.count), ipBase = Number(a.ipBase)
const specs = Array.from({ length: count }, (_, i) => ({ path: pathOf(planOf(from + i)), localAddress: sourceIp(ipBase, i, 50) }))
const t0 = Date.now()
const socks = await openMany(specs, () => ({ port }))
process.send({ type: "ready", count: socks.length, ms: Date.now() - t0 })

const SLICES = 10, every = Number(a.readEvery ?? 1000)
if (every > 0) {
  for (const s of socks) s.socket.pause()
  let slice = 0
  setInterval(() => {
    for (let i = slice; i < socks.length; i += SLICES) socks[i].socket.pause()
    slice = (slice + 1) % SLICES
    for (let i = slice; i < socks.length; i += SLICES) socks[i].socket.resume()
  }, every / SLICES)
}

let mark = null, base = { frames: 0, bytes: 0 }, cpuMark = null
const totals = () => {
  let frames = 0, bytes = 0, resyncs = 0, closed = 0, silent = 0
  for (let i = 0; i < socks.length; i++) {
    const s = socks[i]
    frames += s.frames; bytes += s.bytes; closed += s.closed ? 1 : 0
    resyncs += Math.max(0, s.snapshots - 1)
    if (mark !== null && s.frames === mark[i]) silent++
  }
  // Frames and bytes since the mark (the measured window).
  return { frames: frames - base.frames, bytes: bytes - base.bytes, resyncs, closed, silent }
}
process.on("message", (m) => {
  if (m.type === "mark") { base = { frames: 0, bytes: 0 }; base = totals(); mark = socks.map((s) => s.frames); cpuMark = process.cpuUsage(); process.send({ type: "marked" }) }
  if (m.type === "report") {
    const why = {}
    for (const [i, s] of socks.entries()) {
      if (!s.closed) continue
      const k = `${s.why ?? "closed by peer"} (${specs[i].path} after ${((s.closedAt - s.openedAt) / 1000).toFixed(1)} s, ${s.frames} frames)`
      why[k] = (why[k] ?? 0) + 1
    }
    // CPU of the measured window only (connecting 10k sockets costs more than holding them).
    process.send({ type: "report", cpu: process.cpuUsage(cpuMark ?? undefined), closedWhy: why, ...totals() })
  }
  if (m.type === "exit") { for (const s of socks) s.socket.destroy(); setTimeout(() => process.exit(0), 100) }
})
