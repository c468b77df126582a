// Live leaderboard topics (board key × limit), owned by the main thread: board views are turned
// into one delta per topic, serialized once, kept in the topic's resume ring and handed to every
// socket host that has subscribers. Flow control: a host acknowledges a batch once it has written
// its frames; batches not yet acknowledged count against its bound (MAX_IN_FLIGHT, inFlightBytesOf);
// over it, views coalesce here into one delta per topic until an ack (no timer, bounded queue), so
// a host free to write gets every view up to that moment in one batch.
import { randomBytes } from "node:crypto"
import type { BoardKey, Window } from "../../domain/Model.js"
import { blocked } from "../../observability/LoopBlocks.js"
import { registry } from "../../observability/Metrics.js"
import type { WsConfig } from "../GatewayConfig.js"
import type { BoardView, LeaderboardPort } from "../../ports/ReadModel.js"
import { computeDelta, isEmptyDelta, touchesPrivate } from "../protocol/Delta.js"
import { deltaJson } from "../protocol/Messages.js"
import type { ConnSpec, HostSide, HubSide } from "./HostLink.js"
import { Topic, feedKey, topicName } from "./Topic.js"

const resumes = registry.counter("arena_ws_resumes_total", "Subscriptions opened with since/epoch, by outcome")
const latency = registry.histogram("arena_ws_publish_latency_seconds", "Board view received → delta handed to the socket hosts",
  [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5])
const topicsGauge = registry.gauge("arena_ws_topics", "Live leaderboard topics (including lingering ones)")
const ringBytes = registry.gauge("arena_ws_ring_bytes", "Bytes held by resume rings")

/** Topics lingering after their last subscriber left (cfg.lingerMs) are capped in count. */
const MAX_LINGERING = 1000
/**
 * Batches a socket host may hold unacknowledged before the hub coalesces views until it
 * acknowledges one. A host acknowledges a batch once its frames are written (a WS thread from the
 * immediate after its writes, the main thread's host likewise), so with one the hub sends a host
 * one batch per write, taken as soon as the host is free, with every view up to then in it. With
 * two, acknowledged on receipt (before 2026-12-07 b), the second batch was cut early in the host's
 * write and waited in its port for the whole of it, and the views after it waited in the hub for the
 * next: about 2.5 writes between a view and its frame, against 1.5 plus the ack's round trip now.
 * Never more: a host that is slow to write (a starved CPU) would otherwise read one frame per
 * topic per pipeline slice (at load ~15, 10k sockets, 64 gave 2× the frames and 3× the p50).
 */
export const MAX_IN_FLIGHT = 1
/**
 * Bytes of batches a socket host may have not yet acknowledged. What a host receives within one loop
 * iteration is written to its sockets at the iteration's end, after each socket was checked against
 * staleBytes. The hub sends while under this bound, so a socket gets at most the bound plus one
 * frame of its topic in one iteration: half the margin up to maxBackpressure leaves room for that
 * frame, and uWS never drops a frame silently (the socket is marked stale first, and resynced).
 */
export const inFlightBytesOf = (cfg: Pick<WsConfig, "maxBackpressure" | "staleBytes">): number =>
  Math.max(16 * 1024, Math.floor((cfg.maxBackpressure - cfg.staleBytes) / 2))
const SWEEP_MS = 1000
/**
 * The fan-out's share of the thread that computes views: when a host on this thread says its
 * frames took W ms to write (its ack), the next flush waits W × FLUSH_REST_RATIO ms while views of
 * the same boards coalesce (a socket gets at most one frame per topic per flush). That is the case
 * of ARENA_WS_THREADS=0 (10k sockets: ~60 ms of writes per flush): without it, every 4 ms pipeline
 * slice was followed by a full round of writes, ~12 slices/s, below a 2,000 ev/s stream, and the
 * lag grew without bound (p50 16 s at 10k sockets, 2026-12-07). With it the pipeline keeps about
 * half the thread and a flush covers more events when writes are dear. Hosts on WS threads write
 * on their own threads and ack without a cost: their flushes are never delayed. (The flush's own
 * wall time is not used: on a starved CPU it measures preemption, not work.)
 */
export const FLUSH_REST_RATIO = 1
/** A flush cheaper than this does not delay the next one. */
const FLUSH_REST_FROM_MS = 1

/** One socket host as the hub sees it. */
export interface Host {
  readonly side: HostSide
  readonly conns: Map<number, ConnRec>
  /** Batches sent and not yet acknowledged, and their bytes (sizes: oldest first). */
  inFlight: number
  inFlightBytes: number
  readonly sizes: Array<number>
  /**
   * Deltas cut for this host while it was busy (a flush made for another host that was free), in
   * order, and their bytes: sent as its next batch once it acknowledges, or before anything else
   * the hub tells it about a socket (so a snapshot never precedes an older delta of its topic).
   */
  queue: Array<readonly [string, string]>
  queueBytes: number
}

/** The hub's record of one leaderboard socket (which lives on `host`). */
export interface ConnRec {
  readonly host: Host
  readonly conn: number
  readonly spec: ConnSpec
  period: string
  topic: Topic | null
}

export class TopicHub {
  private readonly epochPrefix = randomBytes(6).toString("base64url")
  private generation = 0
  private readonly topics = new Map<string, Topic>()
  private readonly byKey = new Map<string, Set<Topic>>()
  private readonly followers = new Map<Window, Set<ConnRec>>()
  private readonly lingering = new Set<Topic>()
  private readonly hosts = new Set<Host>()
  private pending = new Map<string, { view: BoardView; at: number }>()
  private flushQueued = false
  /** performance.now() before which no flush starts (see FLUSH_REST_RATIO). */
  private restUntil = 0
  private restTimer: ReturnType<typeof setTimeout> | undefined
  private readonly stops: Array<() => void> = []
  private readonly maxInFlightBytes: number

  constructor(private readonly lb: LeaderboardPort, private readonly cfg: WsConfig) {
    this.maxInFlightBytes = inFlightBytesOf(cfg)
    topicsGauge.set(0)
  }

  start(): void {
    this.stops.push(this.lb.onView((view) => this.onView(view)))
    this.stops.push(this.lb.onRollover((window, period) => this.onRollover(window, period)))
    if (this.lb.onReset !== undefined) this.stops.push(this.lb.onReset(() => this.onReset()))
    const timer = setInterval(() => this.sweep(Date.now()), SWEEP_MS)
    timer.unref()
    this.stops.push(() => clearInterval(timer))
  }

  stop(): void {
    clearTimeout(this.restTimer)
    for (const s of this.stops.splice(0)) s()
    for (const t of this.topics.values()) this.unwatchTopic(t)
    this.topics.clear()
    this.byKey.clear()
    this.lingering.clear()
  }

  stats(): { topics: number; lingering: number; ringBytes: number } {
    let bytes = 0
    for (const t of this.topics.values()) bytes += t.ring.totalBytes
    return { topics: this.topics.size, lingering: this.lingering.size, ringBytes: bytes }
  }

  /** Registers a socket host; returns what the host calls. `drop()` forgets all its sockets. */
  addHost(side: HostSide): { hub: Omit<HubSide, "userOpen" | "userClose" | "release">; drop: () => void } {
    const host: Host = { side, conns: new Map(), inFlight: 0, inFlightBytes: 0, sizes: [], queue: [], queueBytes: 0 }
    this.hosts.add(host)
    return {
      hub: {
        open: (conn, spec) => this.open(host, conn, spec),
        close: (conn) => this.close(host, conn),
        resync: (conn) => this.resync(host, conn),
        ack: (writeMs) => this.ack(host, writeMs)
      },
      drop: () => {
        for (const conn of [...host.conns.keys()]) this.close(host, conn)
        this.hosts.delete(host)
        host.inFlight = 0
        host.inFlightBytes = 0
        host.sizes.length = 0
        host.queue = []
        host.queueBytes = 0
        if (this.pending.size > 0) this.queueFlush()
      }
    }
  }

  /** Subscribe, then send a snapshot, or the retained deltas after `since`. */
  private open(host: Host, conn: number, spec: ConnSpec): void {
    const rec: ConnRec = { host, conn, spec, period: spec.period, topic: null }
    host.conns.set(conn, rec)
    const topic = this.attach(rec)
    // No board state yet: the socket gets its snapshot when the topic's first view arrives.
    if (!topic.ready) { topic.waiting.add(rec); return }
    let replay: ReadonlyArray<string> | null = null
    if (spec.resume !== null) {
      replay = spec.resume.epoch === topic.header.epoch ? topic.ring.since(spec.resume.since, topic.seq) : null
      resumes.inc({ outcome: replay === null ? "snapshot" : "deltas" })
    }
    this.sendQueued(host)
    host.side.attached(conn, topic.name, replay ?? [topic.snapshot()], replay === null)
  }

  private close(host: Host, conn: number): void {
    const rec = host.conns.get(conn)
    if (rec === undefined) return
    host.conns.delete(conn)
    if (rec.spec.follow) this.followers.get(rec.spec.window)?.delete(rec)
    this.detach(rec)
  }

  private resync(host: Host, conn: number): void {
    const topic = host.conns.get(conn)?.topic
    if (topic === null || topic === undefined || !topic.ready) return
    this.sendQueued(host)
    host.side.resynced(conn, topic.name, topic.snapshot())
  }

  private ack(host: Host, writeMs: number | undefined): void {
    if (writeMs !== undefined && writeMs >= FLUSH_REST_FROM_MS) this.restUntil = Math.max(this.restUntil, performance.now() + writeMs * FLUSH_REST_RATIO)
    if (host.inFlight > 0) {
      host.inFlight--
      host.inFlightBytes -= host.sizes.shift() ?? 0
    }
    if (this.pending.size > 0 || host.queue.length > 0) this.queueFlush()
  }

  /** Whether the host can take a batch now (under both bounds). */
  private free(h: Host): boolean {
    return h.inFlight < MAX_IN_FLIGHT && !(h.inFlight > 0 && h.inFlightBytes >= this.maxInFlightBytes)
  }

  /** Sends the host what was cut for it while it was busy, as one batch (whatever its bound). */
  private sendQueued(host: Host): void {
    if (host.queue.length === 0) return
    const list = host.queue, bytes = host.queueBytes
    host.queue = []
    host.queueBytes = 0
    host.inFlight++
    host.inFlightBytes += bytes
    host.sizes.push(bytes)
    host.side.batch(list)
  }

  private attach(rec: ConnRec): Topic {
    const key: BoardKey = { board: rec.spec.board, window: rec.spec.window, period: rec.period }
    const limit = rec.spec.limit
    const around = rec.spec.around ?? null
    const name = topicName(key, limit, around)
    let topic = this.topics.get(name)
    if (topic === undefined) {
      const view = around === null ? this.lb.watch(key, limit) : this.lb.watchAround(key, around)
      const epoch = `${this.epochPrefix}.${(this.generation++).toString(36)}`
      topic = new Topic(key, limit, epoch, view?.entries ?? null, view?.seq ?? 0, { maxDeltas: this.cfg.ringMaxDeltas, maxBytes: this.cfg.ringMaxBytes },
        around, view?.around?.first_rank ?? null)
      this.topics.set(name, topic)
      const k = feedKey(key, around)
      const set = this.byKey.get(k) ?? new Set<Topic>()
      set.add(topic)
      this.byKey.set(k, set)
      topicsGauge.set(this.topics.size)
    }
    topic.idleSince = null
    this.lingering.delete(topic)
    topic.add(rec.host)
    rec.topic = topic
    if (rec.spec.follow) {
      const f = this.followers.get(rec.spec.window) ?? new Set<ConnRec>()
      f.add(rec)
      this.followers.set(rec.spec.window, f)
    }
    return topic
  }

  private detach(rec: ConnRec): void {
    const topic = rec.topic
    if (topic === null) return
    topic.waiting.delete(rec)
    topic.remove(rec.host)
    rec.topic = null
    if (topic.subscribers === 0) {
      topic.idleSince = Date.now()
      this.lingering.add(topic)
      if (this.lingering.size > MAX_LINGERING) this.destroy(this.lingering.values().next().value!)
    }
  }

  private destroy(topic: Topic): void {
    this.lingering.delete(topic)
    this.topics.delete(topic.name)
    const k = feedKey(topic.key, topic.around)
    const set = this.byKey.get(k)
    set?.delete(topic)
    if (set !== undefined && set.size === 0) this.byKey.delete(k)
    this.unwatchTopic(topic)
    topicsGauge.set(this.topics.size)
  }

  private unwatchTopic(t: Topic): void {
    if (t.around === null) this.lb.unwatch(t.key, t.limit)
    else this.lb.unwatchAround(t.key, t.around)
  }

  private onView(view: BoardView): void {
    const k = feedKey(view.key, view.around)
    if (!this.byKey.has(k)) return
    // Coalesce: views of one board until the next flush become one delta per topic.
    const prev = this.pending.get(k)
    this.pending.set(k, { view, at: prev?.at ?? performance.now() })
    this.queueFlush()
  }

  private queueFlush(): void {
    if (this.flushQueued) return
    this.flushQueued = true
    const rest = this.restUntil - performance.now()
    if (rest > 0) this.restTimer = setTimeout(() => { this.restTimer = undefined; this.flush() }, Math.ceil(rest))
    else queueMicrotask(() => this.flush())
  }

  private flush(): void {
    this.flushQueued = false
    // Deltas are cut when some host is free to take them: it gets them at once, and a host still
    // writing its last batch gets them queued, sent as one batch when it acknowledges (a slow host
    // never holds up a fast one). Views meanwhile coalesce into one delta per topic (no timer).
    // Memory stays bounded: while a busy host's queue is at the byte bound, nothing is cut.
    let free = this.hosts.size === 0
    for (const h of this.hosts) {
      if (this.free(h)) free = true
      else if (h.queueBytes >= this.maxInFlightBytes) return
    }
    if (!free) return
    const started = performance.now()
    const batch = this.pending
    this.pending = new Map()
    for (const [k, { view, at }] of batch) {
      const topics = this.byKey.get(k)
      if (topics === undefined) continue
      for (const topic of topics) {
        const json = this.advance(topic, view)
        if (json === null) continue
        const bytes = Buffer.byteLength(json)
        for (const host of topic.hosts.keys()) {
          host.queue.push([topic.name, json])
          host.queueBytes += bytes
        }
      }
      latency.observe((performance.now() - at) / 1000)
    }
    for (const host of this.hosts) if (this.free(host)) this.sendQueued(host)
    blocked("hub_flush", started)
  }

  /** The topic's next delta (recorded in its ring), or null when nothing visible changed. */
  private advance(topic: Topic, view: BoardView): string | null {
    if (topic.around !== null) return this.advanceWindow(topic, view)
    const next = view.entries.length > topic.limit ? view.entries.slice(0, topic.limit) : view.entries
    if (!topic.ready) {
      // State is back: the first view is the topic's snapshot, sent to everyone who waited for it.
      topic.ready = true
      topic.advance(next, view.seq)
      for (const rec of topic.waiting) rec.host.side.attached(rec.conn, topic.name, [topic.snapshot()], true)
      topic.waiting.clear()
      return null
    }
    if (topic.resync) {
      topic.resync = false
      topic.advance(next, view.seq)
      return topic.snapshot()
    }
    if (view.seq < topic.seq) return null
    const delta = computeDelta(topic.entries, next)
    // Nothing visible changed: keep the last sent seq so the next delta's prev_seq chains to it.
    if (isEmptyDelta(delta)) return null
    if (touchesPrivate(topic.entries, delta)) {
      // A delta would name a private user: everyone gets the public snapshot instead, and resumes
      // from before it get a snapshot too (the ring starts over).
      topic.ring.clear()
      topic.advance(next, view.seq)
      return topic.snapshot()
    }
    const msg = deltaJson(topic.header, topic.seq, view.seq, delta)
    topic.ring.push(topic.seq, view.seq, msg)
    topic.advance(next, view.seq)
    return msg
  }

  /** As advance, for an around-me topic: the view is the window; a moved window alone is a delta. */
  private advanceWindow(topic: Topic, view: BoardView): string | null {
    const first = view.around?.first_rank ?? null
    if (!topic.ready) {
      topic.ready = true
      topic.advance(view.entries, view.seq, first)
      for (const rec of topic.waiting) rec.host.side.attached(rec.conn, topic.name, [topic.snapshot()], true)
      topic.waiting.clear()
      return null
    }
    if (topic.resync) {
      topic.resync = false
      topic.advance(view.entries, view.seq, first)
      return topic.snapshot()
    }
    if (view.seq < topic.seq) return null
    // The user this window follows turned private: its frames would tie their id to their rank, so
    // the feed stops moving (watchers keep what they had; new subscriptions are refused at admission).
    if (this.lb.isPrivate?.(topic.around!.user_id) === true) return null
    const delta = computeDelta(topic.entries, view.entries, (first ?? 1) - 1)
    if (isEmptyDelta(delta) && first === topic.firstRank) return null
    if (touchesPrivate(topic.entries, delta)) {
      // As in advance: a delta would name a private user, so the window goes out as a public snapshot.
      topic.ring.clear()
      topic.advance(view.entries, view.seq, first)
      return topic.snapshot()
    }
    const msg = deltaJson(topic.header, topic.seq, view.seq, delta, first)
    topic.ring.push(topic.seq, view.seq, msg)
    topic.advance(view.entries, view.seq, first)
    return msg
  }

  /** The boards' history was replaced (§10 re-projection): every topic starts a new epoch; its next view is a snapshot. */
  private onReset(): void {
    this.pending = new Map()
    for (const topic of this.topics.values()) topic.newEpoch(`${this.epochPrefix}.${(this.generation++).toString(36)}`)
  }

  private onRollover(window: Window, period: string): void {
    const f = this.followers.get(window)
    if (f === undefined) return
    for (const rec of [...f]) {
      if (rec.period === period) continue
      this.detach(rec)
      rec.period = period
      const topic = this.attach(rec)
      if (!topic.ready) { topic.waiting.add(rec); continue }
      this.sendQueued(rec.host)
      rec.host.side.moved(rec.conn, topic.name, topic.snapshot())
    }
  }

  private sweep(now: number): void {
    for (const t of [...this.lingering]) if (t.idleSince !== null && now - t.idleSince >= this.cfg.lingerMs) this.destroy(t)
    ringBytes.set(this.stats().ringBytes)
  }
}
