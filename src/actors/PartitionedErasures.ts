// Erasures in partitioned mode (ARCHITECTURE §9, §11; docs/scaling.md "Erasures"): the single
// process's erasure, step for step (actors/Erasures.ts, one durable record in `arena_erasure`), run
// by the owner of the user's partition. The gateway's DELETE /v1/users/{id} records the erasure
// (202 at step "publish", as in one process) and wakes the owner; GET /v1/erasures/{id} reads the
// record. Each partition's owner runs the records of its partition's users: publishes the erasure
// message on `arena.xp.p.<k>.$erasures`, waits for its pipeline to apply it and for a snapshot past
// it, scrubs Postgres (shares, k's archives, the user's award rows), deletes the ClickHouse rows of
// the user's messages, and erases those messages. A kill -9 of the owner leaves the record at its
// step: the partition's next owner resumes it when it takes the partition over.
import type { Effect, Scope } from "effect"
import { partitionOfUser } from "../domain/Partition.js"
import type { ErasureDeps, ErasureRunner } from "./Erasures.js"
import { readErasure, startErasures } from "./Erasures.js"
import { erasureView } from "../ports/Erasures.js"
import type { ErasurePort, ErasureStore } from "../ports/Erasures.js"

/**
 * The gateway's port: records the erasure and wakes the user's partition's owner (`wake` may fail:
 * no owner now; the next one lists the pending erasures as it starts, and owners look again every
 * few seconds).
 */
export const makePartitionedErasures = (partitions: number, store: ErasureStore, wake: (partition: number) => Promise<void>): ErasurePort => ({
  request: async (userId, sub) => {
    const r = await store.create(userId, sub)
    await wake(partitionOfUser(userId, partitions)).catch(() => {})
    return erasureView(r)
  },
  get: readErasure(store)
})

/** The erasures of partition k's users only: the ones this partition's owner runs. */
export const partitionErasureStore = (store: ErasureStore, partitions: number, k: number): ErasureStore => ({
  ...store,
  pending: async () => (await store.pending()).filter((r) => r.userId !== null && partitionOfUser(r.userId, partitions) === k)
})

/** How often an owner lists its partition's pending erasures besides being woken. */
export const ERASURE_RESCAN_MS = 5_000

/** Partition k's erasure actor (in the scope of its ownership: it stops with it). */
export const startPartitionErasures = (deps: ErasureDeps, partitions: number, k: number): Effect.Effect<ErasureRunner, never, Scope.Scope> =>
  startErasures({ ...deps, store: partitionErasureStore(deps.store, partitions, k), rescanMs: deps.rescanMs ?? ERASURE_RESCAN_MS })
