// A WS worker thread (ARENA_WS_THREADS ≥ 1): its own uWS App on the shared port (the kernel spreads
// connections over the workers), holding the WebSocket sockets it accepted and forwarding all other
// HTTP to the main thread. Topic history, admission and routes stay on the main thread.
import { parentPort, workerData } from "node:worker_threads"
import type { ForwardedRequest } from "../http/Exchange.js"
import { clientIpOf } from "../http/Exchange.js"
import { assertNativeUws, uWS } from "../Uws.js"
import type { us_listen_socket } from "../Uws.js"
import type { UpgradeGate } from "../ws/LeaderboardSocket.js"
import { wsBehaviors } from "../ws/LeaderboardSocket.js"
import { holdAnchor } from "../ws/Anchor.js"
import { SocketHost } from "../ws/SocketHost.js"
import { countingMetrics } from "../ws/WsMetrics.js"
import type { HttpAnswer } from "./ForwardHttp.js"
import { forwardHttp } from "./ForwardHttp.js"
import type { FromWorker, LeaderboardAdmit, Many, ToWorker, UserAdmit, WorkerInit } from "./Messages.js"
import { outbox } from "./Messages.js"

const REPORT_MS = 500

if (parentPort === null) throw new Error("wsWorker runs as a worker thread")
const port = parentPort
const init = workerData as WorkerInit
const cfg = init.config
// Everything this thread says within one loop iteration (opens, acks, forwarded requests) goes
// in one message, sent once the iteration's I/O callbacks have run.
const post = outbox<FromWorker>((m) => port.postMessage(m), setImmediate)
assertNativeUws()

const app = uWS.App()
const metrics = countingMetrics()
let publishedAt = 0
/** Batches published in this iteration, acknowledged once their frames are written. */
let owed = 0
const wroteAll = (): void => {
  metrics.written((performance.now() - publishedAt) / 1000)
  publishedAt = 0
  // Not through the outbox (an immediate of its own would run in the next iteration): at once.
  if (owed > 0) port.postMessage({ t: "ack", n: owed } satisfies FromWorker)
  owed = 0
}

const host = new SocketHost(app, cfg.ws, metrics)
host.bind({
  open: (conn, spec) => post({ t: "open", conn, spec }),
  close: (conn) => post({ t: "close", conn }),
  resync: (conn) => post({ t: "resync", conn }),
  // Acknowledged once written (wroteAll), not when published: the hub then sends one batch per
  // write, made of every view up to the moment this thread is free to take it, instead of a batch
  // that waits in the port for the whole of the current write (TopicHub MAX_IN_FLIGHT).
  ack: () => { owed++ },
  userOpen: (conn, userId) => post({ t: "userOpen", conn, userId }),
  userClose: (conn) => post({ t: "userClose", conn }),
  release: (ip, route) => post({ t: "release", ip, route })
})
host.start()

// Request/answer pairs with the main thread, by id.
let nextId = 1
const waiting = new Map<number, (answer: LeaderboardAdmit | UserAdmit | HttpAnswer) => void>()
const ask = <A>(send: (id: number) => FromWorker): Promise<A> => new Promise<A>((resolve) => {
  const id = nextId++
  waiting.set(id, resolve as (a: LeaderboardAdmit | UserAdmit | HttpAnswer) => void)
  post(send(id))
})
const answer = (id: number, a: LeaderboardAdmit | UserAdmit | HttpAnswer): void => {
  const r = waiting.get(id)
  waiting.delete(id)
  r?.(a)
}

const gate: UpgradeGate = {
  leaderboard: (req) => ask<LeaderboardAdmit>((id) => ({ t: "admit", id, route: "leaderboard", req })),
  users: (req) => ask<UserAdmit>((id) => ({ t: "admit", id, route: "users", req })),
  abandon: (ip, route) => post({ t: "release", ip, route })
}
const clientIp = clientIpOf(cfg.trustProxy)
const behaviors = wsBehaviors(host, gate, cfg.ws, clientIp)
app.ws("/ws/leaderboard/:board", behaviors.leaderboard)
app.ws("/ws/leaderboard/:board/around/:user_id", behaviors.around)
app.ws("/ws/users/:user_id", behaviors.users)
app.any("/*", forwardHttp(cfg.bodyLimitBytes, clientIp, (req: ForwardedRequest) => ask<HttpAnswer>((id) => ({ t: "http", id, req }))))

// Counts every report; the O(sockets) largest-buffer scan every SCAN_EVERY reports (5 s).
const SCAN_EVERY = 10
let reports = 0
const report = setInterval(() => post({ t: "report", totals: metrics.take(), ...host.stats(++reports % SCAN_EVERY === 0) }), REPORT_MS)

let listenSocket: us_listen_socket | null = null
let stopAnchor = (): void => undefined
// The cork anchor opens before clients can connect (ws/Anchor.ts).
void holdAnchor(app, behaviors.anchors, (message) => post({ t: "log", level: "warn", message })).then((stop) => {
  stopAnchor = stop
  app.listen(cfg.host, init.port, (s) => {
    if (s === false) return post({ t: "listen-failed", message: `gateway could not listen on ${cfg.host}:${init.port} (address in use?)` })
    listenSocket = s
    post({ t: "listening", port: uWS.us_socket_local_port(s) })
  })
})

const receive = (m: ToWorker | Many<ToWorker>): void => {
  switch (m.t) {
    case "many": for (const x of m.msgs) receive(x); return
    case "batch":
      metrics.handoff(Math.max(0, performance.timeOrigin + performance.now() - m.at) / 1000)
      host.batch(m.items)
      // uWS writes what was published when this iteration's I/O ends (its check handle started
      // last, so libuv runs it before Node's immediates): the immediate runs once they are written.
      if (publishedAt === 0) {
        publishedAt = performance.now()
        setImmediate(wroteAll)
      }
      return
    case "attached": return host.attached(m.conn, m.topic, m.frames, m.snapshot)
    case "resynced": return host.resynced(m.conn, m.topic, m.frame)
    case "moved": return host.moved(m.conn, m.topic, m.frame)
    case "notify": return host.notify(m.topic, m.json)
    case "admitted": return answer(m.id, m.answer)
    case "http": return answer(m.id, { reply: m.reply, extra: m.extra, head: m.head })
    case "stop": return stop()
  }
}
port.on("message", receive)

const stop = (): void => {
  // The listen socket must be closed before this thread exits, or Node aborts at exit.
  stopAnchor()
  if (listenSocket !== null) uWS.us_listen_socket_close(listenSocket)
  listenSocket = null
  // Force-closes every socket; their close handlers still run and tell the main thread.
  ;(app as unknown as { close(): void }).close()
  setImmediate(() => {
    host.stop()
    clearInterval(report)
    port.postMessage({ t: "report", totals: metrics.take(), sockets: 0, stale: 0, maxBuffered: 0 } satisfies FromWorker)
    port.postMessage({ t: "stopped" } satisfies FromWorker)
    port.close()
  })
}
