// `arena rules apply` through its route (POST /v1/rules/apply, ARCHITECTURE §10) for tests that
// kill -9 the service around it: each call retries while the service is down, loading or busy
// (no answer, 503, 429, 409 apply_running) and reads the outcome from the service's state, so a
// kill between the apply and its answer neither loses nor repeats it.
import { request } from "./http.js"

const retryable = (status: number | undefined) => status === undefined || status === 503 || status === 429 || status === 409
const pause = () => new Promise((r) => setTimeout(r, 100))

/**
 * Applies `document` from the stream head; resolves with effective_from_seq (an answered retry:
 * "already in force since"). `onAnswer` hears every try's outcome ("no answer", or the status and
 * error code): what a slow apply under kill -9 chaos waited for.
 */
export const applyFromHead = async (url: () => string, token: string, document: unknown, timeoutMs = 300_000, onAnswer?: (what: string) => void): Promise<{ effectiveFromSeq: number; headSeq: number | null }> => {
  const t0 = Date.now()
  for (;;) {
    const r = await request<{ effective_from_seq: number; head_seq: number | null; error?: { code: string } }>(url(), "POST", "/v1/rules/apply", { token, json: { rules: document, retroactive: false }, timeoutMs: 60_000 }).catch(() => null)
    onAnswer?.(r === null ? "no answer" : `${r.status}${r.json?.error?.code === undefined ? "" : ` ${r.json.error.code}`}`)
    if (r?.status === 200) return { effectiveFromSeq: r.json.effective_from_seq, headSeq: r.json.head_seq }
    if (!retryable(r?.status) || (r?.status === 409 && r.json?.error?.code !== "apply_running")) throw new Error(`rules apply: ${r?.status} ${r?.text}`)
    if (Date.now() - t0 > timeoutMs) throw new Error(`rules apply: no answer within ${timeoutMs} ms (${r?.status} ${r?.text})`)
    await pause()
  }
}

interface ApplyState { projection: number; version: string; state: string; reason?: string }

/** Starts a retroactive apply of `document` (version `version`); resolves with its projection once recorded. */
export const startRetroactive = async (url: () => string, token: string, document: { version: string }, timeoutMs = 300_000): Promise<number> => {
  const t0 = Date.now()
  for (;;) {
    // A kill may have taken the answer of an apply that was recorded: the service's last re-projection says.
    const last = await request<ApplyState>(url(), "GET", "/v1/rules/apply", { token, timeoutMs: 10_000 }).catch(() => null)
    if (last?.status === 200 && last.json.version === document.version && last.json.state !== "discarded") return last.json.projection
    if (last?.status === 200 || last?.status === 404) {
      const r = await request<ApplyState & { error?: { code: string } }>(url(), "POST", "/v1/rules/apply", { token, json: { rules: document, retroactive: true }, timeoutMs: 60_000 }).catch(() => null)
      if (r?.status === 202) return r.json.projection
      if (!retryable(r?.status) || (r?.status === 409 && r.json?.error?.code !== "apply_running")) throw new Error(`retroactive apply: ${r?.status} ${r?.text}`)
    }
    if (Date.now() - t0 > timeoutMs) throw new Error(`retroactive apply: not recorded within ${timeoutMs} ms (${last?.status} ${last?.text})`)
    await pause()
  }
}

/** Waits until re-projection `projection` is switched (the service up at some point); throws if it was discarded. */
export const switched = async (url: () => string, token: string, projection: number, timeoutMs = 600_000): Promise<void> => {
  const t0 = Date.now()
  for (;;) {
    const r = await request<ApplyState>(url(), "GET", "/v1/rules/apply", { token, timeoutMs: 10_000 }).catch(() => null)
    if (r?.status === 200 && r.json.projection === projection) {
      if (r.json.state === "switched") return
      if (r.json.state === "discarded") throw new Error(`re-projection ${projection} was discarded: ${r.json.reason}`)
    }
    if (Date.now() - t0 > timeoutMs) throw new Error(`re-projection ${projection}: not switched within ${timeoutMs} ms (${r?.status} ${r?.text})`)
    await pause()
  }
}
