// The CorrectionsPort: POST /v1/corrections at the door. Decodes the request (a 400 names the
// field), looks the voided event's award up in the ledger (not yet flushed entries first, then
// the store; 404 when no award has that event_id), refuses a void of an event whose award the
// user table marks voided (409, or 202 `duplicate` when that void is this same correction_id),
// refuses an adjust of an unknown user (404), and publishes the message — with the award's facts,
// so the processor and every replay need nothing but the stream — under Nats-Msg-Id =
// correction_id. A race of two voids past the door is settled by the processor (the second is
// dead-lettered `already_voided`).
// Re-projections (§10): a void names the projection whose ledger it read the award from, and is
// refused (409 apply_running) while a retroactive re-projection is open — its award would be the
// old projection's; one that races past this check is settled by the processor (engine/Corrections.ts).
import type { CorrectionMessage } from "../domain/Correction.js"
import { decodeCorrectionRequest } from "../domain/Correction.js"
import type { Issue, LedgerEntry } from "../domain/Model.js"
import { voidedBy } from "../domain/engine/Corrections.js"
import type { CorrectionSubmit, CorrectionsPort } from "../ports/Corrections.js"
import type { LedgerPage } from "../ports/ReadModel.js"
import type { Pipeline } from "./Pipeline.js"

export type PublishCorrection = (correctionId: string, json: string) => Promise<
  { readonly ok: true; readonly seq: number; readonly duplicate: boolean } | { readonly ok: false; readonly message: string }
>

export interface CorrectionsDeps {
  readonly pipeline: () => Pipeline | null
  /** The award of an applied event: the sink's pending entries, then the store; null when none. */
  readonly awardOf: (eventId: string) => Promise<LedgerEntry | null>
  readonly ledger: (userId: string, limit: number, beforeSeq: number | null) => Promise<LedgerPage>
  readonly publish: PublishCorrection
  /** The projection the ledger reads (`awardOf`) answer from (0 until a re-projection switched). */
  readonly projection: () => number
  /** The retroactive re-projection pending or built, if any (absent: none is ever open). */
  readonly openReprojection?: () => Promise<{ readonly projection: number; readonly version: string; readonly state: string } | null>
}

/** A refusal at the door (also the partitioned door's: actors/PartitionedCorrections.ts). */
export const fail = (status: 400 | 404 | 409 | 503, code: string, message: string, details: ReadonlyArray<Issue> = []): CorrectionSubmit =>
  ({ ok: false, status, code, message, details })

/**
 * The request decoded, with `by` (the token's sub, at the message's limit; none at all without a
 * sub: the ledger then says null, live and stored alike), or the 400 naming the field.
 */
export const decodeSubmit = (body: unknown, sub: string) => {
  const r = decodeCorrectionRequest(body)
  if (!r.ok) return { ok: false as const, refusal: fail(400, "invalid_correction", `invalid correction: ${r.issues.map((i) => (i.path === "" ? i.message : `${i.path}: ${i.message}`)).join("; ")}`, r.issues) }
  return { ok: true as const, req: r.value, by: sub === "" ? {} : { by: sub.slice(0, 128) } }
}

/** The door's answers that both doors give alike. */
export const refusals = {
  notApplied: (eventId: string) => fail(404, "not_found", `no applied event ${eventId} (unknown, rejected, or not applied yet)`, [{ path: "event_id", message: "is not an applied event" }]),
  noCurrentUser: (eventId: string) => fail(404, "not_found", `event ${eventId} belongs to no current user`, [{ path: "event_id", message: "belongs to no current user" }]),
  alreadyVoided: (eventId: string, at: number) => fail(409, "already_voided", `event ${eventId} was voided already (at seq ${at})`, [{ path: "event_id", message: `was voided at seq ${at}` }]),
  noUser: (userId: string) => fail(404, "not_found", `no user ${userId}`, [{ path: "user_id", message: "is not a user with an applied event" }])
}

/** A duplicate of the void stored at `seq` (a retry of the void that did it), not a conflict. */
export const duplicateAt = (correctionId: string, seq: number): CorrectionSubmit => ({ ok: true, status: "duplicate", correction_id: correctionId, seq })

/** The answer to a publish of the correction message. */
export const published = (correctionId: string, o: Awaited<ReturnType<PublishCorrection>>): CorrectionSubmit =>
  o.ok ? { ok: true, status: o.duplicate ? "duplicate" : "accepted", correction_id: correctionId, seq: o.seq } : fail(503, "unavailable", `the event stream is unavailable; retry later (${o.message})`)

const UNAVAILABLE = "the pipeline is loading or restarting; retry shortly"

export const makeCorrections = (d: CorrectionsDeps): CorrectionsPort => ({
  submit: async (body, sub) => {
    const d0 = decodeSubmit(body, sub)
    if (!d0.ok) return d0.refusal
    const { req, by } = d0
    let message: CorrectionMessage
    if (req.kind === "void") {
      let award: LedgerEntry | null
      let open: Awaited<ReturnType<NonNullable<CorrectionsDeps["openReprojection"]>>> = null
      const projection = d.projection()
      try {
        open = d.openReprojection === undefined ? null : await d.openReprojection()
        award = open === null ? await d.awardOf(req.event_id) : null
      } catch {
        return fail(503, "unavailable", "the ledger is unavailable; retry later")
      }
      if (open !== null) {
        return fail(409, "apply_running", `a retroactive apply of rules ${open.version} (projection ${open.projection}) is ${open.state}: the event's award is being re-scored, so it cannot be voided until the switch (or the discard); retry then (GET /v1/rules/apply). Adjusts are accepted meanwhile`)
      }
      if (d.projection() !== projection) return fail(503, "unavailable", "a re-projection switched while the award was read; retry")
      if (award === null) return refusals.notApplied(req.event_id)
      const p = d.pipeline()
      if (p === null) return fail(503, "unavailable", UNAVAILABLE)
      const s = p.boards.state
      const uid = s.users.uidOf(award.user_id)
      if (uid < 0) return refusals.noCurrentUser(req.event_id)
      const at = voidedBy(s, uid, award.seq)
      if (at > 0) {
        // A retry of the void that did it is a duplicate, not a conflict.
        const page = await d.ledger(award.user_id, 1, at + 1).catch(() => null)
        const e = page?.entries[0]
        if (e !== undefined && "kind" in e && e.seq === at && e.correction_id === req.correction_id) return duplicateAt(req.correction_id, at)
        return refusals.alreadyVoided(req.event_id, at)
      }
      message = {
        ...req, ...by,
        event: { seq: award.seq, user_id: award.user_id, agent_name: award.agent_name, xp: award.total_awarded, event_time: award.event_time, projection }
      }
    } else {
      const p = d.pipeline()
      if (p === null) return fail(503, "unavailable", UNAVAILABLE)
      const s = p.boards.state
      const uid = s.users.uidOf(req.user_id)
      if (uid < 0 || s.users.events[uid]! === 0) return refusals.noUser(req.user_id)
      message = { ...req, ...by }
    }
    return published(req.correction_id, await d.publish(req.correction_id, JSON.stringify(message)))
  }
})
