// The world a cluster test (test/cluster) runs in: a 3-node loopback NATS cluster with the
// partition mapping (natsCluster.ts), a fresh Postgres database and data directory named after the
// test, and the test's own NATS and Postgres clients — set up by `up()` in beforeAll and torn down
// by `down()` in afterAll (after the test has stopped its members), in one place instead of a copy
// in every cluster test.
import { randomBytes } from "node:crypto"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { connect } from "@nats-io/transport-node"
import type { ConnectionOptions, NatsConnection } from "@nats-io/transport-node"
import { jetstream, jetstreamManager } from "@nats-io/jetstream"
import type { JetStreamClient, JetStreamManager } from "@nats-io/jetstream"
import postgres from "postgres"
import { PG_URL } from "./arena.js"
import { testCluster } from "./natsCluster.js"
import type { TestCluster } from "./natsCluster.js"

export interface ClusterClients {
  readonly nc: NatsConnection
  readonly js: JetStreamClient
  readonly jsm: JetStreamManager
  /** A small pool on the test's database (the processors' fences, checkpoints, awards). */
  readonly sql: postgres.Sql
}

export interface ClusterWorld {
  readonly cluster: TestCluster
  /** `<label><8 hex>`: the database is `arena_<id>`, the data directory `arena-<id>-…`. */
  readonly id: string
  readonly databaseUrl: string
  readonly dataDir: string
  /** Starts the cluster, creates the database, connects the clients (extra NATS options over every node's URL). */
  readonly up: (natsOptions?: Partial<ConnectionOptions>) => Promise<ClusterClients>
  /** Closes the clients, drops the database, stops the cluster, removes the data directory. */
  readonly down: () => Promise<void>
}

const admin = async (statement: string): Promise<void> => {
  const a = postgres(PG_URL, { max: 1, onnotice: () => {} })
  try {
    await a.unsafe(statement)
  } finally {
    await a.end()
  }
}

export const clusterWorld = (label: string, o: { readonly partitions: number }): ClusterWorld => {
  const cluster = testCluster({ partitions: o.partitions })
  const id = `${label}${randomBytes(4).toString("hex")}`
  const u = new URL(PG_URL)
  u.pathname = `/arena_${id}`
  const databaseUrl = u.toString()
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), `arena-${id}-`))
  let clients: ClusterClients | null = null
  return {
    cluster,
    id,
    databaseUrl,
    dataDir,
    up: async (natsOptions = {}) => {
      const r = await cluster.run("start")
      if (r.code !== 0) throw new Error(r.out)
      await admin(`CREATE DATABASE arena_${id}`)
      const sql = postgres(databaseUrl, { max: 2, onnotice: () => {} })
      const nc = await connect({ servers: [...cluster.urls], ...natsOptions })
      clients = { nc, js: jetstream(nc, { timeout: 5_000 }), jsm: await jetstreamManager(nc), sql }
      return clients
    },
    down: async () => {
      await clients?.nc.close()
      await clients?.sql.end()
      await admin(`DROP DATABASE IF EXISTS arena_${id} WITH (FORCE)`).catch(() => undefined)
      await cluster.destroy()
      fs.rmSync(dataDir, { recursive: true, force: true })
    }
  }
}
