// Postgres down while events flow (ARCHITECTURE §2.1, README "Postgres being down only delays
// snapshots"): the service reaches Postgres through a TCP proxy the test cuts. Processing goes on
// (REST equals the oracle), /readyz says not ready with a postgres reason, the process stays up;
// after the restore a snapshot lands at the head, and a kill -9 then restarts from it exactly.
import { afterAll, beforeAll, expect, it } from "vitest"
import { ArenaProcess, JWT_SECRET, PG_URL, cleanup, db, freshNames, natsClient, sleep } from "../support/arena.js"
import type { Nats, Names } from "../support/arena.js"
import { mintToken } from "../../src/gateway/auth/Auth.js"
import { Oracle } from "../oracle/Oracle.js"
import { readStream } from "../oracle/stream.js"
import { makeWorkload } from "../oracle/workload.js"
import { SourceIps, request } from "./lib/http.js"
import { publishItems } from "./lib/publish.js"
import { TcpProxy } from "./lib/tcpProxy.js"
import { checkRest } from "./lib/verify.js"

const pg = new URL(PG_URL)
const proxy = new TcpProxy(pg.hostname, Number(pg.port || 5432))
const base = freshNames("pgdown")
let names: Names
let arena: ArenaProcess
let nats: Nats

beforeAll(async () => {
  const port = await proxy.listen()
  const u = new URL(base.databaseUrl)
  u.port = String(port)
  names = { ...base, databaseUrl: u.toString() }
  nats = await natsClient()
  arena = new ArenaProcess(names, { ARENA_SNAPSHOT_INTERVAL: "300ms" })
  await arena.start()
  await arena.waitForSeq(0)
})
afterAll(async () => {
  await arena?.kill()
  await proxy.close()
  await nats?.nc.close()
  await cleanup(base)
})

type Ready = { ready: boolean; reasons: Array<string>; details: { seq?: number; snapshot_seq?: number } }
const readyz = async () => (await request<Ready>(arena.baseUrl, "GET", "/readyz")).json
const until = async <T>(what: string, f: () => Promise<T | null | false>, timeoutMs = 30_000): Promise<T> => {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const v = await f()
    if (v !== null && v !== false) return v
    if (Date.now() > deadline) throw new Error(`timed out: ${what}\n${arena.log.slice(-1500)}`)
    await sleep(100)
  }
}

it("keeps processing with Postgres cut, reports it, retries snapshots, and lands one after the restore", async () => {
  const ips = new SourceIps(20, 4)
  const items = makeWorkload({ events: 4000, users: 100, seed: 5, runId: names.id, nowMs: Date.now() })
  const first = await publishItems(nats.js, names.subject, items.slice(0, 2000))
  await arena.waitForSeq(first.lastSeq)
  await until("first snapshot", async () => ((await readyz()).details.snapshot_seq ?? 0) >= first.lastSeq)

  proxy.cut()
  const pid = arena.child!.pid
  const second = await publishItems(nats.js, names.subject, items.slice(2000))
  const head = (await nats.jsm.streams.info(names.stream)).state.last_seq
  const down = await until("processing past the cut, with a postgres reason", async () => {
    const r = await readyz()
    return (r.details.seq ?? 0) >= head && r.reasons.some((x) => /^postgres/.test(x)) ? r : null
  })
  expect(down.ready).toBe(false)
  expect(down.details.snapshot_seq).toBeLessThan(head) // nothing committed while cut

  const oracle = new Oracle()
  for (const m of await readStream(nats.js, nats.jsm, names.stream)) oracle.apply(m)
  expect((await checkRest(arena.baseUrl, oracle, ips)).problems).toEqual([])
  // What needs Postgres right now answers 503 with Retry-After (§6: not a 500); the process stays up.
  const share = await request<{ error: { code: string } }>(arena.baseUrl, "POST", "/v1/shares", { token: await mintToken({ sub: "pg-user", scope: "", ttlSeconds: 60 }, JWT_SECRET), json: { title: "t", content: "c" } })
  expect([share.status, share.headers["retry-after"], share.json.error.code]).toEqual([503, "2", "unavailable"])
  await sleep(1500)
  expect(proxy.refused).toBeGreaterThan(0) // snapshots kept being retried
  expect(arena.child?.pid).toBe(pid)

  proxy.restore()
  const up = await until("ready with a snapshot at the head", async () => {
    const r = await readyz()
    return r.ready && r.details.snapshot_seq === head ? r : null
  }, 60_000)
  expect(up.reasons).toEqual([])
  const sql = db(base) // directly, not through the proxy
  const [cp] = await sql<{ seq: string }[]>`SELECT seq FROM arena_checkpoint`
  await sql.end()
  expect(Number(cp?.seq)).toBe(head)

  // The snapshot written after the outage is a correct restart point.
  await arena.kill()
  await arena.start()
  await arena.waitForSeq(head)
  expect((await checkRest(arena.baseUrl, oracle, ips)).problems).toEqual([])
  expect(arena.log).toMatch(new RegExp(`snapshot loaded: \\d+ users, \\d+ boards at seq ${head}`))
  console.log(`postgres cut: ${second.stored} events applied while down, ${proxy.refused} refused connection attempts, share answer ${share.status}`)
})
