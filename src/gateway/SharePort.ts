// What the shares routes need from storage (implemented by adapters/postgres/ShareStore.ts), and
// the one rule of who may read a share. Declared here, where it is used.
import type { Principal } from "./auth/Auth.js"

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

export interface ShareStore {
  create(owner: string, input: ShareInput): Promise<Share>
  get(id: string): Promise<Share | null>
  /** Newest first: public shares, plus all of the viewer's own (only those with mineOnly). */
  list(q: ShareListQuery): Promise<ReadonlyArray<Share>>
}

/**
 * Public and unlisted shares are readable by anyone holding the id; private ones only by the
 * owner or an admin. Callers answer 404 (not 403) otherwise, so existence does not leak.
 */
export const canRead = (share: Share, viewer: Principal | null): boolean =>
  share.privacy_level !== "private" || (viewer !== null && (viewer.admin || viewer.sub === share.owner))

export const SHARE_ID = /^[A-Za-z0-9_-]{22}$/

export const shareJson = (s: Share): Omit<Share, "seq"> => ({
  id: s.id,
  owner: s.owner,
  title: s.title,
  content: s.content,
  privacy_level: s.privacy_level,
  agents_used: s.agents_used,
  xp_earned: s.xp_earned,
  tags: s.tags,
  created_at: s.created_at
})
