// The start-up step that puts the rules file under the history's rule (ARCHITECTURE §10), run by
// App.ts before each pipeline start: read the stream's head, record the file as a new version
// from head + 1 when its content is not the version in force (planRulesStart), and compile every
// recorded version into the RulesHistory the processor scores by. A version string recorded with
// other content is refused (fatal: no retry can fix it; /readyz says why).
import { Data, Effect, Result } from "effect"
import { loadRules } from "../domain/Rules.js"
import type { CompiledRules } from "../domain/Rules.js"
import { RulesHistory, planRulesApply, planRulesStart } from "../domain/RulesHistory.js"
import type { EventSource } from "../ports/EventSource.js"
import type { PortFailure } from "../ports/Failure.js"
import type { RulesStore, StoredRulesVersion } from "../ports/RulesStore.js"

/** The rules file this start was given, validated, with its text and content hash. */
export interface RulesCandidate {
  readonly rules: CompiledRules
  /** The file's text (stored as the version's full text when it is recorded). */
  readonly body: string
  /** sha256 of canonicalRulesText(rules.document), hex. */
  readonly contentHash: string
  /** Where it came from, for the log ("ARENA_RULES=/etc/arena/rules.json", "built-in defaults"). */
  readonly source: string
}

/** The file's version string is recorded with other content: refused until an operator acts. */
export class RulesVersionConflict extends Data.TaggedError("RulesVersionConflict")<{ readonly message: string; readonly retryable: false }> {}

/** A recorded version no longer compiles (its text was edited in the database, or the schema changed). */
export class StoredRulesInvalid extends Data.TaggedError("StoredRulesInvalid")<{ readonly message: string; readonly retryable: false }> {}

/** Every recorded version compiled (the candidate's compilation reused for its own content). */
export const compileHistory = (stored: ReadonlyArray<StoredRulesVersion>, known?: RulesCandidate): Effect.Effect<RulesHistory, StoredRulesInvalid> =>
  Effect.gen(function*() {
    const byHash = new Map<string, CompiledRules>()
    if (known !== undefined) byHash.set(known.contentHash, known.rules)
    const versions = []
    for (const s of stored) {
      let rules = byHash.get(s.contentHash)
      if (rules === undefined) {
        let json: unknown
        try { json = JSON.parse(s.body) } catch (e) {
          return yield* Effect.fail(new StoredRulesInvalid({ retryable: false, message: `recorded rules version ${JSON.stringify(s.version)} is not JSON: ${(e as Error).message}` }))
        }
        const r = loadRules(json)
        if (Result.isFailure(r)) {
          return yield* Effect.fail(new StoredRulesInvalid({ retryable: false, message: `recorded rules version ${JSON.stringify(s.version)} no longer compiles: ${r.failure.message}` }))
        }
        rules = r.success
        byHash.set(s.contentHash, rules)
      }
      versions.push({ rules, effectiveFromSeq: s.effectiveFromSeq, contentHash: s.contentHash, recordedAt: s.recordedAt })
    }
    return RulesHistory.of(versions)
  })

export interface EstablishOptions {
  readonly candidate: RulesCandidate
  readonly events: EventSource
  readonly store: RulesStore
  readonly log: (line: string) => void
  /** Called with the recorded history whenever it is read, also when the start is refused (GET /v1/rules shows it). */
  readonly onHistory?: (stored: ReadonlyArray<StoredRulesVersion>) => void
  /**
   * "start" (default): the service's rules file at a start. "apply": `arena rules apply` (POST
   * /v1/rules/apply) — never stale, recorded with source "apply".
   */
  readonly mode?: "start" | "apply"
}

/** The history a pipeline scores by, and the projection it belongs to. */
export interface Established {
  readonly history: RulesHistory
  readonly projection: number
  /** The version this call recorded (null when the candidate was already in force or stale). */
  readonly recorded: { readonly version: string; readonly effectiveFromSeq: number; readonly headSeq: number } | null
}

export const establishRulesHistory = (o: EstablishOptions): Effect.Effect<Established, PortFailure | RulesVersionConflict | StoredRulesInvalid> =>
  Effect.gen(function*() {
    const c = o.candidate
    const head = yield* o.events.head
    const file = { version: c.rules.version, contentHash: c.contentHash }
    const apply = o.mode === "apply"
    let stale: string | null = null
    const outcome = yield* o.store.record((recorded, known) => {
      const plan = (apply ? planRulesApply : planRulesStart)(recorded, file, head.lastSeq, known)
      switch (plan._tag) {
        case "Unchanged": return null
        case "Stale": stale = plan.message; return null
        case "Conflict": return { refuse: `${plan.message} (${c.source})` }
        case "Record": return { version: file.version, contentHash: file.contentHash, body: c.body, effectiveFromSeq: plan.effectiveFromSeq, headSeq: head.lastSeq, source: apply ? "apply" as const : "start" as const }
      }
    })
    o.onHistory?.(outcome.versions)
    if (outcome.refused !== null) return yield* Effect.fail(new RulesVersionConflict({ retryable: false, message: outcome.refused }))
    if (stale !== null) o.log(stale)
    const history = yield* compileHistory(outcome.versions, outcome.versions.some((v) => v.contentHash === c.contentHash) ? c : undefined)
    const short = c.contentHash.slice(0, 12)
    const r = outcome.recorded
    if (r !== null && r.effectiveFromSeq === 1 && outcome.versions.length === 1) {
      o.log(`rules ${r.version} (sha256 ${short}…, ${c.source}) recorded as the first rules version: it scores the stream from seq 1`)
    } else if (r !== null) {
      const before = history.rangeAt(r.headSeq)
      o.log(`rules changed: ${r.version} (sha256 ${short}…, ${c.source}) is in force from seq ${r.effectiveFromSeq} (stream head ${r.headSeq} ${apply ? "when applied" : "at this start"}); ` +
        `events up to seq ${r.headSeq} keep the versions they were scored with (${before.rules.version} since seq ${Math.max(1, before.from)})`)
    } else {
      o.log(`rules ${history.current.rules.version} (sha256 ${history.current.contentHash.slice(0, 12)}…) in force since seq ${history.current.effectiveFromSeq}; ` +
        `${history.versions.length} version(s) recorded${outcome.projection > 0 ? ` in projection ${outcome.projection}` : ""}`)
    }
    return { history, projection: outcome.projection, recorded: r === null ? null : { version: r.version, effectiveFromSeq: r.effectiveFromSeq, headSeq: r.headSeq } }
  })
