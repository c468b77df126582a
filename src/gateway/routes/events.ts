// POST /v1/events: one event or an array of at most 1000; the envelope is checked here, each event
// by the IngestPort (the domain decoder), which answers accepted / duplicate / rejected per item.
import { SCOPE_EVENTS_WRITE, requireScope } from "../auth/Auth.js"
import { ApiError, invalid } from "../http/ApiError.js"
import { isPlainObject, json } from "../http/Http.js"
import type { Route } from "../http/Router.js"
import type { IngestPort, PublishResult } from "../../ports/Ingest.js"

export const MAX_BATCH = 1000

export const eventRoutes = (ingest: IngestPort, onError: (e: unknown, where: string) => void): ReadonlyArray<Route> => [
  {
    method: "post",
    pattern: "/v1/events",
    body: true,
    authorize: (p) => requireScope(p, SCOPE_EVENTS_WRITE),
    handler: async (req) => {
      const body = req.body
      let items: ReadonlyArray<unknown>
      if (Array.isArray(body)) {
        if (body.length === 0) throw invalid([{ path: "body", message: "must contain at least 1 event" }])
        if (body.length > MAX_BATCH) throw invalid([{ path: "body", message: `must contain at most ${MAX_BATCH} events (got ${body.length})` }])
        items = body
      } else if (isPlainObject(body)) {
        items = [body]
      } else {
        throw invalid([{ path: "body", message: "must be an event object or an array of events" }])
      }
      let results: ReadonlyArray<PublishResult>
      try {
        results = await ingest.publish(items)
      } catch (e) {
        onError(e, "POST /v1/events publish")
        throw new ApiError(503, "unavailable", "the event stream is unavailable; retry later", [], { "Retry-After": "1" })
      }
      let accepted = 0, duplicate = 0, rejected = 0
      for (const r of results) {
        if (r.status === "accepted") accepted++
        else if (r.status === "duplicate") duplicate++
        else rejected++
      }
      return json({ accepted, duplicate, rejected, results }, 202)
    }
  }
]
