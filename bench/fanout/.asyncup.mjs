import uWS from "uWebSockets.js"
import { fork } from "node:child_process"
const mode = process.argv[2] ?? "async"
const app = uWS.App()
let opens = 0, closes = 0, early = 0
const queue = []
setInterval(() => { for (const f of queue.splice(0)) f() }, 50)
app.ws("/ws/leaderboard/:board", {
  idleTimeout: 60, sendPingsAutomatically: true, maxPayloadLength: 1024, compression: uWS.DISABLED, maxBackpressure: 1 << 20,
  upgrade: (res, req, ctx) => {
    const key = req.getHeader("sec-websocket-key"), p = req.getHeader("sec-websocket-protocol"), e = req.getHeader("sec-websocket-extensions")
    if (mode === "sync") return res.upgrade({ t: 0 }, key, p, e, ctx)
    const st = { aborted: false }
    res.onAborted(() => { st.aborted = true })
    const go = () => { if (!st.aborted) res.cork(() => res.upgrade({ t: 0 }, key, p, e, ctx)) }
    if (mode === "batch") queue.push(go)
    else if (mode === "batchp") queue.push(() => Promise.resolve().then(go))
    else setTimeout(go, Math.random() * 30)
  },
  open: (ws) => { opens++; ws.getUserData().t = Date.now(); setTimeout(() => { try { ws.send('{"type":"snapshot","seq":0}') } catch {} }, 5) },
  close: (ws, code) => { closes++; if (Date.now() - ws.getUserData().t < 1000) { early++; if (early < 5) console.log("early close", code) } }
})
app.listen("127.0.0.1", 0, (s) => {
  const port = uWS.us_socket_local_port(s)
  const c = fork(new URL("./clients.mjs", import.meta.url).pathname, ["--port", String(port), "--from", "0", "--count", "8000", "--ipBase", "30", "--readEvery", "1000"])
  c.on("message", (m) => {
    if (m.type === "ready") setTimeout(() => c.send({ type: "report" }), 3000)
    if (m.type === "report") { console.log(mode, { opens, closes, early, closedWhy: m.closedWhy, closed: m.closed }); c.send({ type: "exit" }); uWS.us_listen_socket_close(s); setTimeout(() => process.exit(0), 300) }
  })
})
