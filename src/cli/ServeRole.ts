// `arena serve --role all|processor|gateway` (ARCHITECTURE §9): which part of Arena this process
// runs. `all` without ARENA_PARTITIONS is today's single process, unchanged. With ARENA_PARTITIONS
// set, partitioned mode (PartitionedApp.ts): processors own partitions by lease, gateways merge
// reads; `all` runs both in one process. The server mapping puts events on `arena.xp.p.<k>.<token>`,
// so partitioned mode needs the default subject prefix.
export const SERVE_ROLES = ["all", "processor", "gateway"] as const
export type ServeRole = (typeof SERVE_ROLES)[number]

export type ServePlan =
  | { readonly _tag: "SingleProcess" }
  | { readonly _tag: "Partitioned"; readonly role: ServeRole; readonly partitions: number }
  | { readonly _tag: "Refused"; readonly message: string }

/** The role flag as parseArgs gave it (undefined, a string, or `true` for a bare `--role`). */
export const parseServeRole = (flag: unknown): { readonly role: ServeRole } | { readonly error: string } => {
  if (flag === undefined) return { role: "all" }
  if (typeof flag === "string" && (SERVE_ROLES as ReadonlyArray<string>).includes(flag)) return { role: flag as ServeRole }
  return { error: `--role must be one of ${SERVE_ROLES.join(", ")}${typeof flag === "string" ? ` (got ${JSON.stringify(flag)})` : " (it needs a value)"}` }
}

/** What `serve` does for a role and ARENA_PARTITIONS. */
export const planServe = (role: ServeRole, partitions: number | undefined, subjectPrefix = "arena.xp"): ServePlan => {
  if (partitions === undefined) {
    if (role === "all") return { _tag: "SingleProcess" }
    return { _tag: "Refused", message: `--role ${role} runs only in partitioned mode: set ARENA_PARTITIONS (e.g. 64, fixed for the deployment's life) and point NATS_URL at a cluster with the partition mapping (scripts/cluster.sh), or drop --role to run everything in one process` }
  }
  if (subjectPrefix !== "arena.xp") {
    return { _tag: "Refused", message: `partitioned mode (ARENA_PARTITIONS=${partitions}) needs ARENA_SUBJECT_PREFIX=arena.xp (got ${subjectPrefix}): the servers' partition mapping (scripts/cluster.sh) puts arena.xp.events.<user> on arena.xp.p.<k>.<user>` }
  }
  return { _tag: "Partitioned", role, partitions }
}
