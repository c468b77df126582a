// The gateway's live boards in partitioned mode (ARCHITECTURE §9, docs/scaling.md "Gateways"): a
// LeaderboardPort for the single process's TopicHub, fed by the board mergers' chains instead of a
// pipeline. Watching a board instance subscribes to `arena.lb.delta.<board>.<window>.<period>`,
// says so on `arena.lb.want.…` every second (so a merger runs for it), and fetches a snapshot by
// request/reply on `arena.lb.snap.…`; each delta that continues the chain (same epoch, n + 1) is
// applied to the local top-K and handed to the hub as a view. Any break (a lost core-NATS
// message, a new merger's epoch) fetches a snapshot again; deltas arriving meanwhile are kept and
// applied after it. The hub turns views into each topic's own delta chain, epoch and resume ring,
// so a socket's chain stays whole across merger changes (a view is always a true merged state).
// Not served here: page/around reads (the gateway's REST routes use MergedReads), around-me windows
// (MergedWindows.ts wraps this port to serve them).
import type { NatsConnection, Subscription } from "@nats-io/transport-node"
import type { ChainDelta, ChainEntry, ChainSnapshot } from "../../domain/LiveChain.js"
import { applyTop, deltaSubject, snapSubject, wantSubject } from "../../domain/LiveChain.js"
import type { BoardKey, Window } from "../../domain/Model.js"
import { WINDOWS } from "../../domain/Model.js"
import { boardKeyString } from "../../domain/BoardKeys.js"
import { periodOf } from "../../domain/Periods.js"
import type { BoardView, LeaderboardPort } from "../../ports/ReadModel.js"

const WANT_EVERY_MS = 1_000
const SNAPSHOT_TIMEOUT_MS = 2_000
const SNAPSHOT_RETRY_MS = 250
/** Deltas kept while a snapshot is on its way; past this the oldest go (the chain then asks again). */
const MAX_BUFFERED = 256
const EMPTY = new Uint8Array(0)
const dec = new TextDecoder()

interface Watched {
  readonly key: BoardKey
  refs: number
  epoch: number
  n: number
  view: BoardView | null
  fetching: boolean
  readonly buffered: Array<ChainDelta>
  readonly sub: Subscription
  retry: ReturnType<typeof setTimeout> | undefined
}

export interface MergedLiveBoards extends LeaderboardPort {
  /** Chain breaks that fetched a snapshot (a new epoch included), for tests and diagnostics. */
  readonly resyncs: () => number
  readonly close: () => void
}

export const makeMergedLiveBoards = (nc: NatsConnection, log: { readonly warn: (m: string) => void }): MergedLiveBoards => {
  const watched = new Map<string, Watched>()
  const views = new Set<(v: BoardView) => void>()
  const rollovers = new Set<(w: Window, p: string) => void>()
  let resyncs = 0
  let closed = false
  const want = (w: Watched) => nc.publish(wantSubject(w.key.board, w.key.window, w.key.period), EMPTY)

  const emit = (w: Watched, seq: number, total: number, entries: ReadonlyArray<ChainEntry>) => {
    const view: BoardView = { key: w.key, seq, total, entries }
    w.view = view
    for (const l of views) l(view)
  }
  const apply = (w: Watched, d: ChainDelta) => {
    w.n = d.n
    emit(w, d.seq, d.total, applyTop(w.view!.entries, d))
  }
  const fetch = (w: Watched) => {
    if (w.fetching || closed) return
    w.fetching = true
    resyncs++
    want(w)
    nc.request(snapSubject(w.key.board, w.key.window, w.key.period), EMPTY, { timeout: SNAPSHOT_TIMEOUT_MS }).then(
      (m) => {
        const r = JSON.parse(dec.decode(m.data)) as { ok?: ChainSnapshot; error?: string }
        if (r.ok === undefined) throw new Error(r.error ?? "no snapshot")
        return r.ok
      }
    ).then(
      (s) => {
        w.fetching = false
        if (watched.get(boardKeyString(w.key)) !== w) return
        w.epoch = s.epoch
        w.n = s.n
        emit(w, s.seq, s.total, s.entries)
        const later = w.buffered.splice(0).filter((d) => d.epoch === s.epoch && d.n > s.n).sort((a, b) => a.n - b.n)
        for (const d of later) {
          if (d.n !== w.n + 1) return fetch(w)
          apply(w, d)
        }
      },
      (e: unknown) => {
        // No merger yet (it starts on our want), or one just died: ask again while watched.
        w.fetching = false
        if (watched.get(boardKeyString(w.key)) !== w || closed) return
        if (!/no responders|not merged yet|timeout/i.test(e instanceof Error ? e.message : String(e))) log.warn(`live board ${boardKeyString(w.key)}: snapshot: ${e instanceof Error ? e.message : String(e)}`)
        w.retry = setTimeout(() => fetch(w), SNAPSHOT_RETRY_MS)
      }
    )
  }
  const keep = (w: Watched, d: ChainDelta) => {
    if (w.buffered.length >= MAX_BUFFERED) w.buffered.shift()
    w.buffered.push(d)
  }
  const onDelta = (w: Watched, d: ChainDelta) => {
    if (w.fetching || w.view === null) return keep(w, d)
    if (d.epoch === w.epoch && d.n <= w.n) return
    if (d.epoch === w.epoch && d.n === w.n + 1) return apply(w, d)
    keep(w, d)
    fetch(w)
  }

  const wants = setInterval(() => { for (const w of watched.values()) want(w) }, WANT_EVERY_MS)
  wants.unref()
  const periods = new Map<Window, string>(WINDOWS.map((w) => [w, periodOf(w, Date.now())]))
  const roll = setInterval(() => {
    for (const [window, period] of periods) {
      const now = periodOf(window, Date.now())
      if (now === period) continue
      periods.set(window, now)
      for (const l of rollovers) l(window, now)
    }
  }, 1_000)
  roll.unref()

  const unserved = (what: string): never => { throw new Error(`${what} is not served by the partitioned live boards (MergedReads answers reads)`) }
  return {
    unavailable: () => null,
    // The gateway's clock names the current period (stream time may trail it by about a second).
    currentPeriod: (window) => periods.get(window) ?? periodOf(window, Date.now()),
    list: () => [],
    page: () => unserved("page"),
    around: () => unserved("around"),
    watch: (key) => {
      const id = boardKeyString(key)
      let w = watched.get(id)
      if (w === undefined) {
        const entry: Watched = {
          key, refs: 0, epoch: -1, n: -1, view: null, fetching: false, buffered: [], retry: undefined,
          sub: nc.subscribe(deltaSubject(key.board, key.window, key.period), {
            callback: (err, m) => { if (err === null) onDelta(entry, JSON.parse(dec.decode(m.data)) as ChainDelta) }
          })
        }
        w = entry
        watched.set(id, w)
        fetch(w)
      }
      w.refs++
      return w.view
    },
    unwatch: (key) => {
      const id = boardKeyString(key)
      const w = watched.get(id)
      if (w === undefined || --w.refs > 0) return
      watched.delete(id)
      clearTimeout(w.retry)
      w.sub.unsubscribe()
    },
    watchAround: () => null,
    unwatchAround: () => undefined,
    onView: (l) => { views.add(l); return () => views.delete(l) },
    onRollover: (l) => { rollovers.add(l); return () => rollovers.delete(l) },
    resyncs: () => resyncs,
    close: () => {
      closed = true
      clearInterval(wants)
      clearInterval(roll)
      for (const w of watched.values()) { clearTimeout(w.retry); w.sub.unsubscribe() }
      watched.clear()
    }
  }
}
