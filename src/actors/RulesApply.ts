// `arena rules apply` in the running service (ARCHITECTURE §10 "Re-projection"; POST
// /v1/rules/apply). From head: the supervisor stops the pipeline (a final snapshot), the version is
// recorded from the stream head + 1 while nothing is applied, and the pipeline starts again under
// the new history — no event after the head is ever scored by the old rules, none before it by the
// new ones. Retroactive: handed to the Reprojections service (a shadow build, then one switch).
// One apply at a time: another gets 409.
import { Cause, Effect, Result } from "effect"
import type { Issue } from "../domain/Model.js"
import { createHash } from "node:crypto"
import { loadRules } from "../domain/Rules.js"
import { canonicalRulesText, planRulesApply } from "../domain/RulesHistory.js"
import type { PortFailure } from "../ports/Failure.js"
import type { ReprojectionView, RulesApplyOutcome, RulesApplyPort } from "../ports/RulesApply.js"
import type { RulesStore } from "../ports/RulesStore.js"
import type { Established, RulesCandidate, RulesVersionConflict, StoredRulesInvalid } from "./EstablishRulesHistory.js"
import type { RestartRefused } from "./Supervisor.js"

export interface RulesApplyDeps {
  readonly store: RulesStore
  /** The supervisor's restart: stops the pipeline, runs `between`, starts it again. */
  readonly restart: <A, E>(reason: string, between: Effect.Effect<A, E>) => Effect.Effect<A, E | RestartRefused>
  /** Records the candidate from the stream head + 1 (establishRulesHistory in "apply" mode). */
  readonly establish: (candidate: RulesCandidate) => Effect.Effect<Established, PortFailure | RulesVersionConflict | StoredRulesInvalid>
  /** Retroactive applies (absent: refused with 400). */
  readonly retroactive?: {
    readonly start: (candidate: RulesCandidate) => Promise<RulesApplyOutcome>
    readonly last: () => Promise<ReprojectionView | null>
    /** True while a re-projection is pending or built (an apply from head waits for it: 409). */
    readonly open: () => Promise<ReprojectionView | null>
  }
  readonly log: (line: string) => void
}

const refuse = (status: 400 | 409 | 503, code: string, message: string, details: ReadonlyArray<Issue> = []): RulesApplyOutcome =>
  ({ ok: false, status, code, message, details })

/** A rules document validated, with its canonical text's hash (the same hash a start computes). */
export const candidateOfDocument = (doc: unknown): Result.Result<RulesCandidate, RulesApplyOutcome> => {
  const r = loadRules(doc)
  if (Result.isFailure(r)) {
    return Result.fail(refuse(400, "invalid_rules", r.failure.message, r.failure.issues.map((i) => ({ path: `body.rules.${i.path}`.replace(/\.$/, ""), message: i.message }))))
  }
  const rules = r.success
  return Result.succeed({
    rules,
    body: JSON.stringify(doc, null, 2) + "\n",
    contentHash: createHash("sha256").update(canonicalRulesText(rules.document)).digest("hex"),
    source: "arena rules apply"
  })
}

export const makeRulesApply = (d: RulesApplyDeps): RulesApplyPort => {
  let running: string | null = null

  const fromHead = async (c: RulesCandidate): Promise<RulesApplyOutcome> => {
    const [recorded, known] = await Effect.runPromise(Effect.all([d.store.history, d.store.known]))
    // Decided again under the store's lock once the pipeline is stopped; this only spares a restart.
    const pre = planRulesApply(recorded, { version: c.rules.version, contentHash: c.contentHash }, 0, known)
    if (pre._tag === "Conflict") return refuse(409, "rules_version_conflict", pre.message)
    if (pre._tag === "Unchanged") {
      const inForce = [...recorded].sort((a, b) => a.effectiveFromSeq - b.effectiveFromSeq).at(-1)!
      return {
        ok: true, status: 200,
        body: { version: c.rules.version, content_hash: c.contentHash, applied: false, effective_from_seq: inForce.effectiveFromSeq, head_seq: null, projection: null, message: `rules ${c.rules.version} are already in force (since seq ${inForce.effectiveFromSeq}); nothing changed` }
      }
    }
    const exit = await Effect.runPromise(Effect.exit(d.restart(`rules ${c.rules.version} are being applied from the stream head`, d.establish(c))))
    if (exit._tag === "Failure") {
      const e = errorOf(exit.cause)
      if (e._tag === "RulesVersionConflict") return refuse(409, "rules_version_conflict", e.message)
      if (e._tag === "RestartRefused") return refuse(503, "pipeline_not_running", `the pipeline is not running, so nothing can be applied now: ${e.message}`)
      return refuse(503, "apply_failed", `applying rules ${c.rules.version} failed: ${e.message}; the rules in force are unchanged`)
    }
    const est = exit.value
    const r = est.recorded
    const message = r === null
      ? `rules ${c.rules.version} are already in force; nothing changed`
      : `rules ${c.rules.version} are in force from seq ${r.effectiveFromSeq} (stream head ${r.headSeq} when applied); events up to seq ${r.headSeq} keep the versions they were scored with`
    d.log(`rules apply: ${message}`)
    return {
      ok: true, status: 200,
      body: { version: c.rules.version, content_hash: c.contentHash, applied: r !== null, effective_from_seq: r?.effectiveFromSeq ?? est.history.current.effectiveFromSeq, head_seq: r?.headSeq ?? null, projection: est.projection, message }
    }
  }

  return {
    apply: async (doc, options) => {
      const cr = candidateOfDocument(doc)
      if (Result.isFailure(cr)) return cr.failure
      const c = cr.success
      if (options.retroactive && d.retroactive === undefined) return refuse(400, "retroactive_unavailable", "retroactive applies are not available in this service")
      if (running !== null) return refuse(409, "apply_running", `an apply (${running}) is under way; wait for it (GET /v1/rules/apply)`)
      running = `${options.retroactive ? "retroactive " : ""}rules ${c.rules.version}`
      try {
        const open = d.retroactive === undefined ? null : await d.retroactive.open()
        if (open !== null) {
          return refuse(409, "apply_running", `a retroactive apply of rules ${open.version} (projection ${open.projection}) is ${open.state}; wait for it (GET /v1/rules/apply)`)
        }
        return options.retroactive ? await d.retroactive!.start(c) : await fromHead(c)
      } catch (e) {
        return refuse(503, "apply_failed", `applying rules ${c.rules.version} failed: ${e instanceof Error ? e.message : String(e)}`)
      } finally {
        running = null
      }
    },
    last: () => d.retroactive?.last() ?? Promise.resolve(null)
  }
}

/** The failure (or defect) a cause carries, as a tag and a sentence. */
const errorOf = (cause: Cause.Cause<unknown>): { readonly _tag?: string; readonly message: string } => {
  const e = Cause.squash(cause)
  return typeof e === "object" && e !== null && "message" in e ? e as { _tag?: string; message: string } : { message: String(e) }
}
