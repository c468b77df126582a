// The one error the ClickHouse adapter exposes: a reason and whether a retry can help, with
// driver errors (HTTP client, chDB child process, ClickHouse exception codes) classified here.
import { Data } from "effect"

export type ClickHouseReason =
  | "connect" // server unreachable, child process died or not started: retry
  | "locked" // another process holds the embedded data directory: retrying will not help soon
  | "timeout"
  | "query" // ClickHouse rejected the statement (syntax, types, missing table): a bug, no retry
  | "readonly" // a write or setting change in a read-only context
  | "migration"
  | "config"

export class ClickHouseError extends Data.TaggedError("ClickHouseError")<{
  readonly reason: ClickHouseReason
  readonly retryable: boolean
  readonly message: string
  readonly cause?: unknown
}> {}

// ClickHouse exception codes that mean "the server is struggling", not "your SQL is wrong".
const RETRYABLE_CODES = new Set([
  "159", // TIMEOUT_EXCEEDED
  "164", // READONLY (handled below, listed to keep the table complete)
  "202", // TOO_MANY_SIMULTANEOUS_QUERIES
  "209", // SOCKET_TIMEOUT
  "210", // NETWORK_ERROR
  "241", // MEMORY_LIMIT_EXCEEDED
  "252", // TOO_MANY_PARTS
  "394", // QUERY_WAS_CANCELLED
  "425", // SYSTEM_ERROR
  "999" // KEEPER_EXCEPTION
])

/** Map whatever the client, the child process or the server threw to a ClickHouseError. */
export const classifyClickHouse = (cause: unknown, context: string): ClickHouseError => {
  if (cause instanceof ClickHouseError) return cause
  const e = cause as { code?: string | number; message?: string; name?: string } | undefined
  const text = e?.message ?? String(cause)
  const code = String(e?.code ?? "")
  const message = `${context}: ${text}`
  if (/Cannot lock file .*status|Another server instance in same directory/i.test(text)) {
    return new ClickHouseError({ reason: "locked", retryable: false, message, cause })
  }
  if (code === "164" || /readonly mode/i.test(text)) {
    return new ClickHouseError({ reason: "readonly", retryable: false, message, cause })
  }
  if (code === "159" || /timeout|timed out/i.test(text)) {
    return new ClickHouseError({ reason: "timeout", retryable: true, message, cause })
  }
  if (/ECONNREFUSED|ECONNRESET|EPIPE|ENOTFOUND|EHOSTUNREACH|socket hang up|child process|fault injected|not connected/i.test(`${code} ${text}`)) {
    return new ClickHouseError({ reason: "connect", retryable: true, message, cause })
  }
  if (RETRYABLE_CODES.has(code)) return new ClickHouseError({ reason: "query", retryable: true, message, cause })
  return new ClickHouseError({ reason: "query", retryable: false, message, cause })
}
