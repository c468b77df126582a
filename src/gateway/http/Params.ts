// Query and path parameter validation with field paths ("query.limit", "path.board"). Collects
// every problem before answering, so a client sees all of them in one 400.
import { BOARD_NAME } from "../../domain/BoardKeys.js"
import type { Issue, Window } from "../../domain/Model.js"
import { WINDOWS } from "../../domain/Model.js"
import { isValidPeriod } from "../../domain/Periods.js"
import { invalid } from "./ApiError.js"

const INT = /^(0|[1-9]\d{0,15})$/
const BOARD = BOARD_NAME
const USER_ID = /^[A-Za-z0-9._:@-]{1,128}$/

const PERIOD_EXAMPLE: Record<Window, string> = { all: "all", day: "2026-11-26", week: "2026-W48", month: "2026-11" }

export class Params {
  private readonly issues: Array<Issue> = []

  /** `allowed` lists the query keys this route understands; others are reported (typos surface). */
  constructor(private readonly query: URLSearchParams, allowed: ReadonlyArray<string>) {
    const seen = new Set<string>()
    for (const key of query.keys()) {
      if (!allowed.includes(key)) this.issue(`query.${key}`, "unknown parameter")
      else if (seen.has(key)) this.issue(`query.${key}`, "must be given at most once")
      seen.add(key)
    }
  }

  issue(path: string, message: string): void {
    if (!this.issues.some((i) => i.path === path)) this.issues.push({ path, message })
  }

  get ok(): boolean {
    return this.issues.length === 0
  }

  /** Throws a 400 with every issue found so far. */
  check(): void {
    if (this.issues.length > 0) throw invalid(this.issues)
  }

  str(name: string): string | undefined {
    const v = this.query.get(name)
    return v === null ? undefined : v
  }

  int(name: string, min: number, max: number, def: number): number {
    const raw = this.query.get(name)
    if (raw === null) return def
    const n = INT.test(raw) ? Number(raw) : NaN
    if (!(n >= min && n <= max)) {
      this.issue(`query.${name}`, `must be an integer from ${min} to ${max}`)
      return def
    }
    return n
  }

  bool(name: string): boolean {
    const raw = this.query.get(name)
    if (raw === null) return false
    if (raw === "1" || raw === "true") return true
    if (raw === "0" || raw === "false") return false
    this.issue(`query.${name}`, "must be 1, 0, true or false")
    return false
  }

  window(name = "window"): Window {
    const raw = this.query.get(name)
    if (raw === null) return "all"
    if ((WINDOWS as ReadonlyArray<string>).includes(raw)) return raw as Window
    this.issue(`query.${name}`, `must be one of ${WINDOWS.join(", ")}`)
    return "all"
  }

  /** The explicit period (validated against the window), or undefined when absent. */
  period(window: Window, name = "period"): string | undefined {
    const raw = this.query.get(name)
    if (raw === null) return undefined
    if (!isValidPeriod(window, raw)) {
      this.issue(`query.${name}`, `must be a valid ${window} period like ${PERIOD_EXAMPLE[window]} for window=${window}`)
      return undefined
    }
    return raw
  }

  board(raw: string, path = "path.board"): string {
    if (!BOARD.test(raw)) this.issue(path, "must be global, agent:<name> with name matching [a-z0-9-]{1,64}, or group:<id> with id matching [A-Za-z0-9._-]{1,64}")
    return raw
  }

  userId(raw: string, path = "path.user_id"): string {
    if (!USER_ID.test(raw)) this.issue(path, "must be 1..128 characters of [A-Za-z0-9._:@-]")
    return raw
  }
}

/** Path segments arrive percent-encoded (agent%3Aname); a malformed escape is a 400, not a crash. */
export const decodeSegment = (raw: string, path: string): string => {
  try {
    return decodeURIComponent(raw)
  } catch {
    throw invalid([{ path, message: "is not valid percent-encoding" }])
  }
}

export const parseQuery = (raw: string): URLSearchParams => new URLSearchParams(raw)
