// Baseline: a bare uWebSockets.js broadcaster. Same URLs as Arena's leaderboard feed (topic =
// board|limit), no pipeline, no per-socket bookkeeping: it replays a frame schedule (time offset,
// topic, size) recorded from Arena's run, each frame padded to the recorded size and stamped with
// its send time. `--threads 0`: one App on the main thread; N: N worker Apps on one port (the
// kernel spreads connections), the main thread schedules and posts each frame to every worker.
import * as fs from "node:fs"
import * as net from "node:net"
import { Worker, isMainThread, parentPort, workerData } from "node:worker_threads"
import { parseArgs } from "node:util"
import uWS from "uWebSockets.js"

const now = () => performance.timeOrigin + performance.now()

const serveApp = (port, onReady) => {
  const app = uWS.App()
  const seqs = new Map()
  app.ws("/ws/leaderboard/:board", {
    compression: uWS.DISABLED, maxBackpressure: 1024 * 1024, idleTimeout: 60, sendPingsAutomatically: true, maxPayloadLength: 1024,
    upgrade: (res, req, ctx) => {
      const limit = new URLSearchParams(req.getQuery() ?? "").get("limit") ?? "100"
      const topic = `${decodeURIComponent(req.getParameter(0))}|${limit}`
      res.upgrade({ topic }, req.getHeader("sec-websocket-key"), req.getHeader("sec-websocket-protocol"), req.getHeader("sec-websocket-extensions"), ctx)
    },
    open: (ws) => {
      const { topic } = ws.getUserData()
      ws.subscribe(topic)
      ws.send(`{"type":"snapshot","epoch":"bare","seq":${seqs.get(topic) ?? 0},"entries":[]}`)
    }
  })
  app.listen("127.0.0.1", port, (s) => onReady(s, s ? uWS.us_socket_local_port(s) : 0))
  // One frame: JSON with the delta's chain fields and send time, padded to the recorded size.
  const publish = (topic, size, t) => {
    const prev = seqs.get(topic) ?? 0
    seqs.set(topic, prev + 1)
    const head = `{"type":"delta","epoch":"bare","prev_seq":${prev},"seq":${prev + 1},"t":${t},"p":"`
    app.publish(topic, head + "x".repeat(Math.max(0, size - head.length - 4)) + `"}`)
  }
  return { app, publish }
}

if (!isMainThread) {
  let listen = null
  let port = 0
  const { app, publish } = serveApp(workerData.port, (s, p) => { listen = s; port = p })
  parentPort.postMessage({ type: "listening", port })
  parentPort.on("message", (m) => {
    if (m.type === "frames") for (const [topic, size, t] of m.frames) publish(topic, size, t)
    if (m.type === "stop") { if (listen) uWS.us_listen_socket_close(listen); app.close(); parentPort.close() }
  })
} else {
  const { values: a } = parseArgs({ options: { threads: { type: "string" }, trace: { type: "string" } } })
  const threads = Number(a.threads ?? 0)
  const trace = JSON.parse(fs.readFileSync(a.trace, "utf8"))
  let sendAll, stop
  if (threads === 0) {
    let listen = null
    let port = 0
    const { publish } = serveApp(0, (ls, p) => { listen = ls; port = p })
    process.send({ type: "listening", port })
    sendAll = (frames) => { for (const [topic, size, t] of frames) publish(topic, size, t) }
    stop = () => uWS.us_listen_socket_close(listen)
  } else {
    const workers = []
    // Threads can share a port they bind explicitly (SO_REUSEPORT), not an ephemeral one.
    const port = await new Promise((resolve) => {
      const s = net.createServer().listen(0, "127.0.0.1", () => { const p = s.address().port; s.close(() => resolve(p)) })
    })
    for (let i = 0; i < threads; i++) {
      const w = new Worker(new URL(import.meta.url), { workerData: { port } })
      const got = await new Promise((r) => w.once("message", (m) => r(m.port)))
      if (got !== port) throw new Error(`bare worker ${i} could not listen on ${port}`)
      workers.push(w)
    }
    process.send({ type: "listening", port })
    sendAll = (frames) => { for (const w of workers) w.postMessage({ type: "frames", frames }) }
    stop = () => { for (const w of workers) w.postMessage({ type: "stop" }) }
  }
  process.on("message", async (m) => {
    if (m.type !== "start") return
    const t0 = performance.now()
    let i = 0
    while (i < trace.length) {
      const due = performance.now() - t0
      const frames = []
      const t = now()
      while (i < trace.length && trace[i][0] <= due) { frames.push([trace[i][1], trace[i][2], t]); i++ }
      if (frames.length > 0) sendAll(frames)
      await new Promise((r) => setTimeout(r, 1))
    }
    process.send({ type: "done", frames: trace.length, cpu: process.cpuUsage() })
  })
  process.on("message", (m) => { if (m.type === "exit") { stop(); setTimeout(() => process.exit(0), 200) } })
}
