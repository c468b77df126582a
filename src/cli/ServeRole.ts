// `arena serve --role all|processor|gateway` (ARCHITECTURE §9): which part of Arena this process
// runs. `all` without ARENA_PARTITIONS is today's single process, unchanged. Partitioned mode
// (ARENA_PARTITIONS set) and the processor/gateway roles are being built (issue 16): until they
// exist, serve refuses them with a sentence saying so, rather than silently running one process.
export const SERVE_ROLES = ["all", "processor", "gateway"] as const
export type ServeRole = (typeof SERVE_ROLES)[number]

export type ServePlan =
  | { readonly _tag: "SingleProcess" }
  | { readonly _tag: "Refused"; readonly message: string }

/** The role flag as parseArgs gave it (undefined, a string, or `true` for a bare `--role`). */
export const parseServeRole = (flag: unknown): { readonly role: ServeRole } | { readonly error: string } => {
  if (flag === undefined) return { role: "all" }
  if (typeof flag === "string" && (SERVE_ROLES as ReadonlyArray<string>).includes(flag)) return { role: flag as ServeRole }
  return { error: `--role must be one of ${SERVE_ROLES.join(", ")}${typeof flag === "string" ? ` (got ${JSON.stringify(flag)})` : " (it needs a value)"}` }
}

/** What `serve` does for a role and ARENA_PARTITIONS. */
export const planServe = (role: ServeRole, partitions: number | undefined): ServePlan => {
  if (partitions === undefined) {
    if (role === "all") return { _tag: "SingleProcess" }
    return { _tag: "Refused", message: `--role ${role} runs only in partitioned mode: set ARENA_PARTITIONS (e.g. 64, fixed for the deployment's life) and point NATS_URL at a cluster with the partition mapping (scripts/cluster.sh), or drop --role to run everything in one process` }
  }
  return { _tag: "Refused", message: `partitioned mode (ARENA_PARTITIONS=${partitions}, --role ${role}) is not implemented yet: the cluster, partition mapping and leases exist (docs/scaling.md), the partitioned processor, merger and gateway do not (issue 16). Unset ARENA_PARTITIONS to run the single-process service` }
}
