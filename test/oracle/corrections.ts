// The oracle's reading of a correction message (ARCHITECTURE §10), written from the contract, not
// from src/: the message must be a JSON object of exactly the documented fields with
// Nats-Msg-Id = correction_id. What it does to the model is Oracle.correct's.
import { parseTimestamp } from "./calendar.js"

export type OracleCorrection =
  | {
    readonly kind: "void"; readonly id: string; readonly eventSeq: number; readonly userId: string; readonly agent: string; readonly xp: number; readonly eventMs: number
    /** The projection whose ledger `xp` was read from (null: not said, a message from before §10's rule). */
    readonly projection: number | null
  }
  | { readonly kind: "adjust"; readonly id: string; readonly userId: string; readonly xp: number; readonly agent: string | null }

export type CorrectionVerdict = { readonly ok: true; readonly c: OracleCorrection } | { readonly ok: false; readonly reason: string }

const ID = /^[A-Za-z0-9._:-]{1,128}$/
const USER = /^[A-Za-z0-9._:@-]{1,128}$/
const AGENT = /^[a-z0-9-]{1,64}$/
const isObj = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v)
const onlyKeys = (o: Record<string, unknown>, req: ReadonlyArray<string>, opt: ReadonlyArray<string>) =>
  req.every((k) => k in o) && Object.keys(o).every((k) => req.includes(k) || opt.includes(k))
const reasonOk = (r: unknown) => typeof r === "string" && r.length >= 1 && r.length <= 500 && !r.includes("\u0000")
const byOk = (o: Record<string, unknown>) => !("by" in o) || (typeof o["by"] === "string" && o["by"].length <= 128)

export const judgeCorrection = (data: Uint8Array, msgId: string | undefined): CorrectionVerdict => {
  const bad = { ok: false, reason: "invalid_correction" } as const
  let v: unknown
  try { v = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(data)) } catch { return bad }
  if (data.length > 4096 || !isObj(v) || typeof v["correction_id"] !== "string" || !ID.test(v["correction_id"]) || !reasonOk(v["reason"]) || !byOk(v)) return bad
  const id = v["correction_id"]
  if (v["kind"] === "void") {
    const e = v["event"]
    if (!onlyKeys(v, ["correction_id", "kind", "event_id", "reason", "event"], ["by"]) || typeof v["event_id"] !== "string" || !ID.test(v["event_id"])) return bad
    if (!isObj(e) || !onlyKeys(e, ["seq", "user_id", "agent_name", "xp", "event_time"], ["projection"])) return bad
    const { seq, user_id, agent_name, xp, event_time, projection } = e
    if (projection !== undefined && (!Number.isInteger(projection) || (projection as number) < 0)) return bad
    if (!Number.isInteger(seq) || (seq as number) <= 0 || typeof user_id !== "string" || !USER.test(user_id) || typeof agent_name !== "string" || !AGENT.test(agent_name)) return bad
    if (!Number.isInteger(xp) || (xp as number) < 0 || typeof event_time !== "string" || Number.isNaN(parseTimestamp(event_time))) return bad
    if (msgId !== id) return { ok: false, reason: "msg_id_mismatch" }
    return { ok: true, c: { kind: "void", id, eventSeq: seq as number, userId: user_id, agent: agent_name, xp: xp as number, eventMs: parseTimestamp(event_time), projection: projection === undefined ? null : projection as number } }
  }
  if (v["kind"] === "adjust") {
    if (!onlyKeys(v, ["correction_id", "kind", "user_id", "xp", "reason"], ["agent_name", "by"])) return bad
    const { user_id, xp, agent_name } = v
    if (typeof user_id !== "string" || !USER.test(user_id) || !Number.isInteger(xp) || xp === 0 || Math.abs(xp as number) > 1_000_000) return bad
    if (agent_name !== undefined && (typeof agent_name !== "string" || !AGENT.test(agent_name))) return bad
    if (msgId !== id) return { ok: false, reason: "msg_id_mismatch" }
    return { ok: true, c: { kind: "adjust", id, userId: user_id, xp: xp as number, agent: agent_name === undefined ? null : agent_name as string } }
  }
  return bad
}
