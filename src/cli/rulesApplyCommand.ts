// `arena rules apply <file> [--retroactive] [--json]`: puts a rules file in force in the RUNNING
// service, which must learn it without a restart — so this command is a client of the service's
// admin route POST /v1/rules/apply (ARCHITECTURE §10), at ARENA_URL (default
// http://127.0.0.1:$PORT) with ARENA_TOKEN or an admin token minted from ARENA_JWT_SECRET. From
// head it answers at once; with --retroactive it follows GET /v1/rules/apply until the shadow
// re-projection is switched (or discarded), with a progress bar on a terminal.
import { SignJWT } from "jose"
import * as fs from "node:fs"
import type { ArenaConfig } from "../Config.js"

const USAGE = "usage: arena rules apply <rules.json> [--retroactive] [--json]"

interface View {
  projection: number
  version: string
  state: "pending" | "built" | "switched" | "discarded"
  head_seq: number
  built_seq: number | null
  reason: string | null
  progress: { seq: number; last_seq: number; percent: number; events_per_second: number } | null
}

const bar = (v: View): string => {
  const p = v.progress
  const width = 30
  const percent = v.state === "pending" ? (p?.percent ?? 0) : 100
  const full = Math.round((percent / 100) * width)
  const where = p === null ? "" : `  seq ${p.seq}/${p.last_seq}  ${p.events_per_second} ev/s`
  return `\r[${"#".repeat(full)}${"-".repeat(width - full)}] ${percent.toFixed(1).padStart(5)}%  ${v.state}${where}   `
}

const baseUrl = (config: ArenaConfig): string => {
  const env = process.env["ARENA_URL"]
  if (env !== undefined && env !== "") return env.replace(/\/+$/, "")
  const host = config.host === "0.0.0.0" || config.host === "::" ? "127.0.0.1" : config.host
  return `http://${host.includes(":") ? `[${host}]` : host}:${config.port}`
}

const adminToken = async (config: ArenaConfig): Promise<string | null> => {
  const env = process.env["ARENA_TOKEN"]
  if (env !== undefined && env !== "") return env
  if (!config.authEnabled || config.jwtSecret === undefined) return null
  return new SignJWT({ scope: "admin" }).setProtectedHeader({ alg: "HS256" }).setSubject("arena-cli").setIssuedAt().setExpirationTime("1h")
    .sign(new TextEncoder().encode(config.jwtSecret))
}

const errorSentence = (status: number, body: unknown): string => {
  const e = (body as { error?: { code?: string; message?: string; details?: Array<{ path: string; message: string }> } } | null)?.error
  if (e === undefined) return `HTTP ${status}`
  const details = (e.details ?? []).map((d) => `\n  ${d.path}: ${d.message}`).join("")
  return `${e.message ?? "error"} (${status} ${e.code ?? ""})${details}`
}

export const rulesApplyCommand = async (config: ArenaConfig, file: string | undefined, flags: Readonly<Record<string, unknown>>): Promise<number> => {
  if (file === undefined) { process.stderr.write(`${USAGE}\n`); return 2 }
  let rules: unknown
  try { rules = JSON.parse(fs.readFileSync(file, "utf8")) } catch (e) {
    process.stderr.write(`arena rules apply: ${file}: ${(e as Error).message}\n`)
    return 2
  }
  const retroactive = flags["retroactive"] === true
  const asJson = flags["json"] === true
  const url = baseUrl(config)
  const token = await adminToken(config)
  const headers: Record<string, string> = { "content-type": "application/json", ...(token === null ? {} : { authorization: `Bearer ${token}` }) }
  let res: Response
  try {
    res = await fetch(`${url}/v1/rules/apply`, { method: "POST", headers, body: JSON.stringify({ rules, retroactive }) })
  } catch (e) {
    process.stderr.write(`arena rules apply: cannot reach the service at ${url} (${(e as Error).message}); set ARENA_URL to where \`arena serve\` listens\n`)
    return 1
  }
  const body = await res.json().catch(() => null) as unknown
  if (!res.ok) { process.stderr.write(`arena rules apply: refused: ${errorSentence(res.status, body)}\n`); return 1 }
  if (!retroactive) {
    process.stdout.write(asJson ? JSON.stringify(body) + "\n" : `${(body as { message: string }).message}\n`)
    return 0
  }
  const tty = process.stderr.isTTY === true && !asJson
  let view = body as View
  if (!asJson) process.stderr.write(`re-projection ${view.projection}: re-scoring the stream under rules ${view.version} in a shadow state; the service keeps serving the rules in force\n`)
  while (view.state === "pending" || view.state === "built") {
    if (tty) process.stderr.write(bar(view))
    await new Promise((r) => setTimeout(r, tty ? 200 : 1000))
    const r = await fetch(`${url}/v1/rules/apply`, { headers }).catch((e: Error) => e)
    if (r instanceof Error) { process.stderr.write(`\narena rules apply: lost the service at ${url} (${r.message}); the re-projection resumes or is discarded at its next start (GET /v1/rules/apply)\n`); return 1 }
    const b = await r.json().catch(() => null) as unknown
    if (!r.ok) { process.stderr.write(`\narena rules apply: ${errorSentence(r.status, b)}\n`); return 1 }
    view = b as View
  }
  if (tty) process.stderr.write(bar(view) + "\n")
  if (asJson) process.stdout.write(JSON.stringify(view) + "\n")
  if (view.state === "discarded") {
    if (!asJson) process.stderr.write(`re-projection ${view.projection} discarded: ${view.reason ?? "no reason given"}; the rules in force are unchanged\n`)
    return 1
  }
  if (!asJson) process.stdout.write(`rules ${view.version} re-scored every event up to seq ${view.built_seq}; projection ${view.projection} is in force (boards have a new epoch)\n`)
  return 0
}
