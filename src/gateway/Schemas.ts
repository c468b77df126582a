// effect/Schema for what the HTTP API accepts (decoded with these, unknown keys are errors) and
// returns: the same schemas generate /openapi.json, so docs and validation cannot drift apart.
import { Schema } from "effect"
import { AgentName, UserId } from "../domain/Event.js"
import { issuesOfExit } from "../domain/Issues.js"
import type { Issue } from "../domain/Model.js"
import type { ShareInput, SharePatch } from "../ports/Shares.js"
import type { GroupInput } from "../ports/Groups.js"
import { MAX_GROUP_MEMBERS } from "../ports/Groups.js"
import { PRIVACY_LEVELS } from "../ports/Shares.js"

const MAX_CONTENT_BYTES = 64 * 1024
const Str = Schema.String.annotate({ message: "must be a string" })
const NonNegInt = Schema.Number.annotate({ message: "must be a number" }).check(
  Schema.isInt({ message: "must be an integer" }),
  Schema.isGreaterThanOrEqualTo(0, { message: "must be >= 0" })
)
const Tag = Str.check(
  Schema.isMinLength(1, { message: "must not be empty" }),
  Schema.isMaxLength(50, { message: "must be at most 50 characters" }),
  Schema.isPattern(/^[^\u0000-\u001f\u007f]*$/u, { message: "must not contain control characters" })
)

// Postgres text cannot hold U+0000: refuse it with the field's path instead of failing the insert (500).
const NoNul = Schema.isPattern(/^[^\u0000]*$/u, { message: "must not contain NUL characters" })

// The client-settable fields, one definition for create (POST) and partial update (PATCH).
const Title = Str.check(
  Schema.isMinLength(1, { message: "must not be empty" }),
  Schema.isMaxLength(200, { message: "must be at most 200 characters" }),
  NoNul
)
const Content = Str.check(
  Schema.makeFilter((s: string) => Buffer.byteLength(s, "utf8") <= MAX_CONTENT_BYTES || `must be at most ${MAX_CONTENT_BYTES} bytes (UTF-8)`, {
    description: `at most ${MAX_CONTENT_BYTES} bytes of UTF-8`
  }),
  NoNul
)
const Privacy = Schema.Literals(PRIVACY_LEVELS).annotate({ message: "must be public, unlisted or private" })
const AgentsUsed = Schema.Array(AgentName).annotate({ message: "must be an array of agent names" })
  .check(Schema.isMaxLength(20, { message: "must have at most 20 items" }))
const XpEarned = NonNegInt.check(Schema.isLessThanOrEqualTo(Number.MAX_SAFE_INTEGER, { message: "is too large" }))
const Tags = Schema.Array(Tag).annotate({ message: "must be an array of strings" }).check(Schema.isMaxLength(20, { message: "must have at most 20 items" }))

export const ShareInputSchema = Schema.Struct({
  title: Title,
  content: Content,
  privacy_level: Schema.optionalKey(Privacy.annotate({ description: "Default private" })),
  agents_used: Schema.optionalKey(AgentsUsed),
  xp_earned: Schema.optionalKey(XpEarned),
  tags: Schema.optionalKey(Tags)
}).annotate({ identifier: "ShareInput", message: "must be a JSON object", description: "owner, id and created_at are set by the server" })

export const SHARE_FIELDS = ["title", "content", "privacy_level", "agents_used", "xp_earned", "tags"] as const

export const SharePatchSchema = Schema.Struct({
  title: Schema.optionalKey(Title),
  content: Schema.optionalKey(Content),
  privacy_level: Schema.optionalKey(Privacy),
  agents_used: Schema.optionalKey(AgentsUsed),
  xp_earned: Schema.optionalKey(XpEarned),
  tags: Schema.optionalKey(Tags)
}).annotate({
  identifier: "SharePatch", message: "must be a JSON object",
  description: "The fields to change (at least one); the others keep their values. owner, id and created_at cannot be changed"
})

const PARSE = { errors: "all", onExcessProperty: "error" } as const
const decodeShare = Schema.decodeUnknownExit(ShareInputSchema, PARSE)
const decodePatch = Schema.decodeUnknownExit(SharePatchSchema, PARSE)

const prefixed = (prefix: string, issues: ReadonlyArray<Issue>): Array<Issue> =>
  issues.map((i) => ({ path: i.path === "" ? prefix : i.path.startsWith("[") ? prefix + i.path : `${prefix}.${i.path}`, message: i.message }))

/** Decodes a share body; issues have paths like `body.tags[3]`. */
export const decodeShareInput = (u: unknown): { ok: true; value: ShareInput } | { ok: false; issues: Array<Issue> } => {
  const exit = decodeShare(u)
  if (exit._tag === "Success") {
    const v = exit.value
    return {
      ok: true,
      value: {
        title: v.title,
        content: v.content,
        privacy_level: v.privacy_level ?? "private",
        agents_used: v.agents_used ?? [],
        xp_earned: v.xp_earned ?? 0,
        tags: v.tags ?? []
      }
    }
  }
  return { ok: false, issues: prefixed("body", issuesOfExit(exit)) }
}

/** Decodes a PATCH body: the fields present, at least one; issues have paths like `body.title`. */
export const decodeSharePatch = (u: unknown): { ok: true; value: SharePatch } | { ok: false; issues: Array<Issue> } => {
  const exit = decodePatch(u)
  if (exit._tag !== "Success") return { ok: false, issues: prefixed("body", issuesOfExit(exit)) }
  const v = exit.value
  if (!SHARE_FIELDS.some((k) => v[k] !== undefined)) {
    return { ok: false, issues: [{ path: "body", message: `must set at least one of ${SHARE_FIELDS.join(", ")}` }] }
  }
  return { ok: true, value: v }
}

export const GroupInputSchema = Schema.Struct({
  name: Str.check(
    Schema.isMinLength(1, { message: "must not be empty" }),
    Schema.isMaxLength(100, { message: "must be at most 100 characters" }),
    Schema.isPattern(/^[^\u0000-\u001f\u007f]*$/u, { message: "must not contain control characters" })
  ),
  members: Schema.Array(UserId).annotate({ message: "must be an array of user ids" })
    .check(Schema.isMaxLength(MAX_GROUP_MEMBERS, { message: `must have at most ${MAX_GROUP_MEMBERS} members` }))
}).annotate({ identifier: "GroupInput", message: "must be a JSON object", description: "owner, id and updated_at are set by the server" })

const decodeGroup = Schema.decodeUnknownExit(GroupInputSchema, PARSE)

/** Decodes a PUT /v1/groups/{id} body; issues have paths like `body.members[3]` (a repeated member too). */
export const decodeGroupInput = (u: unknown): { ok: true; value: GroupInput } | { ok: false; issues: Array<Issue> } => {
  const exit = decodeGroup(u)
  if (exit._tag !== "Success") return { ok: false, issues: prefixed("body", issuesOfExit(exit)) }
  const seen = new Set<string>()
  const issues: Array<Issue> = []
  exit.value.members.forEach((m, i) => {
    if (seen.has(m)) issues.push({ path: `body.members[${i}]`, message: `repeats member ${m}` })
    seen.add(m)
  })
  return issues.length > 0 ? { ok: false, issues } : { ok: true, value: { name: exit.value.name, members: exit.value.members } }
}

// ---- Response shapes (documentation only: the server builds these values itself) ----

const Int = Schema.Int
const Nullable = <S extends Schema.Top>(s: S) => Schema.NullOr(s)
export const WindowSchema = Schema.Literals(["all", "day", "week", "month"])

export const ErrorSchema = Schema.Struct({
  error: Schema.Struct({
    code: Schema.String,
    message: Schema.String,
    details: Schema.Array(Schema.Struct({ path: Schema.String, message: Schema.String }))
  })
}).annotate({ identifier: "Error" })

export const RankedEntrySchema = Schema.Struct({
  rank: Int, user_id: UserId, username: Schema.String, xp: Int, level: Int
}).annotate({ identifier: "RankedEntry" })

export const LeaderboardPageSchema = Schema.Struct({
  board: Schema.String, window: WindowSchema, period: Schema.String, seq: Int, total: Int,
  entries: Schema.Array(RankedEntrySchema), next_cursor: Nullable(Schema.String)
}).annotate({ identifier: "LeaderboardPage" })

export const AroundSchema = Schema.Struct({
  board: Schema.String, window: WindowSchema, period: Schema.String, seq: Int, total: Int,
  user: RankedEntrySchema, entries: Schema.Array(RankedEntrySchema)
}).annotate({ identifier: "LeaderboardAround" })

export const GroupSchema = Schema.Struct({
  id: Schema.String, name: Schema.String, owner: Schema.String, updated_at: Schema.String, size: Int,
  members: Schema.optionalKey(Schema.Array(UserId).annotate({ description: "Only for the owner and admin" })),
  board: Schema.String.annotate({ description: "The group's board: group:<id>" })
}).annotate({ identifier: "Group" })

export const BoardListSchema = Schema.Struct({
  boards: Schema.Array(Schema.Struct({
    board: Schema.String,
    windows: Schema.Array(Schema.Struct({ window: WindowSchema, period: Schema.String, size: Int, closed: Schema.Boolean }))
  }))
}).annotate({ identifier: "BoardList" })

export const PublishResultsSchema = Schema.Struct({
  accepted: Int, duplicate: Int, rejected: Int,
  results: Schema.Array(Schema.Struct({
    status: Schema.Literals(["accepted", "duplicate", "rejected"]),
    event_id: Nullable(Schema.String),
    seq: Schema.optionalKey(Int),
    error: Schema.optionalKey(ErrorSchema.fields.error)
  }))
}).annotate({ identifier: "PublishResults" })

export const ShareSchema = Schema.Struct({
  id: Schema.String, owner: Schema.String, title: Schema.String, content: Schema.String,
  privacy_level: Schema.Literals(PRIVACY_LEVELS), agents_used: Schema.Array(Schema.String), xp_earned: Int,
  tags: Schema.Array(Schema.String), created_at: Schema.String
}).annotate({ identifier: "Share" })

export const ShareListSchema = Schema.Struct({
  shares: Schema.Array(ShareSchema), next_cursor: Nullable(Schema.String)
}).annotate({ identifier: "ShareList" })

export const ReadinessSchema = Schema.Struct({
  ready: Schema.Boolean, fatal: Schema.Boolean, reasons: Schema.Array(Schema.String),
  details: Schema.StructWithRest(Schema.Struct({
    seq: Schema.optionalKey(Int.annotate({ description: "Visible: every event with a lower or equal stream seq is reflected in boards, profiles and ledgers when this answer is sent" })),
    ingested_seq: Schema.optionalKey(Int.annotate({ description: "The last stream seq handed to the pipeline (applied or queued); ≥ seq" })),
    dead_letters_unstored: Schema.optionalKey(Int.annotate({ description: "Dead letters not yet stored by the DLQ stream (present while > 0); snapshots wait for them" })),
    dead_letter_attempts: Schema.optionalKey(Int.annotate({ description: "Failed attempts in a row to store them" }))
  }), [Schema.Record(Schema.String, Schema.Unknown)]).annotate({ description: "Also phase, pending, snapshot_seq, snapshot_age_seconds, analytics_durable_seq, analytics_buffered" })
}).annotate({ identifier: "Readiness" })
