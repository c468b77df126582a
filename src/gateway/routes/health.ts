// GET /healthz (liveness), /readyz (503 with reasons until ready; `fatal` when only an operator can
// fix it, so waiting scripts stop at once), /metrics (Prometheus text: the core's metrics plus the
// shared registry, without duplicate families). Never rate limited.
import { PROMETHEUS_CONTENT_TYPE, declaredFamilies, registry } from "../../observability/Metrics.js"
import { json } from "../http/Http.js"
import type { Route } from "../http/Router.js"
import type { HealthPort } from "../../ports/Health.js"

export const healthRoutes = (health: HealthPort): ReadonlyArray<Route> => [
  { method: "get", pattern: "/healthz", rateLimited: false, handler: () => json({ status: "ok" }) },
  {
    method: "get",
    pattern: "/readyz",
    rateLimited: false,
    handler: () => {
      const r = health.readiness()
      return json({ ready: r.ready, fatal: r.fatal === true, reasons: r.reasons, details: r.details }, r.ready ? 200 : 503)
    }
  },
  {
    method: "get",
    pattern: "/metrics",
    rateLimited: false,
    handler: () => {
      const core = health.metrics()
      const text = core === "" ? registry.render() : (core.endsWith("\n") ? core : core + "\n") + registry.render(declaredFamilies(core))
      return { status: 200, body: text, contentType: PROMETHEUS_CONTENT_TYPE }
    }
  }
]
