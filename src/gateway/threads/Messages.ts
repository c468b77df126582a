// What the main thread and a WS worker thread say over the worker's MessagePort (one ordered
// channel each way): the HubSide/HostSide calls of ws/HostLink.ts, admission and forwarded HTTP
// as request/answer pairs, and the worker's periodic report.
import type { GatewayConfig } from "../GatewayConfig.js"
import type { ForwardedRequest } from "../http/Exchange.js"
import type { Reply } from "../http/Http.js"
import type { Admit, UpgradeRequest } from "../ws/Admission.js"
import type { ConnSpec } from "../ws/HostLink.js"
import type { MetricTotals } from "../ws/WsMetrics.js"

export interface WorkerInit {
  readonly config: GatewayConfig
  /** The port to listen on: the configured one for the first worker, the bound one after. */
  readonly port: number
  readonly index: number
}

export type LeaderboardAdmit = Admit<ConnSpec>
export type UserAdmit = Admit<{ readonly userId: string; readonly protocol: string }>

/** Messages of one turn travel as one (a postMessage costs more than the small messages it carries). */
export interface Many<M> {
  readonly t: "many"
  readonly msgs: ReadonlyArray<M>
}

/** Collects the messages of one turn and posts them together, in order, when `schedule` fires. */
export const outbox = <M>(postMessage: (m: M | Many<M>) => void, schedule: (f: () => void) => void): ((m: M) => void) => {
  let queued: Array<M> = []
  const flush = (): void => {
    const msgs = queued
    queued = []
    postMessage(msgs.length === 1 ? msgs[0]! : { t: "many", msgs })
  }
  return (m) => {
    if (queued.length === 0) schedule(flush)
    queued.push(m)
  }
}

export type ToWorker =
  | { readonly t: "attached"; readonly conn: number; readonly topic: string; readonly frames: ReadonlyArray<string>; readonly snapshot: boolean }
  | { readonly t: "resynced"; readonly conn: number; readonly topic: string; readonly frame: string }
  | { readonly t: "moved"; readonly conn: number; readonly topic: string; readonly frame: string }
  /** `at`: when the hub handed the batch over (performance.timeOrigin + performance.now(), ms). */
  | { readonly t: "batch"; readonly items: ReadonlyArray<readonly [string, string]>; readonly at: number }
  | { readonly t: "notify"; readonly topic: string; readonly json: string }
  | { readonly t: "admitted"; readonly id: number; readonly answer: LeaderboardAdmit | UserAdmit }
  | { readonly t: "http"; readonly id: number; readonly reply: Reply; readonly extra: ReadonlyArray<readonly [string, string]>; readonly head: boolean }
  | { readonly t: "stop" }

export type FromWorker =
  | { readonly t: "listening"; readonly port: number }
  | { readonly t: "listen-failed"; readonly message: string }
  | { readonly t: "open"; readonly conn: number; readonly spec: ConnSpec }
  | { readonly t: "close"; readonly conn: number }
  | { readonly t: "resync"; readonly conn: number }
  /** `n` batches published and written (absent: one). */
  | { readonly t: "ack"; readonly n?: number }
  | { readonly t: "userOpen"; readonly conn: number; readonly userId: string }
  | { readonly t: "userClose"; readonly conn: number }
  | { readonly t: "release"; readonly ip: string; readonly route: "leaderboard" | "users" }
  | { readonly t: "admit"; readonly id: number; readonly route: "leaderboard" | "users"; readonly req: UpgradeRequest }
  | { readonly t: "http"; readonly id: number; readonly req: ForwardedRequest }
  | { readonly t: "report"; readonly totals: MetricTotals | null; readonly sockets: number; readonly stale: number; readonly maxBuffered: number }
  | { readonly t: "log"; readonly level: "warn"; readonly message: string }
  | { readonly t: "stopped" }
