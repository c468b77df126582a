// Partitioned mode (ARCHITECTURE §9, §10): what a partition's owner answers before the gateway
// publishes a correction to the partition — the door checks the single process makes on its own
// state (actors/Corrections.ts), asked over request/reply (`arena.q.p.<k>.voidable|adjustable`):
//   voidable {eventId}: the award of that event in this partition (arena_partition_award, 0012,
//     through the partition's award sink), whether its user is still current, and the seq of the
//     void that took it already (0: none); null when no award of this partition has that event_id;
//   adjustable {userId}: whether the user has an applied event here;
//   erasedAt {userId}: the seq of the user's latest erasure this partition has applied (0: none):
//     the gateway's ledger leaves out what is older, as the single process's erasure deletes it.
// The answers are read between slices, like PartitionReads; the processor settles a race past the
// door (a second void is dead-lettered `already_voided`).
import type { VoidedAward } from "../domain/Correction.js"
import { voidedBy } from "../domain/engine/Corrections.js"
import type { Pipeline } from "./Pipeline.js"

export interface Voidable {
  readonly award: VoidedAward
  /** False when the user is no longer in the state (erased). */
  readonly current: boolean
  /** The seq of the void that took the award already, 0 when none. */
  readonly voidedAt: number
}

const text = (v: unknown, what: string): string => {
  if (typeof v !== "string" || v.length === 0 || v.length > 128) throw new Error(`${what} must be a string of 1..128 characters`)
  return v
}

/** The door's ops of one partition, or undefined for another op (answered by PartitionReads). */
export const partitionDoor = (
  pipeline: Pipeline,
  awardOf: (eventId: string) => Promise<VoidedAward | null>,
  /** Seqs of the partition's erasure messages naming the user (an award older than one is an erased user's, even if the id came back). */
  erasuresOf: (userId: string) => Promise<ReadonlyArray<number>>
) =>
  (op: string, body: unknown): Promise<unknown> | undefined => {
    const b = (body ?? {}) as Record<string, unknown>
    const state = pipeline.boards.state
    switch (op) {
      case "voidable": {
        const eventId = text(b["eventId"], "eventId")
        return awardOf(eventId).then(async (award): Promise<Voidable | null> => {
          if (award === null) return null
          // An erasure after the award took it away, even when the user_id has events again since
          // (a new user then, whose XP the old award never was): as the single process, whose
          // erasure deletes the award from the ledger (here the erasure's Postgres step deletes the
          // award row a little later: until then this says so).
          const erased = state.users.uidOf(award.user_id) >= 0 && (await erasuresOf(award.user_id)).some((seq) => seq > award.seq && seq <= pipeline.boards.position.applied)
          const uid = state.users.uidOf(award.user_id)
          if (uid < 0 || erased) return { award, current: false, voidedAt: 0 }
          return { award, current: true, voidedAt: voidedBy(state, uid, award.seq) }
        })
      }
      case "adjustable": {
        const uid = state.users.uidOf(text(b["userId"], "userId"))
        return Promise.resolve(uid >= 0 && state.users.events[uid]! > 0)
      }
      case "erasedAt": {
        const userId = text(b["userId"], "userId")
        const applied = pipeline.boards.position.applied
        return erasuresOf(userId).then((seqs) => Math.max(0, ...seqs.filter((seq) => seq <= applied)))
      }
      default:
        return undefined
    }
  }
