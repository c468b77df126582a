// Shares: what the shares routes need from storage (implemented by adapters/postgres/ShareStore.ts).
// Who may read a share is the routes' rule (gateway/routes/shares.ts).

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
