// Failures that no retry can fix: they need an operator (e.g. the stream was recreated under a
// snapshot, a rules version string reused for other content). The supervisor stops retrying on
// one, logs it once, and /readyz reports it as fatal.
import { Cause, Option } from "effect"

/** Tags of failures that mean "the state and the stream disagree": restarting changes nothing. */
const FATAL_TAGS: ReadonlySet<string> = new Set(["SnapshotMismatch", "RulesVersionConflict", "StoredRulesInvalid"])

/** The operator-facing sentence of a fatal failure, or null when a retry may help. */
export const fatalMessage = (cause: Cause.Cause<unknown>): string | null => {
  const e = Cause.findErrorOption(cause)
  if (Option.isNone(e)) return null
  const err = e.value as { readonly _tag?: unknown; readonly retryable?: unknown; readonly message?: unknown }
  return typeof err === "object" && err !== null && typeof err._tag === "string" && FATAL_TAGS.has(err._tag) && err.retryable === false && typeof err.message === "string"
    ? err.message
    : null
}
