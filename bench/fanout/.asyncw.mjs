import uWS from "uWebSockets.js"
import { fork } from "node:child_process"
import { Worker, isMainThread, parentPort } from "node:worker_threads"
if (!isMainThread) {
  const app = uWS.App()
  let opens = 0, early = 0, id = 0
  const anchors = new Set()
  const waiting = new Map()
  parentPort.on("message", (m) => { if (m.t === "ok") { const f = waiting.get(m.id); waiting.delete(m.id); f() } else if (m.t === "stats") parentPort.postMessage({ t: "stats", opens, early }) })
  app.ws("/ws/leaderboard/:board", {
    idleTimeout: Number(process.env.IDLE ?? 60), sendPingsAutomatically: process.env.PINGS !== "0", maxPayloadLength: 1024, compression: uWS.DISABLED, maxBackpressure: 1 << 20,
    upgrade: (res, req, ctx) => {
      const key = req.getHeader("sec-websocket-key"), p = req.getHeader("sec-websocket-protocol"), e = req.getHeader("sec-websocket-extensions")
      const st = { aborted: false }
      res.onAborted(() => { st.aborted = true })
      if (process.env.SYNC) return res.upgrade({ t: 0 }, key, p, e, ctx)
      if (process.env.NOCORK) return setTimeout(() => { if (!st.aborted) res.upgrade({ t: 0 }, key, p, e, ctx) }, Math.random() * 50)
      if (process.env.NEST) return setTimeout(() => { if (st.aborted) return; const a = anchors.values().next().value; if (a) a.cork(() => res.cork(() => res.upgrade({ t: 0 }, key, p, e, ctx))); else res.upgrade({ t: 0 }, key, p, e, ctx) }, Math.random() * 50)
      if (process.env.ANCHOR) return setTimeout(() => { if (st.aborted) return; const a = anchors.values().next().value; if (a) a.cork(() => res.upgrade({ t: 0 }, key, p, e, ctx)); else res.cork(() => res.upgrade({ t: 0 }, key, p, e, ctx)) }, Math.random() * 50)
      if (process.env.TIMER) return setTimeout(() => { if (!st.aborted) res.cork(() => res.upgrade({ t: 0 }, key, p, e, ctx)) }, Math.random() * 50)
      const my = ++id
      new Promise((r) => { waiting.set(my, r); parentPort.postMessage({ t: "admit", id: my }) }).then(() => { if (!st.aborted) res.cork(() => res.upgrade({ t: 0 }, key, p, e, ctx)) })
    },
    open: (ws) => { anchors.add(ws); opens++; ws.getUserData().t = Date.now(); parentPort.postMessage({ t: "open" }) },
    close: (ws, code) => { anchors.delete(ws); if (Date.now() - ws.getUserData().t < 1000) { early++; console.log("early close", code) } }
  })
  app.any("/*", (res) => res.end("x"))
  app.listen("127.0.0.1", 47999, (s) => parentPort.postMessage({ t: "listening" }))
} else {
  const w = new Worker(new URL(import.meta.url))
  w.on("message", (m) => {
    if (m.t === "admit") w.postMessage({ t: "ok", id: m.id })
    if (m.t === "stats") { console.log(m) }
    if (m.t === "listening") {
      const busy = setInterval(() => { const t = Date.now() + (process.env.NOBUSY ? 0 : 20 + Math.random() * 60); while (Date.now() < t); }, 50)
      const c = fork(new URL("./clients.mjs", import.meta.url).pathname, ["--port", "47999", "--from", "0", "--count", "8000", "--ipBase", "41", "--readEvery", "1000"])
      c.on("message", (m) => {
        if (m.type === "ready") setTimeout(() => c.send({ type: "report" }), 3000)
        if (m.type === "report") { console.log(`closed ${m.closed}`); c.send({ type: "exit" }); clearInterval(busy); setTimeout(() => process.exit(0), 500) }
      })
    }
  })
}
