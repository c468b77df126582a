// GET /v1/rules and GET /v1/achievements: served from the RulesPort as is. With a DryRunPort:
// POST /v1/rules/dry-run (admin; body = a rules document) starts a dry run of that change and
// answers 202 with its job; GET /v1/rules/dry-run/{id} (admin) shows its progress and report.
import { SCOPE_ADMIN, requireScope } from "../auth/Auth.js"
import { ApiError, notFound } from "../http/ApiError.js"
import { isPlainObject, json } from "../http/Http.js"
import { Params, decodeSegment } from "../http/Params.js"
import type { Route } from "../http/Router.js"
import { DryRunRecordsUnavailable } from "../../ports/DryRuns.js"
import type { DryRunPort } from "../../ports/DryRuns.js"
import type { RulesApplyPort } from "../../ports/RulesApply.js"
import type { RulesPort } from "../../ports/ReadModel.js"

const JOB_ID = /^[A-Za-z0-9_-]{12}$/

export const rulesRoutes = (rules: RulesPort, dryRuns?: DryRunPort, apply?: RulesApplyPort): ReadonlyArray<Route> => [
  { method: "get", pattern: "/v1/rules", handler: async (req) => (new Params(req.query, []).check(), json(await rules.rules())) },
  { method: "get", pattern: "/v1/achievements", handler: async (req) => (new Params(req.query, []).check(), json(await rules.achievements())) },
  ...(dryRuns === undefined ? [] : [
    {
      method: "post",
      pattern: "/v1/rules/dry-run",
      body: true,
      authorize: (p) => requireScope(p, SCOPE_ADMIN),
      handler: async (req) => {
        new Params(req.query, []).check()
        if (!isPlainObject(req.body)) throw new ApiError(400, "invalid_rules", "the body must be a rules document (the JSON of an ARENA_RULES file)", [{ path: "body", message: "must be a JSON object" }])
        const r = await dryRuns.start(req.body)
        if (!r.ok) throw new ApiError(r.status, r.code, r.message, r.details, r.status === 503 ? { "Retry-After": "1" } : {})
        return json(r.job, 202, { Location: `/v1/rules/dry-run/${r.job.job_id}` })
      }
    },
    {
      method: "get",
      pattern: "/v1/rules/dry-run/:id",
      authorize: (p) => requireScope(p, SCOPE_ADMIN),
      handler: async (req) => {
        new Params(req.query, []).check()
        const id = decodeSegment(req.params[0]!, "path.id")
        const job = JOB_ID.test(id) ? await dryRuns.get(id).catch((e: unknown) => {
          throw e instanceof DryRunRecordsUnavailable ? new ApiError(503, "unavailable", `dry runs are not available right now: ${e.message}; retry later`, [], { "Retry-After": "1" }) : e
        }) : null
        if (job === null) throw notFound(`no dry run ${JSON.stringify(id)} (jobs are kept ${dryRuns.kept})`)
        return json(job)
      }
    }
  ] satisfies ReadonlyArray<Route>),
  ...(apply === undefined ? [] : [
    {
      method: "post",
      pattern: "/v1/rules/apply",
      body: true,
      authorize: (p) => requireScope(p, SCOPE_ADMIN),
      handler: async (req) => {
        new Params(req.query, []).check()
        const b = req.body
        if (!isPlainObject(b) || !isPlainObject(b["rules"])) {
          throw new ApiError(400, "invalid_body", "the body must be {\"rules\": <rules document>, \"retroactive\": false|true}", [{ path: "body.rules", message: "must be a JSON object (the JSON of an ARENA_RULES file)" }])
        }
        const retro = b["retroactive"] ?? false
        if (typeof retro !== "boolean") throw new ApiError(400, "invalid_body", "retroactive must be a boolean", [{ path: "body.retroactive", message: "must be true or false" }])
        const extra = Object.keys(b).filter((k) => k !== "rules" && k !== "retroactive")
        if (extra.length > 0) throw new ApiError(400, "invalid_body", `unknown field ${extra[0]}`, extra.map((k) => ({ path: `body.${k}`, message: "unknown field" })))
        const r = await apply.apply(b["rules"], { retroactive: retro })
        if (!r.ok) throw new ApiError(r.status, r.code, r.message, r.details, r.status === 503 ? { "Retry-After": "1" } : {})
        return json(r.body, r.status, r.status === 202 ? { Location: "/v1/rules/apply" } : {})
      }
    },
    {
      method: "get",
      pattern: "/v1/rules/apply",
      authorize: (p) => requireScope(p, SCOPE_ADMIN),
      handler: async (req) => {
        new Params(req.query, []).check()
        const last = await apply.last()
        if (last === null) throw notFound("no retroactive apply has been made")
        return json(last)
      }
    }
  ] satisfies ReadonlyArray<Route>)
]
