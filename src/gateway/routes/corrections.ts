// POST /v1/corrections (admin only; ARCHITECTURE §10): void an applied event's award or adjust a
// user by ±n XP. The CorrectionsPort checks and publishes; 202 with the correction's stream seq
// (`duplicate` when that correction_id was published before: it counts once).
import { SCOPE_ADMIN, requireScope } from "../auth/Auth.js"
import { ApiError } from "../http/ApiError.js"
import { json } from "../http/Http.js"
import { Params } from "../http/Params.js"
import type { Route } from "../http/Router.js"
import type { CorrectionsPort } from "../../ports/Corrections.js"

export const correctionRoutes = (corrections: CorrectionsPort): ReadonlyArray<Route> => [
  {
    method: "post",
    pattern: "/v1/corrections",
    body: true,
    authorize: (p) => requireScope(p, SCOPE_ADMIN),
    handler: async (req) => {
      new Params(req.query, []).check()
      const r = await corrections.submit(req.body, req.principal?.sub ?? "")
      if (!r.ok) throw new ApiError(r.status, r.code, r.message, r.details, r.status === 503 ? { "Retry-After": "1" } : {})
      return json({ status: r.status, correction_id: r.correction_id, seq: r.seq }, 202)
    }
  }
]
