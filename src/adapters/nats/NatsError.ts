// The one error the NATS adapter exposes: a reason, whether retrying can help, and the
// driver's error classified in one place.
import { Data } from "effect"

export type NatsReason = "connect" | "timeout" | "no_responders" | "unavailable" | "stream_conflict" | "publish" | "api" | "closed" | "stalled"

export class NatsError extends Data.TaggedError("NatsError")<{
  readonly reason: NatsReason
  readonly retryable: boolean
  readonly message: string
  readonly cause?: unknown
}> {}

/** Map whatever nats.js threw to a NatsError. */
export const classifyNats = (cause: unknown, context: string): NatsError => {
  const e = cause as { name?: string; code?: string | number; status?: number; message?: string } | undefined
  const msg = `${context}: ${e?.message ?? String(cause)}`
  const name = e?.name ?? ""
  const code = String(e?.code ?? "")
  if (name === "ConsumerStalled") return new NatsError({ reason: "stalled", retryable: true, message: msg, cause })
  // A JetStream API error's `code` is its err_code; its `status` is the HTTP-like code. 503 is
  // "JetStream system temporarily unavailable" (err_code 10008): a clustered server without a
  // meta leader or quorum (nodes restarting, stopped, settling) answers it, and a retry can cure it
  // (CI T2 of 2026-12-08: a consumer start refused so while two nodes resumed failed the consume).
  if (e?.status === 503 || /temporarily unavailable/i.test(e?.message ?? "")) {
    return new NatsError({ reason: "unavailable", retryable: true, message: msg, cause })
  }
  if (name === "TimeoutError" || code === "TIMEOUT" || /timeout/i.test(e?.message ?? "")) {
    return new NatsError({ reason: "timeout", retryable: true, message: msg, cause })
  }
  if (name === "NoRespondersError" || code === "503" || /no responders/i.test(e?.message ?? "")) {
    return new NatsError({ reason: "no_responders", retryable: true, message: msg, cause })
  }
  if (name === "ClosedConnectionError" || /closed/i.test(e?.message ?? "")) {
    return new NatsError({ reason: "closed", retryable: true, message: msg, cause })
  }
  if (/ECONNREFUSED|CONNECTION_REFUSED|connect/i.test(`${code} ${e?.message ?? ""}`)) {
    return new NatsError({ reason: "connect", retryable: true, message: msg, cause })
  }
  return new NatsError({ reason: "api", retryable: false, message: msg, cause })
}
