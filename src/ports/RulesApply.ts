// `arena rules apply` over HTTP (ARCHITECTURE §10 "Re-projection"): POST /v1/rules/apply (admin)
// puts a rules document in force without restarting the service — from the stream head + 1, or
// with `retroactive` from seq 1 through a shadow re-projection and one switch; GET
// /v1/rules/apply shows the last retroactive apply (its state and progress). Implemented by
// src/actors/RulesApply.ts; the gateway only maps outcomes to HTTP.
import type { Issue } from "../domain/Model.js"

/** A retroactive apply as GET /v1/rules/apply shows it (the Postgres row of arena_reprojection plus progress). */
export interface ReprojectionView {
  readonly projection: number
  readonly version: string
  readonly state: "pending" | "built" | "switched" | "discarded"
  readonly head_seq: number
  readonly built_seq: number | null
  readonly reason: string | null
  readonly requested_at: string
  readonly finished_at: string | null
  /** While pending: how far the shadow build is (null before its first report). */
  readonly progress: { readonly seq: number; readonly last_seq: number; readonly percent: number; readonly events_per_second: number } | null
}

export type RulesApplyOutcome =
  /** From head: in force now (`applied` false when this content already was the version in force). */
  | { readonly ok: true; readonly status: 200; readonly body: { readonly version: string; readonly content_hash: string; readonly applied: boolean; readonly effective_from_seq: number; readonly head_seq: number | null; readonly projection: number | null; readonly message: string } }
  /** Retroactive: the re-projection started (poll GET /v1/rules/apply). */
  | { readonly ok: true; readonly status: 202; readonly body: ReprojectionView }
  | { readonly ok: false; readonly status: 400 | 409 | 503; readonly code: string; readonly message: string; readonly details: ReadonlyArray<Issue> }

export interface RulesApplyPort {
  apply(rules: unknown, options: { readonly retroactive: boolean }): Promise<RulesApplyOutcome>
  /** The last retroactive apply (null when there never was one). */
  last(): Promise<ReprojectionView | null>
}
