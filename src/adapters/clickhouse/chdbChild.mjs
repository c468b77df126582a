// @ts-check
// The embedded ClickHouse (chDB) process: owns the one chdb connection to a data directory and
// serves ClickHouse Connection calls from its parent over IPC. Plain JS on purpose: the service
// runs from dist/ (tsc output) and tests from src/ (vitest), and both fork this same file.
// A separate process because a large insert stalls its caller's event loop for hundreds of ms.
import * as path from "node:path"
import { createChdbConnection } from "chdb/connection"
import { HTTP_ONLY_SETTINGS, insertBinary, resetInsertDir } from "./ChdbBinaryInsert.mjs"

const [dataPath, database] = process.argv.slice(2)
if (!dataPath || !database || !/^[A-Za-z_][A-Za-z0-9_]{0,63}$/.test(database)) {
  process.stderr.write("usage: chdbChild.mjs <data path> <database>\n")
  process.exit(2)
}
const send = (/** @type {unknown} */ msg) => { if (process.connected && process.send) process.send(msg) }

// Settings chDB drops itself (HTTP-only ones) or maps to an option: they never touch the session.
const HARMLESS = HTTP_ONLY_SETTINGS

/** chDB applies per-request settings as `SET` on the session, where they persist: a request
 *  with real settings therefore runs on its own short-lived session (~1 ms to open), so a
 *  `readonly` or an `insert_deduplication_token` never leaks into the next request. */
const needsOwnSession = (/** @type {Record<string, unknown> | undefined} */ s) =>
  s !== undefined && Object.keys(s).some((k) => !HARMLESS.has(k) && s[k] !== undefined)

// Binary insert bodies pass through files here (ChdbBinaryInsert.mjs). The directory lives in the
// data directory, which only the process holding its lock uses; that process empties it once it
// holds the lock, so a file left by a killed child does not accumulate.
const insertDir = path.join(dataPath, "arena-insert-tmp")

/** @type {import("chdb/connection").ChdbConnection | null} */
let main = null
let closing = false

const open = async () => {
  const c = createChdbConnection({ path: dataPath })
  await c.command({ query: `CREATE DATABASE IF NOT EXISTS ${database}` })
  await c.command({ query: `USE ${database}` })
  return c
}

const collect = async (/** @type {AsyncIterable<unknown>} */ stream) => {
  /** @type {Buffer[]} */
  const parts = []
  for await (const chunk of stream) parts.push(Buffer.isBuffer(chunk) ? chunk : Buffer.from(/** @type {string} */ (chunk)))
  return Buffer.concat(parts)
}

const run = async (/** @type {import("chdb/connection").ChdbConnection} */ c, /** @type {any} */ req) => {
  const base = { query: req.query, query_params: req.params, clickhouse_settings: req.settings }
  switch (req.op) {
    case "query": {
      const r = await c.query(base)
      return { data: await collect(r.stream) }
    }
    case "command": {
      const r = await c.command(base)
      return { summary: r.summary }
    }
    case "insert": {
      if (req.body instanceof Uint8Array) return insertBinary(c, { query: req.query, body: req.body, settings: req.settings, dir: insertDir, name: String(req.id) })
      // chDB rejects an INSERT without rows; an empty body is a successful no-op, as over HTTP.
      if (String(req.body ?? "").trim() === "") return { summary: undefined }
      const r = await c.insert({ ...base, values: req.body })
      return { summary: r.summary }
    }
    case "ping": {
      const r = await c.ping({ select: true })
      if (!r.success) throw r.error
      return {}
    }
    default:
      throw new Error(`unknown op ${String(req.op)}`)
  }
}

/** Insert bodies arriving in chunks (strings, or bytes for a binary format), by request id, until their request comes. */
/** @type {Map<number, Array<string | Uint8Array>>} */
const bodies = new Map()

const handle = async (/** @type {any} */ req) => {
  if (req.chunked) {
    const parts = bodies.get(req.id) ?? []
    bodies.delete(req.id)
    req.body = parts.length > 0 && parts.every((p) => typeof p === "string")
      ? parts.join("")
      : Buffer.concat(parts.map((p) => (typeof p === "string" ? Buffer.from(p) : p)))
  }
  try {
    if (main === null) throw new Error("chdb connection is not open")
    let result
    // A binary insert carries its settings in its own SETTINGS clause (ChdbBinaryInsert.mjs).
    const binaryInsert = req.op === "insert" && req.body instanceof Uint8Array
    if (!binaryInsert && needsOwnSession(req.settings)) {
      const own = await open()
      try { result = await run(own, req) } finally { await own.close() }
    } else {
      result = await run(main, req)
    }
    send({ id: req.id, ok: true, ...result })
  } catch (e) {
    const err = /** @type {{ message?: string, code?: unknown, type?: unknown }} */ (e)
    send({ id: req.id, ok: false, error: { message: err?.message ?? String(e), code: err?.code === undefined ? "" : String(err.code), type: err?.type === undefined ? undefined : String(err.type) } })
  }
}

const shutdown = async (/** @type {number} */ code) => {
  if (closing) return
  closing = true
  try { if (main !== null) await main.close() } catch { /* exiting anyway */ }
  process.exit(code)
}

process.on("message", (/** @type {any} */ req) => {
  if (req?.op === "chunk") {
    const parts = bodies.get(req.id)
    if (parts === undefined) bodies.set(req.id, [req.data])
    else parts.push(req.data)
  } else if (req?.op === "shutdown") void shutdown(0)
  else if (!closing) void handle(req)
})
// The parent went away (crash, kill -9): release the data directory's lock instead of lingering.
process.on("disconnect", () => void shutdown(0))

try {
  main = await open()
  resetInsertDir(insertDir)
  send({ type: "ready", pid: process.pid })
} catch (e) {
  send({ type: "fatal", message: /** @type {Error} */ (e)?.message ?? String(e) })
  process.exit(1)
}
