// The HTTP edge of `arena serve`: health, readiness and metrics (the full gateway mounts here).
import uWS from "uWebSockets.js"
import type { NatsHandle } from "../adapters/nats/Nats.js"
import type { ArenaConfig } from "../Config.js"
import type { CompiledRules } from "../domain/Rules.js"
import type { Log } from "../Log.js"
import type { Running } from "../App.js"
import { registry, PROMETHEUS_CONTENT_TYPE } from "../observability/Metrics.js"

export const readiness = (running: Omit<Running, "config" | "rules">, nats: NatsHandle) => {
  const reasons: string[] = []
  const p = running.pipeline()
  if (p === null) reasons.push(`pipeline not running${running.pipelineError() ? `: ${running.pipelineError()}` : ""}`)
  else if (p.status.phase !== "ready") reasons.push(`pipeline ${p.status.phase}: at seq ${p.status.ingest.applied} of ${p.status.headAtStart}`)
  if (!nats.connected()) reasons.push("nats disconnected")
  if (p !== null && p.status.snapshot.lastError !== null) reasons.push(`postgres snapshots failing: ${p.status.snapshot.lastError}`)
  return {
    ready: reasons.length === 0,
    reasons,
    details: p === null ? {} : { seq: p.status.ingest.applied, pending: p.status.ingest.pending, snapshot_seq: p.status.snapshot.lastSeq, phase: p.status.phase }
  }
}

export const startHttp = async (o: { config: ArenaConfig; rules: CompiledRules; running: Omit<Running, "config" | "rules">; nats: NatsHandle; log: Log }) => {
  const app = uWS.App()
  const json = (res: uWS.HttpResponse, status: string, body: unknown) =>
    res.cork(() => { res.writeStatus(status).writeHeader("content-type", "application/json").end(JSON.stringify(body)) })
  app.get("/healthz", (res) => { json(res, "200 OK", { status: "ok" }) })
  app.get("/readyz", (res) => {
    const r = readiness(o.running, o.nats)
    json(res, r.ready ? "200 OK" : "503 Service Unavailable", r)
  })
  app.get("/metrics", (res) => { res.cork(() => { res.writeHeader("content-type", PROMETHEUS_CONTENT_TYPE).end(registry.render()) }) })
  let listen: uWS.us_listen_socket | false = false
  await new Promise<void>((resolve, reject) => app.listen(o.config.host, o.config.port, (s) => { listen = s; if (s) resolve(); else reject(new Error(`cannot listen on ${o.config.host}:${o.config.port}`)) }))
  return {
    port: uWS.us_socket_local_port(listen as unknown as uWS.us_listen_socket),
    close: async () => { if (listen) uWS.us_listen_socket_close(listen); listen = false }
  }
}
