// One live feed: a board key × limit. Holds the top-`limit` entries as last published, the seq of
// the last message, the resume ring, and its subscribers. Its epoch names this delta history.
import type { BoardKey } from "../../domain/model.js"
import type { RankedEntry } from "../ports.js"
import { DeltaRing } from "../protocol/DeltaRing.js"
import type { TopicHeader } from "../protocol/messages.js"
import { snapshotJson } from "../protocol/messages.js"
import type { LbConn } from "./LbConn.js"

export const topicName = (key: BoardKey, limit: number): string => `lb|${key.board}|${key.window}|${key.period}|${limit}`
export const keyString = (key: BoardKey): string => `${key.board}|${key.window}|${key.period}`

export class Topic {
  readonly name: string
  readonly header: TopicHeader
  readonly ring: DeltaRing
  readonly conns = new Set<LbConn>()
  entries: ReadonlyArray<RankedEntry>
  seq: number
  /** When the last subscriber left (the topic lingers so a reconnect can still resume). */
  idleSince: number | null = null
  private snapshotCache: string | null = null

  constructor(
    readonly key: BoardKey,
    readonly limit: number,
    epoch: string,
    entries: ReadonlyArray<RankedEntry>,
    seq: number,
    ring: { maxDeltas: number; maxBytes: number }
  ) {
    this.name = topicName(key, limit)
    this.header = { board: key.board, window: key.window, period: key.period, epoch }
    this.entries = entries.length > limit ? entries.slice(0, limit) : entries
    this.seq = seq
    this.ring = new DeltaRing(ring.maxDeltas, ring.maxBytes)
  }

  /** The snapshot of the current state, serialized once per state. */
  snapshot(): string {
    this.snapshotCache ??= snapshotJson(this.header, this.seq, this.entries)
    return this.snapshotCache
  }

  advance(entries: ReadonlyArray<RankedEntry>, seq: number): void {
    this.entries = entries
    this.seq = seq
    this.snapshotCache = null
  }
}
