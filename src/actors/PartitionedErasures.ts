// DELETE /v1/users/{id} in partitioned mode (ARCHITECTURE §9, §11): the erasure message goes to the
// user's partition subject (`arena.xp.p.<k>.$erasures`, Nats-Msg-Id erasure/<id>), so the owner
// applies it in its partition's seq order (the user leaves its boards and users; the next cut is a
// base, so no stored chunk keeps them) and a replay from the partition's checkpoint drops them at
// the same seq. Not built in this mode (docs/scaling.md): the durable erasure record and its later
// steps (Postgres scrub, stream message erase), so GET /v1/erasures/{id} is not served and the
// view stays at step "apply".
import { randomBytes } from "node:crypto"
import { encodeErasureMessage, erasureMsgId } from "../domain/Erasure.js"
import { partitionKindSubject, partitionOfUser } from "../domain/Partition.js"
import type { ErasurePort, ErasureView } from "../ports/Erasures.js"

export type PublishErasure = (subject: string, msgId: string, json: string) => Promise<number>

export const makePartitionedErasures = (partitions: number, publish: PublishErasure, now: () => Date = () => new Date()): ErasurePort => ({
  request: async (userId) => {
    const id = randomBytes(16).toString("base64url")
    const seq = await publish(partitionKindSubject(partitionOfUser(userId, partitions), "erasures"), erasureMsgId(id), encodeErasureMessage({ erasure_id: id, user_id: userId }))
    return {
      erasure_id: id, status: "pending", step: "apply", steps_done: ["publish"], erase_seq: seq, messages_erased: 0,
      requested_at: now().toISOString(), completed_at: null
    } satisfies ErasureView
  },
  get: () => Promise.resolve(null)
})
