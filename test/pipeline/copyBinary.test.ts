// Snapshot chunks travel as binary COPY (src/adapters/postgres/CopyBinary.ts), against a real
// Postgres: what copyIn writes reads back byte for byte, both through a plain SELECT (Postgres's own
// decoding, not ours) and through copyOutFirst; the stream parser takes a COPY stream cut anywhere;
// and a copy that fails after its end was sent — a row refused by a trigger, or its session killed
// while a trigger holds it — rejects instead of hanging (the vendored postgres.js fix 3), and a
// connection that read a copy to its end serves the next query (fix 4).
import { Effect } from "effect"
import postgres from "postgres"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { CopyParser, copyIn, copyOutFirst, encodeCopy } from "../../src/adapters/postgres/CopyBinary.js"
import type { CopyColumn, CopyValue } from "../../src/adapters/postgres/CopyBinary.js"
import { ensureDatabase } from "../../src/adapters/postgres/Db.js"
import { freshNames } from "../support/arena.js"

const names = freshNames("copy")
let sql: postgres.Sql
const COLUMNS: ReadonlyArray<CopyColumn> = ["int2", "int8", "bool", "int4", "bytea"]

beforeAll(async () => {
  await Effect.runPromise(ensureDatabase(names.databaseUrl))
  sql = postgres(names.databaseUrl, { max: 4, onnotice: () => {} })
  await sql`CREATE TABLE chunk (id bigserial PRIMARY KEY, p smallint NOT NULL, seq bigint NOT NULL, base boolean NOT NULL, users integer NOT NULL, data bytea NOT NULL)`
  // Holds the row whose users is -1 for 0.5 s, then refuses it: the copy's end is sent meanwhile.
  await sql.unsafe(`CREATE FUNCTION refuse_last() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      IF NEW.users = -1 THEN PERFORM pg_sleep(0.5); RAISE EXCEPTION 'row refused by its trigger'; END IF;
      IF NEW.users = -2 THEN PERFORM pg_sleep(30); END IF;
      RETURN NEW;
    END $$`)
  await sql`CREATE TRIGGER refuse_last BEFORE INSERT ON chunk FOR EACH ROW EXECUTE FUNCTION refuse_last()`
})

afterAll(async () => {
  await sql?.end()
  const admin = postgres(new URL("/postgres", names.databaseUrl).toString(), { max: 1, onnotice: () => {} })
  await admin.unsafe(`DROP DATABASE IF EXISTS ${names.database} WITH (FORCE)`)
  await admin.end()
})

const bytes = (n: number, seed: number): Uint8Array => {
  const b = new Uint8Array(n)
  for (let i = 0; i < n; i++) b[i] = (i * 31 + seed * 7) & 0xff
  return b
}

const ROWS: ReadonlyArray<ReadonlyArray<CopyValue>> = [
  [3, 1, true, 2, bytes(0, 1)],
  [32767, Number.MAX_SAFE_INTEGER, false, 2147483647, bytes(300 * 1024, 2)], // over a socket write, several COPY messages
  [0, 42, true, 0, bytes(1, 3)],
  [1, 43, false, 5, Buffer.from("\\x00 ' \" \n \t end", "utf8")]
]

describe("binary COPY of snapshot chunks", () => {
  it("writes every value exactly: read back by Postgres's own decoding and by copyOutFirst", async () => {
    await sql.begin((tx) => copyIn(tx`COPY chunk (p, seq, base, users, data) FROM STDIN (FORMAT binary)`, COLUMNS, ROWS))
    const rows = await sql<Array<{ p: number; seq: string; base: boolean; users: number; data: Buffer }>>`SELECT p, seq, base, users, data FROM chunk ORDER BY id`
    expect(rows.map((r) => [r.p, Number(r.seq), r.base, r.users, [...r.data]])).toEqual(ROWS.map((r) => [r[0], r[1], r[2], r[3], [...(r[4] as Uint8Array)]]))
    // On a one-connection pool: the connection must serve the next query once the copy is read
    // (postgres.js paused its socket at the last CopyData and never resumed it: vendored fix 4).
    const one = postgres(names.databaseUrl, { max: 1, onnotice: () => {} })
    try {
      const out: Array<Array<number>> = []
      const read = await copyOutFirst(one`COPY (SELECT data FROM chunk ORDER BY id) TO STDOUT (FORMAT binary)`, (b) => out.push([...b]))
      expect(read).toEqual({ rows: ROWS.length, bytes: ROWS.reduce((n, r) => n + (r[4] as Uint8Array).byteLength, 0) })
      expect(out).toEqual(ROWS.map((r) => [...(r[4] as Uint8Array)]))
      expect((await one`SELECT count(*)::int AS n FROM chunk`)[0]!.n).toBe(ROWS.length)
    } finally {
      await one.end({ timeout: 1 })
    }
  })

  it("no rows: no statement, nothing written", async () => {
    const before = (await sql`SELECT count(*)::int AS n FROM chunk`)[0]!.n as number
    await copyIn({ writable: () => Promise.reject(new Error("must not be called")) }, COLUMNS, [])
    expect((await sql`SELECT count(*)::int AS n FROM chunk`)[0]!.n).toBe(before)
  })

  it("the parser takes the stream cut at any byte", () => {
    const stream = encodeCopy(["bytea", "int4"], [[bytes(70, 4), 1], [bytes(0, 5), 2], [bytes(1000, 6), 3]])
    for (const cut of [1, 2, 3, 7, 19, 20, 64, 4096]) {
      const got: Array<Array<number>> = []
      const p = new CopyParser((b) => got.push([...b]))
      for (let i = 0; i < stream.length; i += cut) p.push(stream.subarray(i, i + cut))
      p.end()
      expect(got).toEqual([[...bytes(70, 4)], [], [...bytes(1000, 6)]])
    }
    const cutShort = new CopyParser(() => {})
    cutShort.push(stream.subarray(0, stream.length - 2))
    expect(() => cutShort.end()).toThrow(/before its trailer/)
    expect(() => new CopyParser(() => {}).push(Buffer.from("NOTCOPY-header-bytes"))).toThrow(/bad signature/)
  })

  it("a value of the wrong kind is refused before anything is sent", () => {
    expect(() => encodeCopy(["int4", "bytea"], [[1.5, bytes(1, 1)]])).toThrow(/int4/)
    expect(() => encodeCopy(["bool"], [[1]])).toThrow(/bool/)
    expect(() => encodeCopy(["int4", "bytea"], [[1]])).toThrow(/1 values for 2 columns/)
  })

  it("a row refused after the copy's end was sent rejects the copy (no hang) and stores nothing", async () => {
    const before = (await sql`SELECT count(*)::int AS n FROM chunk`)[0]!.n as number
    const copied = sql.begin((tx) => copyIn(tx`COPY chunk (p, seq, base, users, data) FROM STDIN (FORMAT binary)`, COLUMNS, [[1, 1, true, 1, bytes(10, 1)], [1, 2, true, -1, bytes(10, 2)]]))
    await expect(copied).rejects.toThrow(/row refused by its trigger/)
    expect((await sql`SELECT count(*)::int AS n FROM chunk`)[0]!.n).toBe(before)
  })

  it("a session killed while its copy's end waits for Postgres rejects the copy (no hang)", async () => {
    const own = postgres(names.databaseUrl, { max: 1, onnotice: () => {} })
    try {
      const pid = (await own`SELECT pg_backend_pid() AS pid`)[0]!.pid as number
      const copied = own.begin((tx) => copyIn(tx`COPY chunk (p, seq, base, users, data) FROM STDIN (FORMAT binary)`, COLUMNS, [[1, 1, true, -2, bytes(10, 1)]]))
      const failure = copied.then(() => null, (e: unknown) => e)
      // Wait until the row sits in its trigger (its end is sent by then), then kill the session.
      for (;;) {
        const w = await sql`SELECT 1 FROM pg_stat_activity WHERE pid = ${pid} AND wait_event = 'PgSleep'`
        if (w.length > 0) break
        await new Promise((r) => setTimeout(r, 20))
      }
      await sql`SELECT pg_terminate_backend(${pid})`
      const e = await failure
      expect(e).toBeInstanceOf(Error)
      expect(String((e as Error).message)).toMatch(/terminat|CONNECTION|closed/i)
    } finally {
      await own.end({ timeout: 1 })
    }
  })
})
