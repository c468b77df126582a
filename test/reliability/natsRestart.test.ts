// NATS restarted while events flow (ARCHITECTURE §2.1, §2.2, §2.6): the service runs against a
// private nats-server whose stream lives in its own store directory; the server is killed -9 and
// later stopped cleanly, each time restarted on the same store. The consumer resumes, /readyz
// reports the outage, nothing is lost or doubled (state equals the oracle), dead letters are
// stored once, and live WebSocket folds stay gapless — also if the pipeline restarted meanwhile.
import { afterAll, beforeAll, expect, it } from "vitest"
import { connect } from "@nats-io/transport-node"
import type { NatsConnection } from "@nats-io/transport-node"
import { jetstream, jetstreamManager } from "@nats-io/jetstream"
import type { JetStreamClient, JetStreamManager } from "@nats-io/jetstream"
import { ArenaProcess, cleanup, freshNames, sleep } from "../support/arena.js"
import { Oracle } from "../oracle/Oracle.js"
import { readStream } from "../oracle/stream.js"
import { AGENTS, makeWorkload } from "../oracle/workload.js"
import { SourceIps, request } from "./lib/http.js"
import { PrivateNats } from "./lib/natsServer.js"
import { publishItems } from "./lib/publish.js"
import type { PublishStats } from "./lib/publish.js"
import { checkClickHouse, checkDlq, checkRest } from "./lib/verify.js"
import { BoardWatch } from "./lib/watch.js"

const names = freshNames("natsr")
let server: PrivateNats
let arena: ArenaProcess
let nc: NatsConnection
let js: JetStreamClient
let jsm: JetStreamManager

beforeAll(async () => {
  server = await PrivateNats.create()
  arena = new ArenaProcess(names, { NATS_URL: server.url, ARENA_SNAPSHOT_INTERVAL: "300ms" })
  await arena.start()
  await arena.waitForSeq(0)
  nc = await connect({ servers: server.url, maxReconnectAttempts: -1, reconnectTimeWait: 200 })
  js = jetstream(nc)
  jsm = await jetstreamManager(nc)
})
afterAll(async () => {
  await arena?.kill()
  await nc?.close().catch(() => undefined)
  await server?.destroy()
  await cleanup(names)
})

type Ready = { ready: boolean; reasons: Array<string>; details: { seq?: number } }

/** Polls /readyz (bounded) until `pred` holds; returns the body that satisfied it, or null. */
const readyzUntil = async (pred: (r: Ready) => boolean, timeoutMs: number): Promise<Ready | null> => {
  const deadline = Date.now() + timeoutMs
  while (Date.now() < deadline) {
    const r = await request<Ready>(arena.baseUrl, "GET", "/readyz").catch(() => null)
    if (r !== null && r.json !== undefined && pred(r.json)) return r.json
    await sleep(100)
  }
  return null
}

it("resumes after nats-server is killed -9 and after a clean restart: nothing lost or doubled, folds gapless", async () => {
  const pid = arena.child!.pid
  const ips = new SourceIps(20, 3)
  const subs = [
    { board: "global", window: "all", limit: 25 }, { board: "global", window: "day", limit: 10 },
    { board: `agent:${AGENTS[0]}`, window: "all", limit: 10 }
  ]
  const watchers = await Promise.all(subs.map((s) => BoardWatch.open(arena.baseUrl, s, ips.next())))
  const items = makeWorkload({ events: 6000, users: 120, seed: 77, runId: names.id, nowMs: Date.now() })
  const stats: PublishStats = { stored: 0, duplicates: 0, retries: 0, lastSeq: 0 }
  let done = false
  const publisher = (async () => {
    for (let i = 0; i < items.length; i += 200) {
      await publishItems(js, names.subject, items.slice(i, i + 200), { stats, inFlight: 200 })
      await sleep(60)
    }
    done = true
  })()

  const outages: Array<{ how: string; sawNatsReason: boolean }> = []
  for (const how of ["SIGKILL", "SIGTERM"] as const) {
    await sleep(1500)
    expect(done).toBe(false) // the outage hits while events flow
    await server.stop(how)
    const down = await readyzUntil((r) => r.reasons.some((x) => /nats/.test(x)), 10_000)
    await sleep(1000)
    await server.start()
    outages.push({ how, sawNatsReason: down !== null })
  }
  await publisher
  const head = (await jsm.streams.info(names.stream)).state.last_seq
  await arena.waitForSeq(head)
  expect(arena.child?.pid).toBe(pid) // the service itself never went down
  expect(outages).toEqual([{ how: "SIGKILL", sawNatsReason: true }, { how: "SIGTERM", sawNatsReason: true }])

  const oracle = new Oracle()
  for (const m of await readStream(js, jsm, names.stream)) oracle.apply(m)
  expect(oracle.lastSeq).toBe(head)
  expect(stats.retries).toBeGreaterThan(0) // publishes did hit the outages
  const rest = await checkRest(arena.baseUrl, oracle, ips)
  expect(rest.problems).toEqual([])
  const cur = oracle.currentPeriods()
  for (const w of watchers) {
    const expected = oracle.ranked(w.sub.board, w.sub.window, cur[w.sub.window as keyof typeof cur]).slice(0, w.sub.limit)
    const s = await w.settle(expected)
    expect(s.entries).toEqual(expected)
    w.close()
  }
  const restarted = (arena.log.match(/pipeline failed, restarting/g) ?? []).length
  expect(await arena.stop()).toBe(0) // its final snapshot waits until every dead letter is acked
  expect(await checkDlq(js, jsm, names.dlqStream, oracle)).toEqual([])
  expect((await checkClickHouse(names.dataDir, oracle)).problems).toEqual([])
  console.log(`nats restarts: ${items.length} published (${stats.retries} retries, ${stats.duplicates} deduplicated), ${oracle.ledger.length} applied, ` +
    `${oracle.rejections.size} dead-lettered; pipeline restarts seen by the service: ${restarted}`)
})
