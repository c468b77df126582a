// GET /v1/rules and GET /v1/achievements: served from the RulesPort as is.
import { json } from "../http/Http.js"
import { Params } from "../http/Params.js"
import type { Route } from "../http/Router.js"
import type { RulesPort } from "../../ports/ReadModel.js"

export const rulesRoutes = (rules: RulesPort): ReadonlyArray<Route> => [
  { method: "get", pattern: "/v1/rules", handler: (req) => (new Params(req.query, []).check(), json(rules.rules())) },
  { method: "get", pattern: "/v1/achievements", handler: (req) => (new Params(req.query, []).check(), json(rules.achievements())) }
]
