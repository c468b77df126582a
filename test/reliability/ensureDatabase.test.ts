// Processors started together on a fresh database (docker compose's cluster profile, the bench)
// each find it missing and create it: every start must succeed, the database is created once, and
// a real failure (a name Postgres refuses to create) still fails with its cause. Real Postgres.
import { Effect, Exit } from "effect"
import postgres from "postgres"
import { afterAll, expect, it } from "vitest"
import { ensureDatabase } from "../../src/adapters/postgres/Db.js"
import { PG_URL, freshNames } from "../support/arena.js"

const names = freshNames("ensuredb")
const admin = () => { const u = new URL(PG_URL); u.pathname = "/postgres"; return postgres(u.toString(), { max: 1, onnotice: () => {} }) }
afterAll(async () => {
  const sql = admin()
  await sql.unsafe(`DROP DATABASE IF EXISTS "${names.database}" WITH (FORCE)`)
  await sql.end()
})

it("eight concurrent starts on a missing database all succeed, and exactly one of them created it", async () => {
  const exits = await Promise.all(Array.from({ length: 8 }, () => Effect.runPromiseExit(ensureDatabase(names.databaseUrl))))
  const created: boolean[] = []
  for (const e of exits) {
    if (Exit.isFailure(e)) throw new Error(`a start failed: ${String(e.cause)}`)
    created.push(e.value)
  }
  expect(created.filter(Boolean).length).toBe(1)
  const sql = admin()
  expect((await sql`SELECT count(*)::int AS n FROM pg_database WHERE datname = ${names.database}`)[0]!.n).toBe(1)
  await sql.end()
  // Again, now that it exists: nobody creates it.
  const again = await Promise.all(Array.from({ length: 3 }, () => Effect.runPromise(ensureDatabase(names.databaseUrl))))
  expect(again).toEqual([false, false, false])
})

it("a start that may not create the database still fails, with Postgres's reason", async () => {
  const role = `${names.database}_nocreate`
  const sql = admin()
  await sql.unsafe(`CREATE ROLE "${role}" LOGIN NOCREATEDB`)
  try {
    const u = new URL(names.databaseUrl)
    u.username = role
    u.pathname = `/${names.database}_x`
    const exit = await Effect.runPromiseExit(ensureDatabase(u.toString()))
    expect(Exit.isFailure(exit)).toBe(true)
    expect(String(Exit.isFailure(exit) ? exit.cause : "")).toMatch(/permission denied to create database/)
  } finally {
    await sql.unsafe(`DROP ROLE IF EXISTS "${role}"`)
    await sql.end()
  }
})
