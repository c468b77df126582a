// The one error the Postgres adapter exposes, with driver codes classified in one place.
import { Data } from "effect"

export type PgReason = "connect" | "query" | "conflict" | "migration" | "snapshot_mismatch"

export class PgError extends Data.TaggedError("PgError")<{
  readonly reason: PgReason
  readonly retryable: boolean
  readonly message: string
  readonly cause?: unknown
}> {}

const RETRYABLE_SQLSTATE = /^(08|40|53|57P0[1-3])/ // connection, serialization/deadlock, resources, shutdown

export const classifyPg = (cause: unknown, context: string): PgError => {
  const e = cause as { code?: string; message?: string } | undefined
  const code = e?.code ?? ""
  const message = `${context}: ${e?.message ?? String(cause)}`
  if (/ECONNREFUSED|ECONNRESET|ETIMEDOUT|CONNECT_TIMEOUT|CONNECTION_(CLOSED|ENDED|DESTROYED)/.test(code) || RETRYABLE_SQLSTATE.test(code)) {
    return new PgError({ reason: "connect", retryable: true, message, cause })
  }
  if (code === "23505") return new PgError({ reason: "conflict", retryable: false, message, cause })
  return new PgError({ reason: "query", retryable: false, message, cause })
}
