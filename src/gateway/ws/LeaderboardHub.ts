// Live leaderboard fan-out: one uWS topic per (board key, limit). Views from the LeaderboardPort
// are coalesced per board within a microtask, turned into one delta per topic, serialized once and
// published once. Slow sockets are skipped (marked stale) and resynced with a snapshot on drain;
// period rollovers move followers to the new period's topic with a fresh snapshot.
import { randomBytes } from "node:crypto"
import type { BoardKey, Window } from "../../domain/model.js"
import { registry } from "../../observability/Metrics.js"
import type { WsConfig } from "../GatewayConfig.js"
import type { BoardView, LeaderboardPort } from "../ports.js"
import { computeDelta, isEmptyDelta } from "../protocol/delta.js"
import { deltaJson } from "../protocol/messages.js"
import type { TemplatedApp } from "../uws.js"
import type { LbConn } from "./LbConn.js"
import { Topic, keyString, topicName } from "./Topic.js"

const sent = registry.counter("arena_ws_messages_sent_total", "WebSocket frames sent, by type")
const skipped = registry.counter("arena_ws_backpressure_skips_total", "Sockets marked stale (skipped by deltas) because their send buffer was over the bound")
const resyncs = registry.counter("arena_ws_resyncs_total", "Snapshots sent to stale sockets once they drained")
const resumes = registry.counter("arena_ws_resumes_total", "Subscriptions opened with since/epoch, by outcome")
const latency = registry.histogram("arena_ws_publish_latency_seconds", "Board view received → delta published to its topic",
  [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25])
const topicsGauge = registry.gauge("arena_ws_topics", "Live leaderboard topics (including lingering ones)")
const ringBytes = registry.gauge("arena_ws_ring_bytes", "Bytes held by resume rings")

/** Topics lingering after their last subscriber left (cfg.lingerMs) are capped in count. */
const MAX_LINGERING = 1000
const SWEEP_MS = 1000

export class LeaderboardHub {
  private readonly epochPrefix = randomBytes(6).toString("base64url")
  private generation = 0
  private readonly topics = new Map<string, Topic>()
  private readonly byKey = new Map<string, Set<Topic>>()
  private readonly followers = new Map<Window, Set<LbConn>>()
  private readonly stale = new Set<LbConn>()
  private readonly lingering = new Set<Topic>()
  private pending = new Map<string, { view: BoardView; at: number }>()
  private flushQueued = false
  private readonly stops: Array<() => void> = []

  constructor(private readonly lb: LeaderboardPort, private readonly app: TemplatedApp, private readonly cfg: WsConfig) {
    topicsGauge.set(0)
    registry.gauge("arena_ws_stale_sockets", "Sockets currently skipped for backpressure", (g) => g.set(this.stale.size))
  }

  start(): void {
    this.stops.push(this.lb.onView((view) => this.onView(view)))
    this.stops.push(this.lb.onRollover((window, period) => this.onRollover(window, period)))
    const timer = setInterval(() => this.sweep(Date.now()), SWEEP_MS)
    timer.unref()
    this.stops.push(() => clearInterval(timer))
  }

  stop(): void {
    for (const s of this.stops.splice(0)) s()
    for (const t of this.topics.values()) this.lb.unwatch(t.key, t.limit)
    this.topics.clear()
    this.byKey.clear()
    this.lingering.clear()
  }

  /** Diagnostics (O(sockets)): what the hub holds, and the largest send buffer of any socket. */
  stats(): { topics: number; lingering: number; stale: number; ringBytes: number; maxBuffered: number } {
    let bytes = 0, maxBuffered = 0
    for (const t of this.topics.values()) {
      bytes += t.ring.totalBytes
      for (const c of t.conns) if (c.ws !== null) maxBuffered = Math.max(maxBuffered, c.ws.getBufferedAmount())
    }
    return { topics: this.topics.size, lingering: this.lingering.size, stale: this.stale.size, ringBytes: bytes, maxBuffered }
  }

  /** On WebSocket open: subscribe, then send a snapshot, or the retained deltas after `since`. */
  open(conn: LbConn): void {
    const ws = conn.ws!
    const topic = this.attach(conn, { board: conn.board, window: conn.window, period: conn.period })
    let replay: ReadonlyArray<string> | null = null
    if (conn.resume !== null) {
      replay = conn.resume.epoch === topic.header.epoch ? topic.ring.since(conn.resume.since, topic.seq) : null
      resumes.inc({ outcome: replay === null ? "snapshot" : "deltas" })
    }
    ws.cork(() => {
      ws.subscribe(topic.name)
      if (replay === null) {
        ws.send(topic.snapshot())
        sent.inc({ type: "snapshot" })
      } else {
        for (const m of replay) ws.send(m)
        sent.inc({ type: "delta" }, replay.length)
      }
    })
  }

  close(conn: LbConn): void {
    conn.closed = true
    this.stale.delete(conn)
    if (conn.follow) this.followers.get(conn.window)?.delete(conn)
    this.detach(conn)
    conn.ws = null
  }

  /** uWS drain: a stale socket whose buffer has emptied enough gets a snapshot and rejoins. */
  drain(conn: LbConn): void {
    if (conn.stale && conn.ws !== null && conn.ws.getBufferedAmount() <= this.cfg.resyncBytes) this.resync(conn)
  }

  private resync(conn: LbConn): void {
    const ws = conn.ws, topic = conn.topic
    if (ws === null || topic === null) return
    conn.stale = false
    this.stale.delete(conn)
    ws.cork(() => {
      ws.subscribe(topic.name)
      ws.send(topic.snapshot())
    })
    sent.inc({ type: "snapshot" })
    resyncs.inc()
  }

  private markStale(conn: LbConn, topic: Topic): void {
    conn.stale = true
    this.stale.add(conn)
    conn.ws?.unsubscribe(topic.name)
    skipped.inc()
  }

  private attach(conn: LbConn, key: BoardKey): Topic {
    const name = topicName(key, conn.limit)
    let topic = this.topics.get(name)
    if (topic === undefined) {
      const view = this.lb.watch(key, conn.limit)
      const epoch = `${this.epochPrefix}.${(this.generation++).toString(36)}`
      topic = new Topic(key, conn.limit, epoch, view.entries, view.seq, { maxDeltas: this.cfg.ringMaxDeltas, maxBytes: this.cfg.ringMaxBytes })
      this.topics.set(name, topic)
      const k = keyString(key)
      const set = this.byKey.get(k) ?? new Set<Topic>()
      set.add(topic)
      this.byKey.set(k, set)
      topicsGauge.set(this.topics.size)
    }
    topic.idleSince = null
    this.lingering.delete(topic)
    topic.conns.add(conn)
    conn.topic = topic
    if (conn.follow) {
      const f = this.followers.get(conn.window) ?? new Set<LbConn>()
      f.add(conn)
      this.followers.set(conn.window, f)
    }
    return topic
  }

  private detach(conn: LbConn): void {
    const topic = conn.topic
    if (topic === null) return
    topic.conns.delete(conn)
    // On close uWS unsubscribes by itself; a stale socket is not subscribed.
    if (!conn.closed && !conn.stale) conn.ws?.unsubscribe(topic.name)
    conn.topic = null
    if (topic.conns.size === 0) {
      topic.idleSince = Date.now()
      this.lingering.add(topic)
      if (this.lingering.size > MAX_LINGERING) this.destroy(this.lingering.values().next().value!)
    }
  }

  private destroy(topic: Topic): void {
    this.lingering.delete(topic)
    this.topics.delete(topic.name)
    const k = keyString(topic.key)
    const set = this.byKey.get(k)
    set?.delete(topic)
    if (set !== undefined && set.size === 0) this.byKey.delete(k)
    this.lb.unwatch(topic.key, topic.limit)
    topicsGauge.set(this.topics.size)
  }

  private onView(view: BoardView): void {
    const k = keyString(view.key)
    if (!this.byKey.has(k)) return
    // Coalesce: several drains in one tick become one delta per topic (no timer, no added latency).
    const prev = this.pending.get(k)
    this.pending.set(k, { view, at: prev?.at ?? performance.now() })
    if (!this.flushQueued) {
      this.flushQueued = true
      queueMicrotask(() => this.flush())
    }
  }

  private flush(): void {
    this.flushQueued = false
    const batch = this.pending
    this.pending = new Map()
    for (const [k, { view, at }] of batch) {
      const topics = this.byKey.get(k)
      if (topics === undefined) continue
      for (const topic of topics) this.publish(topic, view)
      latency.observe((performance.now() - at) / 1000)
    }
  }

  private publish(topic: Topic, view: BoardView): void {
    if (view.seq < topic.seq) return
    const next = view.entries.length > topic.limit ? view.entries.slice(0, topic.limit) : view.entries
    const delta = computeDelta(topic.entries, next)
    // Nothing visible changed: keep the last sent seq so the next delta's prev_seq chains to it.
    if (isEmptyDelta(delta)) return
    const msg = deltaJson(topic.header, topic.seq, view.seq, delta)
    topic.ring.push(topic.seq, view.seq, msg)
    topic.advance(next, view.seq)
    if (topic.conns.size === 0) return
    // uWS would silently skip a socket over maxBackpressure; skip it ourselves first, well below
    // that bound, so the socket is known to have missed this delta and gets a snapshot later.
    let receivers = 0
    for (const conn of topic.conns) {
      if (conn.stale) continue
      if (conn.ws!.getBufferedAmount() > this.cfg.staleBytes) this.markStale(conn, topic)
      else receivers++
    }
    if (receivers > 0) {
      this.app.publish(topic.name, msg)
      sent.inc({ type: "delta" }, receivers)
    }
  }

  private onRollover(window: Window, period: string): void {
    const f = this.followers.get(window)
    if (f === undefined) return
    for (const conn of [...f]) {
      if (conn.period === period || conn.ws === null) continue
      const wasStale = conn.stale
      this.detach(conn)
      conn.period = period
      const topic = this.attach(conn, { board: conn.board, window, period })
      // A stale socket gets the new period's snapshot when it drains.
      if (!wasStale) {
        const ws = conn.ws
        ws.cork(() => {
          ws.subscribe(topic.name)
          ws.send(topic.snapshot())
        })
        sent.inc({ type: "snapshot" })
      }
    }
  }

  private sweep(now: number): void {
    for (const conn of [...this.stale]) this.drain(conn)
    for (const t of [...this.lingering]) if (t.idleSince !== null && now - t.idleSince >= this.cfg.lingerMs) this.destroy(t)
    let bytes = 0
    for (const t of this.topics.values()) bytes += t.ring.totalBytes
    ringBytes.set(bytes)
  }
}
