// The event generator (a child process of run.mjs): publishes `rate` events/s of the deterministic
// synthetic stream (src/cli/Producer.ts) to JetStream for `seconds`, with acks bounded in flight,
// and logs seq → (publish time, user, agent) from each PubAck for the latency join.
import * as fs from "node:fs"
import { parseArgs } from "node:util"
import { connect } from "@nats-io/transport-node"
import { jetstream } from "@nats-io/jetstream"
import { makeGenerator } from "../../dist/cli/Producer.js"

const { values: a } = parseArgs({ options: {
  subject: { type: "string" }, rate: { type: "string" }, users: { type: "string" }, seconds: { type: "string" }, out: { type: "string" }, seed: { type: "string" }
} })
const rate = Number(a.rate), seconds = Number(a.seconds)
const total = Math.round(rate * seconds)
const nc = await connect({ servers: process.env.NATS_URL ?? "nats://127.0.0.1:4222" })
const js = jetstream(nc)
const gen = makeGenerator({ users: Number(a.users), agents: 20, seed: Number(a.seed ?? 7), idPrefix: `fan${process.pid}` })
const now = () => performance.timeOrigin + performance.now()
const rec = { seq: [], t: [], user: [], agent: [] }
const inflight = new Set()
let sent = 0, failed = 0, late = 0
const cpu0 = process.cpuUsage()
const t0 = performance.now()
process.send({ type: "started", at: now() })
// Time-bound: publishing stops at the end of `seconds` whatever is left of the schedule (a producer
// that fell behind on a saturated machine used to catch up for minutes after the hold, past its
// caller's wait: the --bare-stream curve at 8,000 ev/s). `sent` says what went out.
// One second of grace: a producer on time sends its last due events (the schedule floors) before it.
const deadline = t0 + seconds * 1000 + 1000
while (sent < total && performance.now() < deadline) {
  const due = Math.min(total, Math.floor(((performance.now() - t0) * rate) / 1000))
  while (sent < due && performance.now() < deadline) {
    const ev = gen(sent)
    const t = now()
    ev.metadata = { t }
    const p = js.publish(a.subject, JSON.stringify(ev), { msgID: ev.event_id, timeout: 30_000 })
      .then((ack) => { rec.seq.push(ack.seq); rec.t.push(t); rec.user.push(ev.user_id); rec.agent.push(ev.agent_name) }, () => { failed++ })
    inflight.add(p)
    void p.finally(() => inflight.delete(p))
    sent++
    if (inflight.size >= 2000) { late++; await Promise.race(inflight) }
  }
  await new Promise((r) => setTimeout(r, 1))
}
await Promise.all(inflight)
const cpu = process.cpuUsage(cpu0)
fs.writeFileSync(a.out, JSON.stringify(rec))
process.send({ type: "done", sent, scheduled: total, failed, late, wallMs: performance.now() - t0, cpuMs: (cpu.user + cpu.system) / 1000 })
await nc.close()
process.exit(0)
