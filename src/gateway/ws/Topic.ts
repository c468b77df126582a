// One live feed: a board key × limit. Holds the top-`limit` entries as last published, the seq of
// the last message, the resume ring, and how many subscribers each socket host has. Its epoch
// names this delta history (one per gateway process, whichever thread holds the socket).
import { boardKeyString } from "../../domain/BoardKeys.js"
import { periodResetsAt } from "../../domain/Periods.js"
import type { BoardKey } from "../../domain/Model.js"
import type { RankedEntry } from "../../ports/ReadModel.js"
import { DeltaRing } from "../protocol/DeltaRing.js"
import type { TopicHeader } from "../protocol/Messages.js"
import { snapshotJson } from "../protocol/Messages.js"
import type { ConnRec, Host } from "./TopicHub.js"

export const topicName = (key: BoardKey, limit: number): string => `lb|${boardKeyString(key)}|${limit}`

export class Topic {
  readonly name: string
  readonly header: TopicHeader
  readonly ring: DeltaRing
  /** Subscribers per socket host. */
  readonly hosts = new Map<Host, number>()
  subscribers = 0
  entries: ReadonlyArray<RankedEntry>
  seq: number
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
    ring: { maxDeltas: number; maxBytes: number }
  ) {
    this.ready = entries !== null
    entries ??= []
    this.name = topicName(key, limit)
    this.header = { board: key.board, window: key.window, period: key.period, resets_at: periodResetsAt(key.window, key.period), epoch }
    this.entries = entries.length > limit ? entries.slice(0, limit) : entries
    this.seq = seq
    this.ring = new DeltaRing(ring.maxDeltas, ring.maxBytes)
  }

  /** The snapshot of the current state, serialized once per state. */
  snapshot(): string {
    this.snapshotCache ??= snapshotJson(this.header, this.seq, this.entries)
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

  advance(entries: ReadonlyArray<RankedEntry>, seq: number): void {
    this.entries = entries
    this.seq = seq
    this.snapshotCache = null
  }
}
