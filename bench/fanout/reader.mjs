// The bare baseline's stream load (run.mjs --bare-stream): an ordered consumer of `stream` that
// JSON-parses every message and keeps each board's top 10 by XP summed per user — the bare
// server "that only tracks top-10s (no rules, no state)" — so the bare run carries the same
// producer → NATS → consumer load as Arena's run. Runs until told to stop; reports messages read and CPU.
import { parseArgs } from "node:util"
import { connect } from "@nats-io/transport-node"
import { DeliverPolicy, jetstream } from "@nats-io/jetstream"

const { values: a } = parseArgs({ options: { stream: { type: "string" } } })
const nc = await connect({ servers: process.env.NATS_URL ?? "nats://127.0.0.1:4222" })
const js = jetstream(nc)
const c = await js.consumers.get(a.stream, { deliver_policy: DeliverPolicy.New })
const it = await c.consume({ max_messages: 4096 })
const cpu0 = process.cpuUsage()
const t0 = performance.now()
const xp = new Map()
const top = new Map()
const track = (board, user, v) => {
  let t = top.get(board)
  if (t === undefined) top.set(board, (t = []))
  const i = t.findIndex((e) => e.user === user)
  if (i >= 0) t.splice(i, 1)
  if (t.length < 10 || v > t[t.length - 1].xp) {
    t.push({ user, xp: v })
    t.sort((x, y) => y.xp - x.xp)
    if (t.length > 10) t.pop()
  }
}
let n = 0
process.on("message", async (m) => {
  if (m.type !== "stop") return
  await it.close()
  const cpu = process.cpuUsage(cpu0)
  process.send({ type: "done", read: n, cpuMs: (cpu.user + cpu.system) / 1000, wallMs: performance.now() - t0 })
  await nc.close()
  process.exit(0)
})
process.send({ type: "started" })
for await (const m of it) {
  const ev = JSON.parse(new TextDecoder().decode(m.data))
  n++
  const key = `${ev.user_id}|${ev.agent_name}`
  const total = (xp.get(ev.user_id) ?? 0) + 10
  xp.set(ev.user_id, total)
  const agent = (xp.get(key) ?? 0) + 10
  xp.set(key, agent)
  track("global", ev.user_id, total)
  track(`agent:${ev.agent_name}`, ev.user_id, agent)
}
