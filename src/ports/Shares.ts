// Shares: what the shares routes need from storage (implemented by adapters/postgres/ShareStore.ts).
// Who may read or manage a share is the routes' rule (gateway/routes/shares.ts).
import { Data } from "effect"

export type PrivacyLevel = "public" | "unlisted" | "private"
export const PRIVACY_LEVELS: ReadonlyArray<PrivacyLevel> = ["public", "unlisted", "private"]

/** What a client may set. Never owner, id or created_at (those come from the server). */
export interface ShareInput {
  readonly title: string
  readonly content: string
  readonly privacy_level: PrivacyLevel
  readonly agents_used: ReadonlyArray<string>
  readonly xp_earned: number
  readonly tags: ReadonlyArray<string>
}

/** A partial update (PATCH): the fields present replace the stored ones; at least one is present. */
export type SharePatch = Partial<ShareInput>

export interface Share extends ShareInput {
  readonly id: string
  readonly owner: string
  /** ISO 8601. */
  readonly created_at: string
  /** Internal list position (keyset cursor); not part of the JSON. */
  readonly seq: number
}

export interface ShareListQuery {
  /** The authenticated subject, null for anonymous. */
  readonly viewer: string | null
  /** Only the viewer's own shares (all privacy levels). */
  readonly mineOnly: boolean
  readonly limit: number
  /** Exclusive: list shares with seq below this. */
  readonly beforeSeq: number | null
}

/**
 * The store cannot answer now (its database is unreachable or shutting down); retrying later can
 * succeed. Every ShareStore method rejects with this for such failures, so the routes answer 503
 * with Retry-After instead of a 500. Anything else it rejects with is a defect.
 */
export class ShareStoreUnavailable extends Data.TaggedError("ShareStoreUnavailable")<{ readonly message: string }> {}

export interface ShareStore {
  create(owner: string, input: ShareInput): Promise<Share>
  get(id: string): Promise<Share | null>
  /** Newest first: public shares, plus all of the viewer's own (only those with mineOnly). */
  list(q: ShareListQuery): Promise<ReadonlyArray<Share>>
  /** Applies the fields of `patch` to share `id` in one statement; the updated share, or null when there is none. */
  update(id: string, patch: SharePatch): Promise<Share | null>
  /** Deletes share `id`; false when there was none. */
  delete(id: string): Promise<boolean>
}
