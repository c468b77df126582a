// POST /v1/corrections in partitioned mode (ARCHITECTURE §9, §10): the CorrectionsPort of the
// stateless gateway. The same decode and answers as the single process (actors/Corrections.ts),
// with the door's checks asked of the partitions' owners (actors/PartitionDoor.ts): a void's event
// is looked up in every partition (an event_id names no user; the award lives in its user's
// partition), an adjust's user in its own. The message goes to the user's partition subject
// (`arena.xp.p.<k>.$corrections`, Nats-Msg-Id = correction_id), so the owner applies it in its
// partition's seq order and a replay from the partition's checkpoint applies it again exactly.
import type { CorrectionMessage } from "../domain/Correction.js"
import { partitionKindSubject, partitionOfUser } from "../domain/Partition.js"
import type { CorrectionsPort } from "../ports/Corrections.js"
import { decodeSubmit, duplicateAt, fail, published, refusals } from "./Corrections.js"
import type { Voidable } from "./PartitionDoor.js"

export interface PartitionedCorrectionsDeps {
  readonly partitions: number
  /** Every partition's `voidable` answer for the event (rejects when a partition has no owner answering). */
  readonly voidable: (eventId: string) => Promise<ReadonlyArray<Voidable | null>>
  /** The user's partition's `adjustable` answer. */
  readonly adjustable: (userId: string, partition: number) => Promise<boolean>
  /** The Nats-Msg-Id of the stored message at `seq` (the void that took an award already), null when gone. */
  readonly msgIdAt: (seq: number) => Promise<string | null>
  readonly publish: (subject: string, correctionId: string, json: string) => Promise<
    { readonly ok: true; readonly seq: number; readonly duplicate: boolean } | { readonly ok: false; readonly message: string }
  >
}

const why = (e: unknown): string => (e instanceof Error ? e.message : typeof e === "object" && e !== null && "message" in e ? String((e as { message: unknown }).message) : String(e))

export const makePartitionedCorrections = (d: PartitionedCorrectionsDeps): CorrectionsPort => ({
  submit: async (body, sub) => {
    const d0 = decodeSubmit(body, sub)
    if (!d0.ok) return d0.refusal
    const { req, by } = d0
    let message: CorrectionMessage
    let userId: string
    if (req.kind === "void") {
      let answers: ReadonlyArray<Voidable | null>
      try {
        answers = await d.voidable(req.event_id)
      } catch (e) {
        return fail(503, "unavailable", `the ledger is unavailable; retry later (${why(e)})`)
      }
      // An event_id stored twice (after the dedupe window) in two partitions: the first award, as the single process's ledger.
      const found = answers.filter((a): a is Voidable => a !== null).sort((a, b) => a.award.seq - b.award.seq)[0]
      if (found === undefined) return refusals.notApplied(req.event_id)
      if (!found.current) return refusals.noCurrentUser(req.event_id)
      const at = found.voidedAt
      if (at > 0) {
        // A retry of the void that did it is a duplicate, not a conflict.
        const id = await d.msgIdAt(at).catch(() => null)
        if (id === req.correction_id) return duplicateAt(req.correction_id, at)
        return refusals.alreadyVoided(req.event_id, at)
      }
      userId = found.award.user_id
      message = { ...req, ...by, event: found.award }
    } else {
      userId = req.user_id
      let known: boolean
      try {
        known = await d.adjustable(userId, partitionOfUser(userId, d.partitions))
      } catch (e) {
        return fail(503, "unavailable", `the user's partition is unavailable; retry later (${why(e)})`)
      }
      if (!known) return refusals.noUser(req.user_id)
      message = { ...req, ...by }
    }
    return published(req.correction_id, await d.publish(partitionKindSubject(partitionOfUser(userId, d.partitions), "corrections"), req.correction_id, JSON.stringify(message)))
  }
})
