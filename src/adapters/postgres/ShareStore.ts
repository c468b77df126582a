// Shares in Postgres (table arena_shares, sql/postgres/0002_shares.sql): parameterized tagged
// templates only. Ids are 128 random bits (base64url), so unlisted shares cannot be enumerated.
// A database that cannot be reached rejects with ShareStoreUnavailable (the routes answer 503).
import { randomBytes } from "node:crypto"
import type postgres from "postgres"
import type { PrivacyLevel, Share, ShareInput, ShareListQuery, SharePatch, ShareStore } from "../../ports/Shares.js"
import { ShareStoreUnavailable } from "../../ports/Shares.js"
import { requestStatement } from "./Db.js"

interface Row {
  seq: string
  id: string
  owner: string
  title: string
  content: string
  privacy_level: string
  agents_used: Array<string>
  xp_earned: string
  tags: Array<string>
  created_at: Date
}

const toShare = (r: Row): Share => ({
  seq: Number(r.seq),
  id: r.id,
  owner: r.owner,
  title: r.title,
  content: r.content,
  privacy_level: r.privacy_level as PrivacyLevel,
  agents_used: r.agents_used,
  xp_earned: Number(r.xp_earned),
  tags: r.tags,
  created_at: r.created_at.toISOString()
})

export const newShareId = (): string => randomBytes(16).toString("base64url")

export class PostgresShareStore implements ShareStore {
  constructor(private readonly sql: postgres.Sql) {}

  async create(owner: string, input: ShareInput): Promise<Share> {
    const rows = await requestStatement("shares: create", ShareStoreUnavailable, () => this.sql<Array<Row>>`
      INSERT INTO arena_shares (id, owner, title, content, privacy_level, agents_used, xp_earned, tags)
      VALUES (${newShareId()}, ${owner}, ${input.title}, ${input.content}, ${input.privacy_level},
              ${this.sql.array([...input.agents_used])}, ${input.xp_earned}, ${this.sql.array([...input.tags])})
      RETURNING seq, id, owner, title, content, privacy_level, agents_used, xp_earned, tags, created_at`)
    return toShare(rows[0]!)
  }

  async get(id: string): Promise<Share | null> {
    const rows = await requestStatement("shares: get", ShareStoreUnavailable, () => this.sql<Array<Row>>`
      SELECT seq, id, owner, title, content, privacy_level, agents_used, xp_earned, tags, created_at
      FROM arena_shares WHERE id = ${id}`)
    return rows.length === 0 ? null : toShare(rows[0]!)
  }

  async update(id: string, patch: SharePatch): Promise<Share | null> {
    const sql = this.sql
    // One statement: concurrent patches of different fields never undo each other. An absent
    // field is NULL here and keeps its column (no client-settable column may be NULL).
    const arr = (xs: ReadonlyArray<string> | undefined) => (xs === undefined ? null : sql.array([...xs]))
    const rows = await requestStatement("shares: update", ShareStoreUnavailable, () => sql<Array<Row>>`
      UPDATE arena_shares SET
        title = COALESCE(${patch.title ?? null}::text, title),
        content = COALESCE(${patch.content ?? null}::text, content),
        privacy_level = COALESCE(${patch.privacy_level ?? null}::text, privacy_level),
        agents_used = COALESCE(${arr(patch.agents_used)}::text[], agents_used),
        xp_earned = COALESCE(${patch.xp_earned ?? null}::bigint, xp_earned),
        tags = COALESCE(${arr(patch.tags)}::text[], tags)
      WHERE id = ${id}
      RETURNING seq, id, owner, title, content, privacy_level, agents_used, xp_earned, tags, created_at`)
    return rows.length === 0 ? null : toShare(rows[0]!)
  }

  async delete(id: string): Promise<boolean> {
    const r = await requestStatement("shares: delete", ShareStoreUnavailable, () => this.sql`DELETE FROM arena_shares WHERE id = ${id}`)
    return r.count > 0
  }

  async list(q: ShareListQuery): Promise<ReadonlyArray<Share>> {
    const sql = this.sql
    const before = q.beforeSeq === null ? sql`` : sql`AND seq < ${q.beforeSeq}`
    const visible = q.mineOnly && q.viewer !== null
      ? sql`owner = ${q.viewer}`
      : q.viewer !== null
      ? sql`(privacy_level = 'public' OR owner = ${q.viewer})`
      : sql`privacy_level = 'public'`
    const rows = await requestStatement("shares: list", ShareStoreUnavailable, () => sql<Array<Row>>`
      SELECT seq, id, owner, title, content, privacy_level, agents_used, xp_earned, tags, created_at
      FROM arena_shares WHERE ${visible} ${before}
      ORDER BY seq DESC LIMIT ${q.limit}`)
    return rows.map(toShare)
  }
}
