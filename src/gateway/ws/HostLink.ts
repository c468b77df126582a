// The two halves of the WebSocket feeds and what they say to each other. The TopicHub (main thread,
// next to the pipeline) owns every topic's history; a SocketHost (on the main thread, or one per WS
// worker thread) owns sockets. Between threads these calls travel as messages over one MessagePort,
// in order — that order is what keeps every subscription's prev_seq chain whole.
import type { Window } from "../../domain/Model.js"
import type { AroundSpec } from "../../ports/ReadModel.js"

/** What the hub needs to attach a leaderboard socket to a topic (decided at admission). */
export interface ConnSpec {
  readonly board: string
  readonly window: Window
  readonly limit: number
  /** No explicit period: follows the window's current period across rollovers. */
  readonly follow: boolean
  readonly period: string
  readonly resume: { readonly since: number; readonly epoch: string } | null
  /** /ws/leaderboard/{board}/around/{user_id}: the window around this user (`limit` unused). */
  readonly around?: AroundSpec | undefined
}

/** Socket host → main thread. `conn` numbers are the host's own. */
export interface HubSide {
  /** A leaderboard socket opened: answer with `attached` (snapshot or the retained deltas). */
  open(conn: number, spec: ConnSpec): void
  close(conn: number): void
  /** A stale socket drained: answer with `resynced` (a fresh snapshot of its current topic). */
  resync(conn: number): void
  /**
   * The host has published and written the oldest batch it was sent (flow control: TopicHub MAX_IN_FLIGHT,
   * inFlightBytesOf). `writeMs`: what writing it cost the hub's own thread, from a host on that
   * thread (TopicHub FLUSH_REST_RATIO); a host on its own thread leaves it out.
   */
  ack(writeMs?: number): void
  userOpen(conn: number, userId: string): void
  userClose(conn: number): void
  /** A socket admitted by the hub's admission closed (or never opened): free its slot. */
  release(ip: string, route: "leaderboard" | "users"): void
}

/** Main thread → socket host. */
export interface HostSide {
  /** `frames`: [snapshot] (snapshot = true), or the retained deltas after `since` (possibly none). */
  attached(conn: number, topic: string, frames: ReadonlyArray<string>, snapshot: boolean): void
  resynced(conn: number, topic: string, frame: string): void
  /** Period rollover: the socket now follows `topic`; `frame` is its snapshot. */
  moved(conn: number, topic: string, frame: string): void
  /** Deltas to publish, each serialized once: [topic, json]. Answer with `ack` once they are written. */
  batch(items: ReadonlyArray<readonly [string, string]>): void
  notify(topic: string, json: string): void
}

/** What a socket host counts; the main thread's /metrics shows it (worker hosts report it in bulk). */
export interface HostMetrics {
  sent(type: "delta" | "snapshot", n: number): void
  skipped(): void
  resynced(): void
}
