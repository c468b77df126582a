// The sockets of one thread (the main thread, or one WS worker): publishes the hub's deltas to its
// uWS topics, skips sockets whose send buffer is over the bound (stale) and asks the hub for a
// fresh snapshot once they drain; attaches, moves and detaches sockets as the hub answers.
import type { WsConfig } from "../GatewayConfig.js"
import type { TemplatedApp } from "../Uws.js"
import type { HostMetrics, HostSide, HubSide } from "./HostLink.js"
import type { LbConn, UserConn } from "./LbConn.js"
import { userTopic } from "./LbConn.js"

const SWEEP_MS = 1000
const unbound = (): never => { throw new Error("SocketHost used before bind()") }
const UNBOUND: HubSide = { open: unbound, close: unbound, resync: unbound, ack: unbound, userOpen: unbound, userClose: unbound, release: unbound }

export class SocketHost implements HostSide {
  private nextId = 1
  private readonly conns = new Map<number, LbConn>()
  private readonly byTopic = new Map<string, Set<LbConn>>()
  private readonly stale = new Set<LbConn>()
  private timer: ReturnType<typeof setInterval> | null = null
  private hub: HubSide = UNBOUND
  private lastMaxBuffered = 0
  /**
   * Topics whose sockets were checked against staleBytes in this loop iteration, with how many
   * receive: what is published is written when the iteration ends, so no buffer changes meanwhile
   * and further batches of the iteration skip the O(subscribers) check. Cleared by an immediate.
   */
  private readonly checked = new Map<string, number>()
  private clearQueued = false
  private readonly clearChecked = (): void => {
    this.clearQueued = false
    this.checked.clear()
  }

  constructor(private readonly app: TemplatedApp, private readonly cfg: WsConfig, private readonly metrics: HostMetrics) {}

  /** Connects this host to the hub (a direct object, or a MessagePort relay in a worker). */
  bind(hub: HubSide): void {
    this.hub = hub
  }

  start(): void {
    this.timer = setInterval(() => { for (const c of [...this.stale]) this.drain(c) }, SWEEP_MS)
    this.timer.unref()
  }

  stop(): void {
    if (this.timer !== null) clearInterval(this.timer)
    this.timer = null
  }

  /**
   * Diagnostics: leaderboard sockets, stale ones, and the largest send buffer. `scan` = false
   * reuses the last scan's largest buffer (the scan is O(sockets): at 10k sockets a scan every
   * 500 ms cost a worker about a third as much as publishing its deltas).
   */
  stats(scan = true): { sockets: number; stale: number; maxBuffered: number } {
    if (scan) {
      let maxBuffered = 0
      for (const c of this.conns.values()) if (c.ws !== null) maxBuffered = Math.max(maxBuffered, c.ws.getBufferedAmount())
      this.lastMaxBuffered = maxBuffered
    }
    return { sockets: this.conns.size, stale: this.stale.size, maxBuffered: this.lastMaxBuffered }
  }

  // ---- uWS events of this thread's sockets ----

  openLeaderboard(conn: LbConn): void {
    conn.id = this.nextId++
    this.conns.set(conn.id, conn)
    this.hub.open(conn.id, conn.spec)
  }

  closeLeaderboard(conn: LbConn): void {
    // uWS unsubscribes a closed socket by itself.
    this.conns.delete(conn.id)
    this.stale.delete(conn)
    if (conn.topic !== null) this.unplace(conn, conn.topic)
    conn.ws = null
    this.hub.close(conn.id)
    this.hub.release(conn.ip, "leaderboard")
  }

  /** uWS drain (and the sweep): a stale socket whose buffer has emptied enough asks for a snapshot. */
  drain(conn: LbConn): void {
    if (conn.stale && !conn.resyncing && conn.ws !== null && conn.ws.getBufferedAmount() <= this.cfg.resyncBytes) {
      conn.resyncing = true
      this.hub.resync(conn.id)
    }
  }

  openUser(conn: UserConn, subscribe: (topic: string) => void): void {
    conn.id = this.nextId++
    subscribe(userTopic(conn.userId))
    this.hub.userOpen(conn.id, conn.userId)
  }

  closeUser(conn: UserConn): void {
    this.hub.userClose(conn.id)
    this.hub.release(conn.ip, "users")
  }

  // ---- what the hub says ----

  attached(id: number, topic: string, frames: ReadonlyArray<string>, snapshot: boolean): void {
    const c = this.conns.get(id)
    if (c === undefined || c.ws === null) return
    const ws = c.ws
    this.place(c, topic)
    ws.cork(() => {
      ws.subscribe(topic)
      for (const f of frames) ws.send(f)
    })
    if (snapshot) this.metrics.sent("snapshot", 1)
    else if (frames.length > 0) this.metrics.sent("delta", frames.length)
  }

  resynced(id: number, topic: string, frame: string): void {
    const c = this.conns.get(id)
    if (c === undefined || c.ws === null || !c.stale) return
    const ws = c.ws
    c.resyncing = false
    c.stale = false
    this.stale.delete(c)
    this.place(c, topic)
    ws.cork(() => {
      ws.subscribe(topic)
      ws.send(frame)
    })
    this.metrics.sent("snapshot", 1)
    this.metrics.resynced()
  }

  moved(id: number, topic: string, frame: string): void {
    const c = this.conns.get(id)
    if (c === undefined || c.ws === null) return
    const ws = c.ws, old = c.topic
    this.place(c, topic)
    // A stale socket is not subscribed; it gets the new period's snapshot when it drains.
    if (c.stale) return
    ws.cork(() => {
      if (old !== null) ws.unsubscribe(old)
      ws.subscribe(topic)
      ws.send(frame)
    })
    this.metrics.sent("snapshot", 1)
  }

  batch(items: ReadonlyArray<readonly [string, string]>): void {
    for (const [topic, json] of items) {
      let receivers = this.checked.get(topic)
      if (receivers === undefined) {
        const set = this.byTopic.get(topic)
        if (set === undefined || set.size === 0) continue
        // uWS would silently skip a socket over maxBackpressure; skip it ourselves first, well below
        // that bound, so the socket is known to have missed this delta and gets a snapshot later.
        receivers = 0
        for (const c of set) {
          if (c.stale) continue
          if (c.ws!.getBufferedAmount() > this.cfg.staleBytes) this.markStale(c, topic)
          else receivers++
        }
        this.checked.set(topic, receivers)
        if (!this.clearQueued) {
          this.clearQueued = true
          setImmediate(this.clearChecked)
        }
      }
      if (receivers > 0) {
        this.app.publish(topic, json)
        this.metrics.sent("delta", receivers)
      }
    }
    // Published: uWS writes the frames when this loop iteration ends. The binding acknowledges the
    // batch once they are written (wsWorker.ts: from the immediate after the writes; the main
    // thread's host likewise, saying what the writes cost that thread, Gateway.ts), so the hub's
    // next batch is cut when this host is free to take it (TopicHub MAX_IN_FLIGHT).
    this.hub.ack()
  }

  notify(topic: string, json: string): void {
    this.app.publish(topic, json)
  }

  private place(c: LbConn, topic: string): void {
    if (c.topic === topic) return
    this.checked.delete(topic)
    if (c.topic !== null) this.unplace(c, c.topic)
    c.topic = topic
    let set = this.byTopic.get(topic)
    if (set === undefined) this.byTopic.set(topic, (set = new Set()))
    set.add(c)
  }

  private unplace(c: LbConn, topic: string): void {
    this.checked.delete(topic)
    const set = this.byTopic.get(topic)
    set?.delete(c)
    if (set !== undefined && set.size === 0) this.byTopic.delete(topic)
  }

  private markStale(c: LbConn, topic: string): void {
    c.stale = true
    this.stale.add(c)
    c.ws?.unsubscribe(topic)
    this.metrics.skipped()
  }
}
