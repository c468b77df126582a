// A request statement's deadline against real Postgres behind a TCP proxy: a query Postgres has
// taken (it is running) misses its deadline while new connections are refused, so the cancel
// request withDeadline sends cannot get through. The call rejects with StatementDeadline and
// nothing is left unhandled (postgres.js 3.4.9's query.cancel() drops the cancel request's promise:
// its rejection, `read ECONNRESET`, killed the service in CI run L1 — vitest fails this file on any
// unhandled rejection, and the listener below names it).
import postgres from "postgres"
import { afterAll, beforeAll, expect, it } from "vitest"
import { StatementDeadline, withDeadline } from "../../src/adapters/postgres/Db.js"
import { PG_URL } from "../support/arena.js"
import { TcpProxy } from "./lib/tcpProxy.js"

const pg = new URL(PG_URL)
const proxy = new TcpProxy(pg.hostname, Number(pg.port || 5432))
let sql: postgres.Sql
const unhandled: Array<unknown> = []
const onUnhandled = (e: unknown): void => { unhandled.push(e) }

beforeAll(async () => {
  const port = await proxy.listen()
  const u = new URL(PG_URL)
  u.hostname = "127.0.0.1"
  u.port = String(port)
  u.pathname = "/postgres"
  sql = postgres(u.toString(), { max: 1, onnotice: () => {}, connect_timeout: 5 })
  process.on("unhandledRejection", onUnhandled)
})
afterAll(async () => {
  process.off("unhandledRejection", onUnhandled)
  proxy.restore()
  await sql?.end({ timeout: 1 })
  await proxy.close()
})

it("a running query past its deadline rejects with StatementDeadline, and its failed cancel leaves nothing unhandled", async () => {
  expect(await sql`SELECT 1 AS one`).toEqual([{ one: 1 }]) // the pool's one connection is up
  proxy.refuseNew()
  const refusedBefore = proxy.refused
  const e = await withDeadline("pg_sleep", () => sql`SELECT pg_sleep(3)`, 300).then(() => null, (x: unknown) => x)
  expect(e).toBeInstanceOf(StatementDeadline)
  // The cancel request tried a new connection and was refused (reset): wait for that state…
  for (let i = 0; i < 200 && proxy.refused === refusedBefore; i++) await new Promise((r) => setTimeout(r, 10))
  expect(proxy.refused).toBeGreaterThan(refusedBefore)
  // …and for the rejection of that attempt to settle (a few turns of the loop after the reset).
  for (let i = 0; i < 20; i++) await new Promise((r) => setImmediate(r))
  await new Promise((r) => setTimeout(r, 50))
  expect(unhandled.map(String)).toEqual([])
})
