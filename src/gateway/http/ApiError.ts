// The one error shape of the HTTP API (ARCHITECTURE §6):
// {"error":{"code","message","details":[{"path","message"}]}}. Nothing else reaches a client.
import type { Issue } from "../../domain/Model.js"

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly details: ReadonlyArray<Issue> = [],
    readonly headers: Readonly<Record<string, string>> = {}
  ) {
    super(message)
    this.name = "ApiError"
  }

  toJSON(): { error: { code: string; message: string; details: ReadonlyArray<Issue> } } {
    return { error: { code: this.code, message: this.message, details: this.details } }
  }
}

const summarize = (details: ReadonlyArray<Issue>): string =>
  details.length === 0 ? "invalid request" : details.slice(0, 3).map((d) => `${d.path}: ${d.message}`).join("; ") +
    (details.length > 3 ? ` (+${details.length - 3} more)` : "")

export const invalid = (details: ReadonlyArray<Issue>, message?: string): ApiError =>
  new ApiError(400, "invalid_request", message ?? summarize(details), details)

export const unauthorized = (message: string): ApiError =>
  new ApiError(401, "unauthorized", message, [], { "WWW-Authenticate": `Bearer realm="arena", error="invalid_token"` })

export const missingToken = (): ApiError =>
  new ApiError(401, "unauthorized", "a bearer token is required", [], { "WWW-Authenticate": `Bearer realm="arena"` })

export const forbidden = (message: string): ApiError => new ApiError(403, "forbidden", message)

export const notFound = (message = "not found"): ApiError => new ApiError(404, "not_found", message)

export const tooLarge = (limit: number): ApiError =>
  new ApiError(413, "payload_too_large", `request body exceeds ${limit} bytes`)

export const rateLimited = (retryAfterSeconds: number): ApiError =>
  new ApiError(429, "rate_limited", `too many requests; retry after ${retryAfterSeconds}s`, [], {
    "Retry-After": String(retryAfterSeconds)
  })

/** Seconds to wait before reading state again while the pipeline loads or restarts. */
export const STATE_RETRY_AFTER_S = 1

/** 503 + Retry-After while the state a read needs is not loaded (`why` is the port's sentence). */
export const stateUnavailable = (why: string): ApiError =>
  new ApiError(503, "unavailable", `state is not available right now: ${why}; retry later`, [], { "Retry-After": String(STATE_RETRY_AFTER_S) })

export const methodNotAllowed = (allow: ReadonlyArray<string>): ApiError =>
  new ApiError(405, "method_not_allowed", `method not allowed; use ${allow.join(", ")}`, [], { Allow: allow.join(", ") })
