// Failures that no retry can fix: they need an operator (e.g. the stream was recreated under a
// snapshot). The supervisor stops retrying on one, logs it once, and /readyz reports it as fatal.
import { Cause, Option } from "effect"
import { PgError } from "../adapters/postgres/PgError.js"
import type { PgReason } from "../adapters/postgres/PgError.js"

/** PgError reasons that mean "the state and the stream disagree": restarting changes nothing. */
const FATAL_PG: ReadonlySet<PgReason> = new Set(["snapshot_mismatch"])

/** The operator-facing sentence of a fatal failure, or null when a retry may help. */
export const fatalMessage = (cause: Cause.Cause<unknown>): string | null => {
  const e = Cause.findErrorOption(cause)
  if (Option.isNone(e)) return null
  const err = e.value
  return err instanceof PgError && !err.retryable && FATAL_PG.has(err.reason) ? err.message : null
}
