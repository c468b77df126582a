// Client-side protocol checks shared by the WebSocket tests: fold a message stream with the
// reference applyDelta, asserting the chain (epoch, prev_seq) is never broken.
import type { RankedEntry } from "../../src/ports/ReadModel.js"
import { applyDelta, applyWindowDelta } from "../../src/gateway/protocol/Delta.js"
import type { AroundMessage, LeaderboardMessage } from "../../src/gateway/protocol/Messages.js"

export interface ClientState {
  epoch: string
  seq: number
  period: string
  entries: Array<RankedEntry>
  snapshots: number
  deltas: number
}

/** Applies messages in order; throws on a delta that does not chain onto the previous message. */
export const fold = (msgs: ReadonlyArray<LeaderboardMessage>, limit: number, start: ClientState | null = null): ClientState => {
  let s = start
  for (const m of msgs) {
    if (m.type === "snapshot") {
      s = { epoch: m.epoch, seq: m.seq, period: m.period, entries: [...m.entries], snapshots: (s?.snapshots ?? 0) + 1, deltas: s?.deltas ?? 0 }
      continue
    }
    if (s === null) throw new Error("delta before any snapshot")
    if (m.epoch !== s.epoch) throw new Error(`epoch changed without a snapshot: ${s.epoch} → ${m.epoch}`)
    if (m.prev_seq !== s.seq) throw new Error(`gap: delta prev_seq ${m.prev_seq} after seq ${s.seq}`)
    s = { ...s, seq: m.seq, entries: applyDelta(s.entries, m, limit), deltas: s.deltas + 1 }
  }
  if (s === null) throw new Error("no messages")
  return s
}

export interface WindowState {
  epoch: string
  seq: number
  firstRank: number | null
  entries: Array<RankedEntry>
  snapshots: number
  deltas: number
}

/** As fold, for /ws/leaderboard/{board}/around/{user_id}: the window of ranks starting at first_rank. */
export const foldWindow = (msgs: ReadonlyArray<AroundMessage>, start: WindowState | null = null): WindowState => {
  let s = start
  for (const m of msgs) {
    if (m.type === "snapshot") {
      s = { epoch: m.epoch, seq: m.seq, firstRank: m.first_rank, entries: [...m.entries], snapshots: (s?.snapshots ?? 0) + 1, deltas: s?.deltas ?? 0 }
      continue
    }
    if (s === null) throw new Error("delta before any snapshot")
    if (m.epoch !== s.epoch) throw new Error(`epoch changed without a snapshot: ${s.epoch} → ${m.epoch}`)
    if (m.prev_seq !== s.seq) throw new Error(`gap: delta prev_seq ${m.prev_seq} after seq ${s.seq}`)
    s = { ...s, seq: m.seq, firstRank: m.first_rank, entries: applyWindowDelta(s.entries, m, m.first_rank), deltas: s.deltas + 1 }
  }
  if (s === null) throw new Error("no messages")
  return s
}
