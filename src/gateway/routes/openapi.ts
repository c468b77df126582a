// GET /openapi.json: OpenAPI 3.1 built from the effect/Schema definitions that validate requests
// (XpEventSchema from the domain, ShareInputSchema, SharePatchSchema, GroupInputSchema) and document responses. Built once, lazily.
import { JsonSchema, Schema } from "effect"
import { AdjustRequestSchema, VoidRequestSchema } from "../../domain/Correction.js"
import { XpEventSchema } from "../../domain/Event.js"
import type { Route } from "../http/Router.js"
import * as S from "../Schemas.js"

const NAMED: ReadonlyArray<readonly [string, Schema.Top]> = [
  ["XpEvent", XpEventSchema], ["ShareInput", S.ShareInputSchema], ["SharePatch", S.SharePatchSchema], ["Error", S.ErrorSchema],
  ["RankedEntry", S.RankedEntrySchema], ["LeaderboardPage", S.LeaderboardPageSchema], ["LeaderboardAround", S.AroundSchema],
  ["BoardList", S.BoardListSchema], ["PublishResults", S.PublishResultsSchema], ["Share", S.ShareSchema],
  ["ShareList", S.ShareListSchema], ["Readiness", S.ReadinessSchema], ["GroupInput", S.GroupInputSchema], ["Group", S.GroupSchema],
  ["VoidCorrection", VoidRequestSchema], ["AdjustCorrection", AdjustRequestSchema],
  ["SettingsInput", S.SettingsInputSchema], ["SettingsAccepted", S.SettingsAcceptedSchema]
]

type Json = Record<string, unknown>
const ref = (name: string): Json => ({ $ref: `#/components/schemas/${name}` })
const body = (name: string, description: string): Json => ({ description, content: { "application/json": { schema: ref(name) } } })
const err = (description: string): Json => body("Error", description)
const q = (name: string, schema: Json, description: string): Json => ({ name, in: "query", required: false, schema, description })
const pth = (name: string, description: string): Json => ({ name, in: "path", required: true, schema: { type: "string" }, description })
const WINDOW = q("window", { type: "string", enum: ["all", "day", "week", "month"], default: "all" }, "Time window")
const PERIOD = q("period", { type: "string" }, "2026-11-26 (day), 2026-W48 (week), 2026-11 (month); default: the current one")
const BEARER = [{ bearer: [] }]
const std = { "400": err("Invalid parameters (details carry field paths)"), "429": err("Rate limited (Retry-After)") }
/** Share routes: their store (Postgres) may be unreachable. */
const shareStd = { ...std, "503": err("Shares are unavailable right now (Postgres cannot be reached); retry after Retry-After") }
const SHARE_ID_PARAM = pth("id", "Share id")
const GROUP_ID_PARAM = pth("group_id", "Group id, [A-Za-z0-9._-]{1,64}")
const groupStd = { ...std, "503": err("Groups cannot be changed right now (Postgres cannot be reached); retry after Retry-After") }
const BOARD_PARAM = pth("board", "global, agent:<name> or group:<group_id>")
/** Board, profile and ledger routes: the state they read may be loading or the pipeline restarting. */
const stateStd = { ...std, "503": err("State is loading or the pipeline is restarting (the message says which); retry after Retry-After") }

const components = (): { schemas: Json } => {
  const docs = NAMED.map(([, s]) => Schema.toJsonSchemaDocument(s, { onExcessProperty: "error" }))
  const definitions: Record<string, JsonSchema.JsonSchema> = {}
  for (const d of docs) Object.assign(definitions, d.definitions)
  const multi = JsonSchema.toMultiDocumentOpenApi3_1({
    dialect: "draft-2020-12",
    schemas: [docs[0]!.schema, ...docs.slice(1).map((d) => d.schema)],
    definitions
  })
  const schemas: Json = { ...multi.definitions }
  NAMED.forEach(([name], i) => {
    const s = multi.schemas[i] as Json
    // A root that is only a $ref to its own component name is already in `definitions`.
    if (s["$ref"] !== `#/components/schemas/${name}`) schemas[name] = s
  })
  return { schemas }
}

export const buildOpenApi = (): Json => ({
  openapi: "3.1.0",
  info: { title: "Arena", version: "1.0.0", description: "Real-time gamification backend: XP events in, exact XP, live leaderboards out." },
  components: { ...components(), securitySchemes: { bearer: { type: "http", scheme: "bearer", bearerFormat: "JWT" } } },
  paths: {
    "/v1/events": {
      post: {
        summary: "Publish one event or an array of at most 1000", security: BEARER,
        requestBody: { required: true, content: { "application/json": { schema: { oneOf: [ref("XpEvent"), { type: "array", items: ref("XpEvent"), minItems: 1, maxItems: 1000 }] } } } },
        responses: { "202": body("PublishResults", "Per-item results"), ...std, "401": err("No or invalid token"), "403": err("Token lacks events:write (admin does not imply it)"), "413": err("Body over 1 MiB"), "415": err("Not application/json") }
      }
    },
    "/v1/leaderboards": {
      get: {
        summary: "Boards with their windows and sizes",
        description: "The boards the pipeline keeps (global, agent:<name>). Group boards (group:<id>) are not listed: each is computed from the global board, so sizing every group's windows would cost every member of every group per request; a group's board name is in GET /v1/groups/{group_id}.",
        responses: { "200": body("BoardList", "Boards"), ...stateStd }
      }
    },
    "/v1/leaderboards/{board}": {
      get: {
        summary: "One page of a leaderboard (keyset pagination)",
        description: "Any board: global, agent:<name>, group:<id>. A closed period comes from its archive (seq 0; in partitioned mode merged exactly from every partition's archive); a closed period of a group board is the members' rows of the global board's archive of that period, ranked among them.",
        parameters: [BOARD_PARAM, WINDOW, PERIOD, q("limit", { type: "integer", minimum: 1, maximum: 1000, default: 100 }, "Page size"), q("cursor", { type: "string" }, "next_cursor of the previous page")],
        responses: { "200": body("LeaderboardPage", "A page"), ...stateStd, "404": err("No such board") }
      }
    },
    "/v1/leaderboards/{board}/users/{user_id}": {
      get: {
        summary: "A user's rank and the entries around it (a private user: 404 to anyone but them and admin)",
        description: "Any board, as its pages. A closed period comes from its archive (seq 0, ranks as archived; in partitioned mode merged exactly from every partition's archive).",
        parameters: [BOARD_PARAM, pth("user_id", "User id"), WINDOW, PERIOD, q("radius", { type: "integer", minimum: 0, maximum: 50, default: 5 }, "Entries above and below")],
        responses: { "200": body("LeaderboardAround", "The user's neighbourhood"), ...stateStd, "404": err("No such board or user not ranked") }
      }
    },
    "/v1/users/{user_id}": {
      get: { summary: "Profile (level {number, title, xp_into_level, xp_for_next}: what the user's last award or correction gave them under the rules version that scored it — a threshold change from head shows at their next one, §10; streak {current, longest, freezes_left}, time_zone, visibility); a private user's only to them and admin", parameters: [pth("user_id", "User id")], responses: { "200": { description: "Profile" }, ...stateStd, "404": err("Unknown user, or a private user and you are not them or admin") } },
      delete: {
        summary: "Erase the user (the user themselves or admin, §11): from every board, profile, ledger, share, snapshot, ClickHouse table and stream message; runs in the background and resumes after a restart", security: BEARER,
        parameters: [pth("user_id", "User id")],
        responses: {
          "202": { description: "{erasure_id, user_id, status: pending, step, steps_done, erase_seq, messages_erased, requested_at, completed_at}; Location: /v1/erasures/{erasure_id}. A second request while one runs answers the same erasure." },
          ...std, "401": err("No or invalid token"), "403": err("Another user's token (not admin)"), "503": err("Postgres unreachable (Retry-After)")
        }
      }
    },
    "/v1/erasures/{id}": {
      get: {
        summary: "An erasure's progress (whoever asked for it, or admin; others get 404)", security: BEARER, parameters: [pth("id", "erasure_id (22 characters of [A-Za-z0-9_-])")],
        responses: {
          "200": { description: "{erasure_id, status: pending|done, step (next: publish, apply, snapshot, postgres, clickhouse, stream; done), steps_done, erase_seq, messages_erased (stream messages and dead letters erased), requested_at, completed_at}" },
          ...std, "401": err("No or invalid token"), "404": err("No such erasure (or not yours)"), "503": err("Postgres unreachable (Retry-After)")
        }
      }
    },
    "/v1/users/{user_id}/settings": {
      put: {
        summary: "Set the user's time zone (streak days) and visibility (self or admin); applied through the event stream in seq order", security: BEARER,
        parameters: [pth("user_id", "User id")],
        requestBody: { required: true, content: { "application/json": { schema: ref("SettingsInput") } } },
        responses: { "202": body("SettingsAccepted", "Published; visible once /readyz seq ≥ seq"), ...std, "401": err("No or invalid token"), "403": err("Not this user and not admin"), "503": err("The event stream is unavailable; retry after Retry-After") }
      }
    },
    "/v1/users/{user_id}/ledger": {
      get: {
        summary: "Ledger entries with their full explanation, newest first: awards and corrections (kind \"correction\") (owner or admin)", security: BEARER,
        parameters: [pth("user_id", "User id"), q("limit", { type: "integer", minimum: 1, maximum: 1000, default: 100 }, "Page size"), q("cursor", { type: "string" }, "next_cursor of the previous page")],
        responses: { "200": { description: "Ledger page" }, ...stateStd, "401": err("No or invalid token"), "403": err("Not the owner") }
      }
    },
    "/v1/rules": { get: { summary: "Rules in force (with version) and the rules history (§10)", responses: { "200": { description: "Rules document of the version in force plus content_hash, effective_from_seq, in_force and history [{version, content_hash, effective_from_seq, recorded_at}]" } } } },
    "/v1/rules/dry-run": {
      post: {
        summary: "Dry run of a rules change (admin): scores the whole stream under the body's rules beside the rules in force, in a child process", security: BEARER,
        requestBody: { required: true, content: { "application/json": { schema: { type: "object", description: "A rules document (the JSON of an ARENA_RULES file)" } } } },
        responses: { "202": { description: "The job {job_id, status, version, started_at, progress}; Location: its URL" }, ...std, "401": err("No or invalid token"), "403": err("Not admin"), "409": err("A dry run is still running") }
      }
    },
    "/v1/rules/dry-run/{id}": {
      get: {
        summary: "A dry run's progress and, once done, its report (admin)", security: BEARER, parameters: [pth("id", "job_id from POST /v1/rules/dry-run")],
        responses: { "200": { description: "{job_id, status: running|done|failed, progress, result (the report of arena rules diff --json), error}" }, ...std, "401": err("No or invalid token"), "403": err("Not admin"), "404": err("No such job (kept in memory: the last 16)") }
      }
    },
    "/v1/rules/apply": {
      post: {
        summary: "Put a rules document in force without a restart (admin; `arena rules apply` calls it): from the stream head + 1, or with retroactive=true re-score every event in a shadow state, then switch once (§10)", security: BEARER,
        requestBody: {
          required: true,
          content: { "application/json": { schema: { type: "object", required: ["rules"], additionalProperties: false, properties: { rules: { type: "object", description: "A rules document (the JSON of an ARENA_RULES file)" }, retroactive: { type: "boolean", default: false } } } } }
        },
        responses: {
          "200": { description: "From head, in force now: {version, content_hash, applied (false: that content already was in force), effective_from_seq, head_seq, projection, message}" },
          "202": { description: "Retroactive, started: the re-projection {projection, version, state: pending, head_seq, built_seq, reason, requested_at, finished_at, progress}; Location: /v1/rules/apply" },
          ...std, "401": err("No or invalid token"), "403": err("Not admin"),
          "409": err("rules_version_conflict: the version string is recorded with other content; apply_running: another apply (or an open re-projection) is under way"),
          "503": err("No pipeline is running right now (starting or restarting); Retry-After")
        }
      },
      get: {
        summary: "The last retroactive apply (admin): its state (pending → built → switched, or discarded with a reason) and, while pending, the shadow build's progress", security: BEARER,
        responses: { "200": { description: "{projection, version, state, head_seq, built_seq, reason, requested_at, finished_at, progress: {seq, last_seq, percent, events_per_second} | null}" }, ...std, "401": err("No or invalid token"), "403": err("Not admin"), "404": err("No retroactive apply was ever made") }
      }
    },
    "/v1/corrections": {
      post: {
        summary: "Correct XP (admin; §10): void an applied event's award, or adjust a user by ±n XP. Travels through the stream (Nats-Msg-Id = correction_id: counts once); the user's ledger gets an entry with kind \"correction\", /ws/users an xp_corrected message", security: BEARER,
        requestBody: { required: true, content: { "application/json": { schema: { oneOf: [ref("VoidCorrection"), ref("AdjustCorrection")] } } } },
        responses: {
          "202": { description: "{status: accepted|duplicate, correction_id, seq}: published (duplicate: that correction_id was published before, at seq)" },
          ...std, "401": err("No or invalid token"), "403": err("Not admin (events:write does not allow corrections)"),
          "404": err("void: no applied event with that event_id; adjust: no such user"), "409": err("already_voided: the event was voided already; apply_running: a retroactive re-projection is open (pending or built) — its awards are being re-scored, so voids wait for its switch or discard (adjusts are accepted)"),
          "503": err("The pipeline, ledger or stream is unavailable; retry after Retry-After")
        }
      }
    },
    "/v1/achievements": { get: { summary: "Achievement catalog", responses: { "200": { description: "Catalog" } } } },
    "/v1/shares": {
      post: {
        summary: "Share a conversation (any valid token; owner = its sub)", security: BEARER,
        requestBody: { required: true, content: { "application/json": { schema: ref("ShareInput") } } },
        responses: { "201": body("Share", "Created"), ...shareStd, "401": err("No or invalid token") }
      },
      get: {
        summary: "Public shares, plus your own when authenticated (mine=1: only yours)",
        parameters: [q("mine", { type: "string", enum: ["1", "0", "true", "false"] }, "Only your shares"), q("limit", { type: "integer", minimum: 1, maximum: 100, default: 20 }, "Page size"), q("cursor", { type: "string" }, "next_cursor")],
        responses: { "200": body("ShareList", "Newest first"), ...shareStd, "401": err("mine=1 without a token") }
      }
    },
    "/v1/shares/{id}": {
      get: { summary: "One share (private: owner or admin; others get 404)", parameters: [SHARE_ID_PARAM], responses: { "200": body("Share", "The share"), ...shareStd, "404": err("No such share (or not visible to you)") } },
      patch: {
        summary: "Change some fields of a share (owner or admin; others get 404)", security: BEARER, parameters: [SHARE_ID_PARAM],
        requestBody: { required: true, content: { "application/json": { schema: ref("SharePatch") } } },
        responses: { "200": body("Share", "The updated share"), ...shareStd, "401": err("No or invalid token"), "404": err("No such share (or not yours)") }
      },
      delete: {
        summary: "Delete a share (owner or admin; others get 404)", security: BEARER, parameters: [SHARE_ID_PARAM],
        responses: { "204": { description: "Deleted" }, ...shareStd, "401": err("No or invalid token"), "404": err("No such share (or not yours)") }
      }
    },
    "/v1/groups/{group_id}": {
      get: { summary: "A group: id, name, owner, size, board; members only for the owner and admin", parameters: [GROUP_ID_PARAM], responses: { "200": body("Group", "The group"), ...std, "404": err("No such group"), "503": err("On the partitioned gateway, which reads groups from Postgres: Postgres cannot be reached; retry after Retry-After") } },
      put: {
        summary: "Create a group (owner = the token's sub) or replace its name and members (owner or admin); at most 10,000 distinct members. Its board is group:<group_id>", security: BEARER, parameters: [GROUP_ID_PARAM],
        requestBody: { required: true, content: { "application/json": { schema: ref("GroupInput") } } },
        responses: { "200": body("Group", "Replaced"), "201": body("Group", "Created; Location: its URL"), ...groupStd, "401": err("No or invalid token"), "403": err("The group belongs to another user"), "413": err("Body over 1 MiB") }
      },
      delete: {
        summary: "Delete a group (owner or admin)", security: BEARER, parameters: [GROUP_ID_PARAM],
        responses: { "204": { description: "Deleted" }, ...groupStd, "401": err("No or invalid token"), "403": err("The group belongs to another user"), "404": err("No such group") }
      }
    },
    "/healthz": { get: { summary: "Liveness", responses: { "200": { description: "Alive" } } } },
    "/readyz": { get: { summary: "Readiness", responses: { "200": body("Readiness", "Ready"), "503": body("Readiness", "Not ready, with reasons") } } },
    "/metrics": { get: { summary: "Prometheus metrics", responses: { "200": { description: "text/plain; version=0.0.4" } } } },
    "/ws/leaderboard/{board}": { get: { summary: "WebSocket: snapshot (with resets_at) then deltas (docs/websocket.md); private users' rows are anonymous in every frame, and an update that would name one arrives as a fresh snapshot", parameters: [BOARD_PARAM, WINDOW, PERIOD, q("limit", { type: "integer", minimum: 1, maximum: 1000, default: 100 }, "Top-N"), q("since", { type: "integer" }, "Resume from this seq"), q("epoch", { type: "string" }, "Epoch of `since`")], responses: { "101": { description: "Switching protocols" } } } },
    "/ws/leaderboard/{board}/around/{user_id}": { get: { summary: "WebSocket: the window of ranks around a user, snapshot then deltas; messages carry user_id, radius, first_rank (docs/websocket.md)", parameters: [BOARD_PARAM, pth("user_id", "User id"), WINDOW, PERIOD, q("radius", { type: "integer", minimum: 0, maximum: 50, default: 5 }, "Ranks each side"), q("since", { type: "integer" }, "Resume from this seq"), q("epoch", { type: "string" }, "Epoch of `since`")], responses: { "101": { description: "Switching protocols" }, "400": err("Invalid parameters (details carry field paths)") } } },
    "/ws/users/{user_id}": { get: { summary: "WebSocket: the user's notifications xp_awarded, xp_corrected, level_up, achievement_unlocked, rank_changed (token: ?token= or Sec-WebSocket-Protocol: bearer, <jwt>)", parameters: [pth("user_id", "User id")], responses: { "101": { description: "Switching protocols" } } } }
  }
})

export const openApiRoutes = (): ReadonlyArray<Route> => {
  let cached: string | null = null
  return [{
    method: "get",
    pattern: "/openapi.json",
    handler: () => {
      cached ??= JSON.stringify(buildOpenApi())
      return { status: 200, body: cached, contentType: "application/json; charset=utf-8" }
    }
  }]
}
