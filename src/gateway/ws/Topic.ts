// One live feed: a board key × limit. Holds the top-`limit` entries as last published, the seq of
// the last message, the resume ring, and how many subscribers each socket host has. Its epoch
// names this delta history (one per gateway process, whichever thread holds the socket).
import { boardKeyString } from "../../domain/BoardKeys.js"
import { periodResetsAt } from "../../domain/Periods.js"
import type { BoardKey } from "../../domain/Model.js"
import type { AroundSpec, RankedEntry } from "../../ports/ReadModel.js"
import { DeltaRing } from "../protocol/DeltaRing.js"
import type { TopicHeader } from "../protocol/Messages.js"
import { snapshotJson } from "../protocol/Messages.js"
import type { ConnRec, Host } from "./TopicHub.js"

export const topicName = (key: BoardKey, limit: number, around: AroundSpec | null = null): string =>
  around === null ? `lb|${boardKeyString(key)}|${limit}` : `ar|${boardKeyString(key)}|${around.radius}|${around.user_id}`

/** What a topic's views are keyed by: the board key, plus the user and radius of an around-me feed. */
export const feedKey = (key: BoardKey, around: AroundSpec | null | undefined): string =>
  around === null || around === undefined ? boardKeyString(key) : `${boardKeyString(key)}|@${around.radius}|${around.user_id}`

export class Topic {
  readonly name: string
  header: TopicHeader
  /** Set by a reset (a new epoch): the next view goes to every subscriber as a snapshot. */
  resync = false
  readonly ring: DeltaRing
  /** Subscribers per socket host. */
  readonly hosts = new Map<Host, number>()
  subscribers = 0
  entries: ReadonlyArray<RankedEntry>
  seq: number
  /** Around-me topics: the rank of the window's first entry (null: the user has no rank). */
  firstRank: number | null = null
  /** When the last subscriber left (the topic lingers so a reconnect can still resume). */
  idleSince: number | null = null
  /**
   * False for a topic opened while there was no board state (the pipeline loading or restarting):
   * it has no snapshot yet, and its subscribers wait in `waiting` until its first view arrives.
   */
  ready: boolean
  readonly waiting = new Set<ConnRec>()
  private snapshotCache: string | null = null

  constructor(
    readonly key: BoardKey,
    readonly limit: number,
    epoch: string,
    entries: ReadonlyArray<RankedEntry> | null,
    seq: number,
    ring: { maxDeltas: number; maxBytes: number },
    /** Set for an around-me feed (its entries are the window, `limit` is unused). */
    readonly around: AroundSpec | null = null,
    firstRank: number | null = null
  ) {
    this.ready = entries !== null
    entries ??= []
    this.name = topicName(key, limit, around)
    this.header = around === null
      ? { board: key.board, window: key.window, period: key.period, resets_at: periodResetsAt(key.window, key.period), epoch }
      : { board: key.board, window: key.window, period: key.period, resets_at: periodResetsAt(key.window, key.period), epoch, around: { user_id: around.user_id, radius: around.radius } }
    this.entries = around === null && entries.length > limit ? entries.slice(0, limit) : entries
    this.firstRank = firstRank
    this.seq = seq
    this.ring = new DeltaRing(ring.maxDeltas, ring.maxBytes)
  }

  /** The snapshot of the current state, serialized once per state. */
  snapshot(): string {
    this.snapshotCache ??= snapshotJson(this.header, this.seq, this.entries, this.firstRank)
    return this.snapshotCache
  }

  add(host: Host): void {
    this.hosts.set(host, (this.hosts.get(host) ?? 0) + 1)
    this.subscribers++
  }

  remove(host: Host): void {
    const n = (this.hosts.get(host) ?? 0) - 1
    if (n > 0) this.hosts.set(host, n)
    else this.hosts.delete(host)
    this.subscribers--
  }

  /** The server's history was replaced (§10 re-projection): a new epoch, no resumable deltas, a snapshot next. */
  newEpoch(epoch: string): void {
    this.header = { ...this.header, epoch }
    this.ring.clear()
    this.snapshotCache = null
    this.resync = this.ready
  }

  advance(entries: ReadonlyArray<RankedEntry>, seq: number, firstRank: number | null = null): void {
    this.entries = entries
    this.firstRank = firstRank
    this.seq = seq
    this.snapshotCache = null
  }
}
