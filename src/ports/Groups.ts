// Groups (§11): named sets of users whose board `group:<id>` ranks them by their global score. The
// store persists them (adapters/postgres/GroupStore.ts); the live registry (actors/GroupBoards.ts)
// holds them in memory for the boards and is what the routes call. Who may manage a group is the
// routes' rule (gateway/routes/groups.ts).
import { Data } from "effect"

/** At most this many members per group. */
export const MAX_GROUP_MEMBERS = 10_000

export interface GroupInput {
  readonly name: string
  /** User ids, no repeats. */
  readonly members: ReadonlyArray<string>
}

export interface Group extends GroupInput {
  readonly id: string
  /** The `sub` that created it. */
  readonly owner: string
  /** ISO 8601. */
  readonly updated_at: string
}

/**
 * The store cannot answer now (its database is unreachable); retrying later can succeed. Routes
 * answer 503 with Retry-After. Anything else a store rejects with is a defect.
 */
export class GroupStoreUnavailable extends Data.TaggedError("GroupStoreUnavailable")<{ readonly message: string }> {}

/** Outcome of a put: stored (created or replaced), or refused because another owner holds the id. */
export type PutOutcome = { readonly ok: true; readonly group: Group; readonly created: boolean } | { readonly ok: false; readonly owner: string }

export interface GroupStore {
  /** Every group (at start). */
  loadAll(): Promise<ReadonlyArray<Group>>
  /**
   * Creates group `id` owned by `sub`, or replaces its name and members when `sub` owns it or
   * `admin`; one statement, so two writers cannot both pass the ownership check.
   */
  put(id: string, sub: string, admin: boolean, input: GroupInput): Promise<PutOutcome>
  /** Deletes group `id` when `sub` owns it or `admin`: "deleted", "forbidden" or "missing". */
  delete(id: string, sub: string, admin: boolean): Promise<"deleted" | "forbidden" | "missing">
}

/**
 * What the group routes call: the store's writes, applied to the live boards once stored (the
 * single process), or the store itself (the partitioned gateway, which reads a group from it).
 */
export interface GroupsPort extends Omit<GroupStore, "loadAll"> {
  get(id: string): Group | null | Promise<Group | null>
}
