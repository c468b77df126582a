// quick: bare broadcaster 19k sockets, 1 frame/s/socket of 600 B for 20 s; client CPU by readEvery
import { fork } from "node:child_process"
import * as fs from "node:fs"
import { threadsCpu } from "./procs.mjs"
const readEvery = process.argv[2] ?? "5000"
const trace = []
const topics = ["global|10", "global|25", "global|50", "global|100"]
for (let t = 0; t < 20000; t += 10) for (const tp of topics) if (Math.random() < 0.5) trace.push([t, tp, 600])
fs.writeFileSync("/tmp/cc-trace.json", JSON.stringify(trace))
const srv = fork(new URL("./bare.mjs", import.meta.url).pathname, ["--threads", "2", "--trace", "/tmp/cc-trace.json"])
const port = await new Promise((r) => srv.on("message", (m) => m.type === "listening" && r(m.port)))
const c = fork(new URL("./clients.mjs", import.meta.url).pathname, ["--port", String(port), "--from", "0", "--count", "9500", "--ipBase", "60", "--readEvery", readEvery])
await new Promise((r) => c.on("message", (m) => m.type === "ready" && r()))
const a = threadsCpu(c.pid), s0 = threadsCpu(srv.pid)
srv.send({ type: "start" })
await new Promise((r) => srv.on("message", (m) => m.type === "done" && r()))
const b = threadsCpu(c.pid), s1 = threadsCpu(srv.pid)
let u = 0, s = 0; for (const [tid, x] of b) { const y = a.get(tid) ?? { user: 0, sys: 0 }; u += x.user - y.user; s += x.sys - y.sys }
let su = 0, ss = 0; for (const [tid, x] of s1) { const y = s0.get(tid) ?? { user: 0, sys: 0 }; su += x.user - y.user; ss += x.sys - y.sys }
c.send({ type: "report" })
const rep = await new Promise((r) => c.on("message", (m) => m.type === "report" && r(m)))
console.log(`readEvery ${readEvery}: frames ${rep.frames}, client user ${u.toFixed(2)} s sys ${s.toFixed(2)} s → ${((u + s) / rep.frames * 1e6).toFixed(1)} µs/frame; server user ${su.toFixed(2)} sys ${ss.toFixed(2)} → ${((su + ss) / rep.frames * 1e6).toFixed(1)} µs/frame`)
c.send({ type: "exit" }); srv.send({ type: "exit" }); setTimeout(() => process.exit(0), 800)
