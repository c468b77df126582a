// @ts-check
// A binary insert body (RowBinary) into chDB: it cannot ride inline after the SQL as text bodies
// do — chDB cuts inline data at an empty line ("\n\n"), which binary rows contain — so it goes
// through a file, read with INSERT … FROM INFILE (and the engine parses RowBinary at a fraction of
// JSON's CPU). Plain JS: chdbChild.mjs imports it (run from src/ by dist/ and vitest alike).
import * as fs from "node:fs"
import * as path from "node:path"

const INSERT_RE = /^\s*(INSERT\s+INTO\s+[\s\S]+?)\s+FORMAT\s+([A-Za-z0-9_]+)\s*$/i
const sqlString = (/** @type {string} */ s) => `'${s.replace(/\\/g, "\\\\").replace(/'/g, "\\'")}'`

/** Empties (or creates) the directory the bodies pass through; only its one user may call it. */
export const resetInsertDir = (/** @type {string} */ dir) => {
  fs.rmSync(dir, { recursive: true, force: true })
  fs.mkdirSync(dir, { recursive: true })
}

/**
 * Runs `query` ("INSERT INTO t (cols) FORMAT <format>") with `body` as its data, through the file
 * `<dir>/<name>.bin` (removed afterwards); `settings` as for a command. An empty body is a no-op.
 * @param {{ command(p: { query: string, clickhouse_settings?: Record<string, unknown> }): Promise<{ summary?: unknown }> }} c
 * @param {{ query: string, body: Uint8Array, settings?: Record<string, unknown>, dir: string, name: string }} p
 */
export const insertBinary = async (c, p) => {
  if (p.body.length === 0) return { summary: undefined }
  const m = INSERT_RE.exec(p.query)
  if (m === null) throw new Error(`a binary insert must be "INSERT INTO … FORMAT <format>": ${p.query.slice(0, 200)}`)
  const file = path.join(p.dir, `${p.name}.bin`)
  fs.mkdirSync(p.dir, { recursive: true })
  fs.writeFileSync(file, p.body)
  try {
    const r = await c.command({ query: `${m[1]} FROM INFILE ${sqlString(file)} FORMAT ${m[2]}`, ...(p.settings !== undefined ? { clickhouse_settings: p.settings } : {}) })
    return { summary: r.summary }
  } finally {
    fs.rmSync(file, { force: true })
  }
}
