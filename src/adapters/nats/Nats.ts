// The NATS connection (scoped: drained on shutdown) with its JetStream client and manager.
import { connect } from "@nats-io/transport-node"
import type { NatsConnection } from "@nats-io/transport-node"
import { jetstream, jetstreamManager } from "@nats-io/jetstream"
import type { JetStreamClient, JetStreamManager } from "@nats-io/jetstream"
import { Effect } from "effect"
import { classifyNats } from "./NatsError.js"

export interface NatsHandle {
  readonly nc: NatsConnection
  readonly js: JetStreamClient
  readonly jsm: JetStreamManager
  /** True while the client is connected (it reconnects by itself). */
  readonly connected: () => boolean
}

/** Partitioned mode: notice a dead or frozen server within seconds (a lease is only TTL long). */
export interface NatsLiveness { readonly pingIntervalMs: number; readonly maxPingOut: number }

export const openNats = (url: string, name: string, liveness?: NatsLiveness) =>
  Effect.acquireRelease(
    Effect.tryPromise({
      try: async () => {
        // NATS_URL may list a cluster's servers separated by commas (scripts/cluster.sh prints it so).
        const nc = await connect({ servers: url.includes(",") ? url.split(",").map((s) => s.trim()) : url, name, maxReconnectAttempts: -1, reconnectTimeWait: 500, waitOnFirstConnect: false,
          ...(liveness === undefined ? {} : { pingInterval: liveness.pingIntervalMs, maxPingOut: liveness.maxPingOut }) })
        let up = true
        void (async () => {
          for await (const s of nc.status()) {
            if (s.type === "disconnect") up = false
            else if (s.type === "reconnect") up = true
          }
        })()
        const jsm = await jetstreamManager(nc)
        return { nc, js: jetstream(nc), jsm, connected: () => up && !nc.isClosed() } satisfies NatsHandle
      },
      catch: (e) => classifyNats(e, `connecting to NATS at ${url}`)
    }),
    (h) => Effect.promise(() => h.nc.drain().catch(() => h.nc.close()))
  )
