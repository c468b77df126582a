// A small lexer over ClickHouse SQL text: enough to split a migration file into statements and
// to check that an analyst's query is one read-only statement. It knows strings ('…', with \ and
// '' escapes), quoted identifiers ("…", `…`), and comments (--, #, /* */); nothing else.

export interface Token {
  readonly kind: "word" | "string" | "ident" | "semicolon" | "other"
  readonly text: string
  readonly start: number
}

export class SqlTextError extends Error {}

/** Tokens outside comments and whitespace. Throws SqlTextError on an unterminated string/comment. */
export const tokenize = (sql: string): Token[] => {
  const out: Token[] = []
  let i = 0
  const n = sql.length
  while (i < n) {
    const c = sql[i]!
    if (c === " " || c === "\t" || c === "\n" || c === "\r" || c === "\f") { i++; continue }
    if ((c === "-" && sql[i + 1] === "-") || c === "#") {
      const end = sql.indexOf("\n", i)
      i = end < 0 ? n : end + 1
      continue
    }
    if (c === "/" && sql[i + 1] === "*") {
      const end = sql.indexOf("*/", i + 2)
      if (end < 0) throw new SqlTextError("unterminated /* comment")
      i = end + 2
      continue
    }
    if (c === "'" || c === "\"" || c === "`") {
      const start = i
      i++
      for (;;) {
        if (i >= n) throw new SqlTextError(`unterminated ${c === "'" ? "string" : "quoted identifier"} starting at offset ${start}`)
        const d = sql[i]!
        if (d === "\\") { i += 2; continue }
        if (d === c) {
          if (sql[i + 1] === c) { i += 2; continue } // doubled quote escapes itself
          i++
          break
        }
        i++
      }
      out.push({ kind: c === "'" ? "string" : "ident", text: sql.slice(start, i), start })
      continue
    }
    if (c === ";") { out.push({ kind: "semicolon", text: ";", start: i }); i++; continue }
    if (/[A-Za-z_]/.test(c)) {
      const start = i
      while (i < n && /[A-Za-z0-9_$]/.test(sql[i]!)) i++
      out.push({ kind: "word", text: sql.slice(start, i), start })
      continue
    }
    out.push({ kind: "other", text: c, start: i })
    i++
  }
  return out
}

/** Statements of a script, split at top-level semicolons; empty ones (comments only) dropped. */
export const splitStatements = (sql: string): string[] => {
  const tokens = tokenize(sql)
  const out: string[] = []
  let from = 0
  let seen = false
  for (const t of tokens) {
    if (t.kind === "semicolon") {
      if (seen) out.push(sql.slice(from, t.start).trim())
      from = t.start + 1
      seen = false
    } else if (!seen) {
      from = t.start
      seen = true
    }
  }
  if (seen) out.push(sql.slice(from).trim())
  return out
}

const READ_STATEMENTS = new Set(["SELECT", "WITH", "SHOW", "DESCRIBE", "DESC", "EXPLAIN"])

/**
 * The analyst's query if it is exactly one SELECT/WITH/SHOW/DESCRIBE/EXPLAIN statement, without
 * its trailing semicolon; otherwise throws SqlTextError saying why. ClickHouse's readonly=1 does
 * the real enforcement; this check gives a clear message first and catches what readonly allows
 * but a shared service must not (INTO OUTFILE writes a file in the engine's process).
 */
export const readOnlyStatement = (sql: string): string => {
  const tokens = tokenize(sql)
  if (tokens.length === 0) throw new SqlTextError("the query is empty")
  const semis = tokens.filter((t) => t.kind === "semicolon")
  const last = tokens[tokens.length - 1]!
  if (semis.length > 1 || (semis.length === 1 && last.kind !== "semicolon")) {
    throw new SqlTextError("only one statement is allowed")
  }
  const first = tokens[0]!
  if (first.kind !== "word" || !READ_STATEMENTS.has(first.text.toUpperCase())) {
    throw new SqlTextError(`only SELECT, WITH, SHOW, DESCRIBE and EXPLAIN are allowed; got ${JSON.stringify(first.text)}`)
  }
  for (let i = 0; i + 1 < tokens.length; i++) {
    const a = tokens[i]!
    const b = tokens[i + 1]!
    if (a.kind === "word" && b.kind === "word" && a.text.toUpperCase() === "INTO" && b.text.toUpperCase() === "OUTFILE") {
      throw new SqlTextError("INTO OUTFILE is not allowed")
    }
  }
  for (let i = 0; i < tokens.length; i++) {
    const t = tokens[i]!
    // `format(…)` is a string function; a bare FORMAT is the output clause Arena chooses itself.
    if (t.kind === "word" && t.text.toUpperCase() === "FORMAT" && tokens[i + 1]?.text !== "(") {
      throw new SqlTextError("FORMAT is not allowed: results are always returned as columns and rows")
    }
  }
  const body = semis.length === 1 ? sql.slice(0, last.start) : sql
  return body.trim()
}
