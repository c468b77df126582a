// Probe clients (a lightly loaded child process of run.mjs, connected after every load socket, so
// last in fan-out order): decode every frame, check each subscription's prev_seq chain, and log
// each delta (receive time, seq range, changed users, size) for the latency join in run.mjs.
import * as fs from "node:fs"
import { parseArgs } from "node:util"
import { openMany, sourceIp } from "./wsclient.mjs"
import { pathOf, planOf, topicOf } from "./plan.mjs"

const { values: a } = parseArgs({ options: { port: { type: "string" }, count: { type: "string" }, ipBase: { type: "string" }, out: { type: "string" } } })
const port = Number(a.port), count = Number(a.count), ipBase = Number(a.ipBase)
const now = () => performance.timeOrigin + performance.now()
const log = []
let recording = false
const chains = { deltas: 0, gaps: 0, snapshots: 0, resyncs: 0, badJson: 0, epochs: 0 }

const specs = Array.from({ length: count }, (_, k) => ({ path: pathOf(planOf(k)), localAddress: sourceIp(ipBase, k, 50) }))
const socks = await openMany(specs, (k) => {
  const topic = topicOf(planOf(k))
  let seq = -1, epoch = null
  return {
    port, decode: true,
    onText: (buf, bytes) => {
      const t = now()
      let m
      try { m = JSON.parse(buf.toString("utf8")) } catch { chains.badJson++; return }
      if (m.type === "snapshot") {
        chains.snapshots++
        if (seq !== -1) chains.resyncs++
        if (epoch !== null && m.epoch !== epoch) chains.epochs++
        seq = m.seq; epoch = m.epoch
        return
      }
      chains.deltas++
      if (m.prev_seq !== seq) chains.gaps++
      seq = m.seq
      // A send time stamped by the bare broadcaster (m.t), or by the gateway-only bench in the
      // usernames of changed rows ("t=<ms>": the oldest change shown).
      let stamp = m.t ?? 0
      if (stamp === 0) for (const c of m.changes ?? []) if (c.username?.startsWith("t=")) { const x = Number(c.username.slice(2)); if (x > 0 && (stamp === 0 || x < stamp)) stamp = x }
      if (recording) log.push([topic, m.prev_seq, m.seq, t, bytes, stamp, (m.changes ?? []).map((c) => c.user_id).join(" ")])
    }
  }
}, 20)
process.send({ type: "ready", count: socks.length })

process.on("message", (m) => {
  if (m.type === "record") recording = m.on
  if (m.type === "report") {
    fs.writeFileSync(a.out, log.map((r) => JSON.stringify(r)).join("\n"))
    const closed = socks.filter((s) => s.closed).length
    process.send({ type: "report", cpu: process.cpuUsage(), records: log.length, closed, ...chains })
  }
  if (m.type === "exit") { for (const s of socks) s.socket.destroy(); setTimeout(() => process.exit(0), 100) }
})
