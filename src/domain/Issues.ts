// Turns an effect/Schema failure into Arena's public issue list [{path, message}]: paths like
// `multipliers[2]` or `levels[0].xp`, human messages, one issue per path (the first one found).
import { Cause, Exit, SchemaIssue } from "effect"
import type { Schema } from "effect"
import type { Issue } from "./Model.js"

const leafHook: SchemaIssue.LeafHook = (issue) => {
  switch (issue._tag) {
    case "MissingKey":
      return "is required"
    case "UnexpectedKey":
      return "is not a known field"
    default:
      return SchemaIssue.defaultLeafHook(issue)
  }
}

const formatter = SchemaIssue.makeFormatterStandardSchemaV1({ leafHook })

/** `["multipliers", 2, "x"]` → `multipliers[2].x`; the root is the empty string. */
export const formatPath = (path: ReadonlyArray<PropertyKey | { readonly key: PropertyKey }>): string => {
  let out = ""
  for (const seg of path) {
    const k = typeof seg === "object" ? seg.key : seg
    if (typeof k === "number") out += `[${k}]`
    else out += out === "" ? String(k) : "." + String(k)
  }
  return out
}

/** Flattens a Schema issue tree, keeping the first message per path. */
export const issuesOf = (issue: SchemaIssue.Issue): Array<Issue> => {
  const seen = new Set<string>()
  const out: Array<Issue> = []
  for (const i of formatter(issue).issues) {
    const path = formatPath(i.path ?? [])
    if (seen.has(path)) continue
    seen.add(path)
    out.push({ path, message: i.message })
  }
  return out
}

/** The issues of a failed Schema decode Exit (defects are rethrown: they are bugs, not input errors). */
export const issuesOfExit = (exit: Exit.Exit<unknown, Schema.SchemaError>): Array<Issue> => {
  if (Exit.isSuccess(exit)) return []
  const err = Cause.squash(exit.cause)
  if (typeof err === "object" && err !== null && "issue" in err && SchemaIssue.isIssue(err.issue)) {
    return issuesOf(err.issue)
  }
  throw err
}

/** "event_id: must match [A-Za-z0-9._:-]; username: must be at most 64 characters" */
export const summarize = (issues: ReadonlyArray<Issue>): string =>
  issues.map((i) => (i.path === "" ? i.message : `${i.path}: ${i.message}`)).join("; ")
