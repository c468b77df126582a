// @ts-check
// A binary insert body (RowBinary) into chDB: it cannot ride inline after the SQL as text bodies
// do — chDB cuts inline data at an empty line ("\n\n"), which binary rows contain — so it goes
// through a file, read with INSERT … FROM INFILE (and the engine parses RowBinary at a fraction of
// JSON's CPU). Its settings go into the statement's own SETTINGS clause, so it runs on the
// child's main session: they cannot leak into the next request, and no session is opened for it
// (a session per insert cost ~20 ms of CPU each). Plain JS: chdbChild.mjs imports it (run from
// src/ by dist/ and vitest alike).
import * as fs from "node:fs"
import * as path from "node:path"

const INSERT_RE = /^\s*(INSERT\s+INTO\s+[\s\S]+?)\s+FORMAT\s+([A-Za-z0-9_]+)\s*$/i
/** input('structure') in an INSERT … SELECT (the structure a quoted literal, with \' escapes). */
const INPUT_RE = /\binput\s*\(\s*('(?:[^'\\]|\\.)*')\s*\)/
const sqlString = (/** @type {string} */ s) => `'${s.replace(/\\/g, "\\\\").replace(/'/g, "\\'")}'`

/** Settings of the HTTP interface (the client sends some by default) that chDB does not know. */
export const HTTP_ONLY_SETTINGS = new Set(["wait_end_of_query", "send_progress_in_http_headers", "http_response_buffer_size",
  "http_headers_progress_interval_ms", "http_send_progress_interval_ms", "enable_http_compression",
  "http_zlib_compression_level", "default_format"])

/** " SETTINGS a = 1, b = 'x'" for one statement (names checked, values quoted), or "". */
const settingsClause = (/** @type {Record<string, unknown> | undefined} */ settings) => {
  const parts = []
  for (const [k, v] of Object.entries(settings ?? {})) {
    if (v === undefined || HTTP_ONLY_SETTINGS.has(k)) continue
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(k)) throw new Error(`invalid setting name ${JSON.stringify(k)}`)
    const value = typeof v === "number" && Number.isFinite(v) ? String(v) : typeof v === "boolean" ? (v ? "1" : "0") : sqlString(String(v))
    parts.push(`${k} = ${value}`)
  }
  return parts.length === 0 ? "" : ` SETTINGS ${parts.join(", ")}`
}

/** Empties (or creates) the directory the bodies pass through; only its one user may call it. */
export const resetInsertDir = (/** @type {string} */ dir) => {
  fs.rmSync(dir, { recursive: true, force: true })
  fs.mkdirSync(dir, { recursive: true })
}

/**
 * Runs `query` ("INSERT INTO t (cols) FORMAT <format>") with `body` as its data, through the file
 * `<dir>/<name>.bin` (removed afterwards), with `settings` for this statement only. An empty body
 * is a no-op.
 * @param {{ command(p: { query: string }): Promise<{ summary?: unknown }> }} c
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
    // `INSERT INTO t (cols) SELECT … FROM input('structure') WHERE … FORMAT F` (a conditional insert,
    // partitioned mode's fence): the rows are read with file(<file>, F, 'structure') instead.
    const input = INPUT_RE.exec(m[1])
    if (input !== null) {
      const query = `${m[1].slice(0, input.index)}file(${sqlString(file)}, ${sqlString(m[2])}, ${input[1]})${m[1].slice(input.index + input[0].length)}${settingsClause(p.settings)}`
      const r = await c.command({ query })
      return { summary: r.summary }
    }
    const r = await c.command({ query: `${m[1]} FROM INFILE ${sqlString(file)}${settingsClause(p.settings)} FORMAT ${m[2]}` })
    return { summary: r.summary }
  } finally {
    fs.rmSync(file, { force: true })
  }
}
