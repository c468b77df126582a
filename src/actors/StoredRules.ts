// GET /v1/rules and GET /v1/achievements where no pipeline holds the rules history (the
// partitioned gateway): the recorded versions read from the rules store on each request and
// compiled as a processor compiles them at its start (compileHistory).
import { Effect, Result } from "effect"
import type { RulesHistory } from "../domain/RulesHistory.js"
import type { RulesStore } from "../ports/RulesStore.js"
import { compileHistory } from "./EstablishRulesHistory.js"

/** The history, or why it cannot be shown: none recorded yet, the store unreachable, or a version that no longer compiles. */
export type StoredRulesRead =
  | { readonly ok: true; readonly history: RulesHistory }
  | { readonly ok: false; readonly retryable: boolean; readonly message: string }

export const makeStoredRules = (store: RulesStore) => (): Promise<StoredRulesRead> =>
  Effect.runPromise(Effect.gen(function*() {
    const stored = yield* Effect.result(store.history)
    if (Result.isFailure(stored)) return { ok: false, retryable: true, message: `the rules history cannot be read: ${stored.failure.message}` } as const
    if (stored.success.length === 0) return { ok: false, retryable: true, message: "no rules version is recorded yet (a processor records its rules file when it starts)" } as const
    const h = yield* Effect.result(compileHistory(stored.success))
    return Result.isFailure(h) ? { ok: false, retryable: false, message: h.failure.message } as const : { ok: true, history: h.success } as const
  }))
