import uWS from "uWebSockets.js"
import { fork } from "node:child_process"
import { Worker, isMainThread, parentPort } from "node:worker_threads"
if (!isMainThread) {
  parentPort.on("message", (m) => { const t = Date.now() + (Math.random() < 0.05 ? 40 : 0); while (Date.now() < t); parentPort.postMessage(m) })
} else {
  const echo = new Worker(new URL(import.meta.url))
  const app = uWS.App()
  let opens = 0, early = 0, id = 0
  const waiting = new Map()
  echo.on("message", (m) => { const f = waiting.get(m); waiting.delete(m); f() })
  app.ws("/ws/leaderboard/:board", {
    idleTimeout: 60, sendPingsAutomatically: true, maxPayloadLength: 1024, compression: uWS.DISABLED, maxBackpressure: 1 << 20,
    upgrade: (res, req, ctx) => {
      const key = req.getHeader("sec-websocket-key"), p = req.getHeader("sec-websocket-protocol"), e = req.getHeader("sec-websocket-extensions")
      const st = { aborted: false }
      res.onAborted(() => { st.aborted = true })
      const my = ++id
      new Promise((r) => { waiting.set(my, r); echo.postMessage(my) }).then(() => { if (!st.aborted) res.cork(() => res.upgrade({ t: 0 }, key, p, e, ctx)) })
    },
    open: (ws) => { opens++; ws.getUserData().t = Date.now() },
    close: (ws, code) => { if (Date.now() - ws.getUserData().t < 1000) { early++; console.log("early close", code) } }
  })
  app.listen("127.0.0.1", 0, (s) => {
    const c = fork(new URL("./clients.mjs", import.meta.url).pathname, ["--port", String(uWS.us_socket_local_port(s)), "--from", "0", "--count", "8000", "--ipBase", "42", "--readEvery", "1000"])
    c.on("message", (m) => {
      if (m.type === "ready") setTimeout(() => c.send({ type: "report" }), 3000)
      if (m.type === "report") { console.log({ closed: m.closed, opens, early }); c.send({ type: "exit" }); uWS.us_listen_socket_close(s); echo.terminate(); setTimeout(() => process.exit(0), 500) }
    })
  })
}
