// The main thread's side of the WS worker threads: starts them on one port (the first binds it,
// the others join it), relays each worker's messages to the TopicHub, UserFeed, Admission and
// Router, and stops them (each closes its listen socket and sockets before exiting).
import * as net from "node:net"
import { Worker } from "node:worker_threads"
import type { GatewayLogger } from "../GatewayDeps.js"
import type { GatewayConfig } from "../GatewayConfig.js"
import { forwardedExchange } from "../http/Exchange.js"
import type { Router } from "../http/Router.js"
import type { Admission } from "../ws/Admission.js"
import type { HostSide } from "../ws/HostLink.js"
import type { TopicHub } from "../ws/TopicHub.js"
import type { UserFeed } from "../ws/UserFeed.js"
import { addTotals } from "../ws/WsMetrics.js"
import { registry } from "../../observability/Metrics.js"
import type { FromWorker, Many, ToWorker, WorkerInit } from "./Messages.js"
import { outbox } from "./Messages.js"

export interface WsThreadsDeps {
  readonly config: GatewayConfig
  readonly hub: TopicHub
  readonly users: UserFeed
  readonly admission: Admission
  readonly router: Router
  readonly log: GatewayLogger
  readonly workerUrl: URL
}

export interface WsThreads {
  readonly port: number
  stats(): { stale: number; maxBuffered: number; threads: ReadonlyArray<number> }
  close(): Promise<void>
}

interface Running {
  readonly worker: Worker
  readonly stats: { sockets: number; stale: number; maxBuffered: number }
  readonly exited: Promise<void>
  stopping: boolean
}

const threadSockets = registry.gauge("arena_ws_thread_sockets", "Leaderboard sockets each WS worker thread holds (ARENA_WS_THREADS; reported every 0.5 s)")

const STOP_TIMEOUT_MS = 10_000
const PORT_ATTEMPTS = 5

/** A free port on `host`: uWS threads can share a port they bind explicitly, not an ephemeral one. */
const freePort = (host: string): Promise<number> => new Promise((resolve, reject) => {
  const s = net.createServer()
  s.once("error", reject)
  s.listen(0, host, () => {
    const a = s.address()
    s.close(() => (a !== null && typeof a === "object" ? resolve(a.port) : reject(new Error("no port"))))
  })
})

const startOne = (deps: WsThreadsDeps, index: number, port: number): { run: Running; listening: Promise<number> } => {
  const init: WorkerInit = { config: deps.config, port, index }
  const worker = new Worker(deps.workerUrl, { workerData: init, name: `arena-ws-${index}` })
  // What this thread says to the worker within one turn (delta batches, answers) goes as one message.
  const post = outbox<ToWorker>((m) => worker.postMessage(m), queueMicrotask)
  const side: HostSide = {
    attached: (conn, topic, frames, snapshot) => post({ t: "attached", conn, topic, frames, snapshot }),
    resynced: (conn, topic, frame) => post({ t: "resynced", conn, topic, frame }),
    moved: (conn, topic, frame) => post({ t: "moved", conn, topic, frame }),
    batch: (items) => post({ t: "batch", items, at: performance.timeOrigin + performance.now() }),
    notify: (topic, json) => post({ t: "notify", topic, json })
  }
  const link = deps.hub.addHost(side)
  const feed = deps.users.forHost(side)
  // Slots admitted for this worker's sockets, released when they close (or all at once if it dies).
  const held = new Map<string, number>()
  const hold = (key: string, d: number): void => {
    const n = (held.get(key) ?? 0) + d
    if (n > 0) held.set(key, n)
    else held.delete(key)
  }
  const run: Running = {
    worker,
    stats: { sockets: 0, stale: 0, maxBuffered: 0 },
    exited: new Promise<void>((resolve) => worker.once("exit", () => resolve())),
    stopping: false
  }
  const listening = new Promise<number>((resolve, reject) => {
    const receive = (m: FromWorker | Many<FromWorker>): void => {
      switch (m.t) {
        case "many": for (const x of m.msgs) receive(x); return
        case "open": return link.hub.open(m.conn, m.spec)
        case "close": return link.hub.close(m.conn)
        case "resync": return link.hub.resync(m.conn)
        case "ack":
          for (let i = 0; i < (m.n ?? 1); i++) link.hub.ack()
          return
        case "userOpen": return feed.hub.userOpen(m.conn, m.userId)
        case "userClose": return feed.hub.userClose(m.conn)
        case "release":
          hold(`${m.route} ${m.ip}`, -1)
          return deps.admission.release(m.ip, m.route)
        case "admit": {
          const reply = (answer: Extract<ToWorker, { t: "admitted" }>["answer"]): void => {
            if (answer.ok) hold(`${m.route} ${m.req.ip}`, 1)
            post({ t: "admitted", id: m.id, answer })
          }
          if (m.route === "leaderboard") return reply(deps.admission.leaderboard(m.req))
          return void deps.admission.users(m.req).then(reply)
        }
        case "http":
          return deps.router.dispatch(forwardedExchange(m.req, (reply, extra, head) => post({ t: "http", id: m.id, reply, extra, head })))
        case "report":
          if (m.totals !== null) addTotals(m.totals)
          run.stats.sockets = m.sockets
          threadSockets.set(m.sockets, { thread: String(index) })
          run.stats.stale = m.stale
          run.stats.maxBuffered = m.maxBuffered
          return
        case "listening": return resolve(m.port)
        case "listen-failed": return reject(new Error(m.message))
        case "log": return deps.log.warn(m.message, { thread: index })
        case "stopped": return
      }
    }
    worker.on("message", receive)
    worker.on("error", (e) => {
      deps.log.error("WS worker thread failed", { index, error: e instanceof Error ? `${e.name}: ${e.message}` : String(e) })
      reject(e)
    })
    worker.once("exit", (code) => {
      link.drop()
      feed.drop()
      for (const [key, n] of held) {
        const [route, ip] = key.split(" ") as ["leaderboard" | "users", string]
        for (let i = 0; i < n; i++) deps.admission.release(ip, route)
      }
      held.clear()
      if (!run.stopping) {
        // Its listen socket and sockets cannot be recovered from another thread: fail loudly so the
        // process is restarted (state is exactly-once across restarts) rather than half-serving.
        deps.log.error("WS worker thread exited unexpectedly; exiting", { index, code })
        process.exit(70)
      }
    })
  })
  return { run, listening }
}

export const startWsThreads = async (n: number, deps: WsThreadsDeps): Promise<WsThreads> => {
  const runs: Array<Running> = []
  const stopAll = async (): Promise<void> => {
    await Promise.all(runs.splice(0).map(async (r) => {
      r.stopping = true
      r.worker.postMessage({ t: "stop" } satisfies ToWorker)
      const timer = setTimeout(() => void r.worker.terminate(), STOP_TIMEOUT_MS)
      await r.exited
      clearTimeout(timer)
    }))
  }
  const ephemeral = deps.config.port === 0
  let port = 0
  for (let attempt = 1; ; attempt++) {
    // Port 0: choose a free port first (another process could take it meanwhile: then retry).
    port = ephemeral ? await freePort(deps.config.host) : deps.config.port
    try {
      for (let i = 0; i < n; i++) {
        const started = startOne(deps, i, port)
        runs.push(started.run)
        await started.listening
      }
      break
    } catch (e) {
      await stopAll()
      if (!ephemeral || attempt >= PORT_ATTEMPTS) throw e
    }
  }
  const all = [...runs]
  let closed: Promise<void> | null = null
  return {
    port,
    stats: () => ({
      stale: all.reduce((s, r) => s + r.stats.stale, 0),
      maxBuffered: all.reduce((s, r) => Math.max(s, r.stats.maxBuffered), 0),
      threads: all.map((r) => r.stats.sockets)
    }),
    close: () => (closed ??= stopAll())
  }
}
