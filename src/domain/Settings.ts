// A user's settings (ARCHITECTURE §11): the IANA time zone of their streak days and their
// visibility on public listings. The body of PUT /v1/users/{id}/settings is checked here, and the
// message that carries a change through the stream (`<prefix>.settings`, Nats-Msg-Id =
// settings_id) is decoded here, so the gateway and the processor apply one rule.
import type { Issue } from "./Model.js"
import { canonicalZone } from "./Zones.js"

export type Visibility = "public" | "private"

/** What a change sets: at least one field. */
export interface SettingsChange {
  readonly time_zone?: string
  readonly visibility?: Visibility
}

/** The stream message of one change. */
export interface SettingsMessage extends SettingsChange {
  readonly settings_id: string
  readonly user_id: string
}

export type Checked<A> = { readonly ok: true; readonly value: A } | { readonly ok: false; readonly issues: ReadonlyArray<Issue> }

const USER_ID = /^[A-Za-z0-9._:@-]{1,128}$/u
const SETTINGS_ID = /^[A-Za-z0-9._:-]{1,128}$/u
/** Max serialized size of a settings message. */
export const MAX_SETTINGS_BYTES = 1024

const isRecord = (u: unknown): u is Record<string, unknown> => typeof u === "object" && u !== null && !Array.isArray(u)

/**
 * Checks a settings body (the HTTP request or the message's fields) and canonicalizes the zone
 * (`europe/berlin` → `Europe/Berlin`, `Etc/UTC` → `UTC`). `extra` lists further allowed fields.
 */
export const checkSettings = (body: unknown, extra: ReadonlyArray<string> = []): Checked<SettingsChange> => {
  if (!isRecord(body)) return { ok: false, issues: [{ path: "", message: "must be a JSON object with time_zone and/or visibility" }] }
  const issues: Array<Issue> = []
  let time_zone: string | undefined
  let visibility: Visibility | undefined
  for (const k of Object.keys(body)) {
    if (k !== "time_zone" && k !== "visibility" && !extra.includes(k)) issues.push({ path: k, message: "is not a known field" })
  }
  const tz = body["time_zone"]
  if (tz !== undefined) {
    if (typeof tz !== "string") issues.push({ path: "time_zone", message: "must be a string (an IANA time zone such as \"Europe/Berlin\")" })
    else {
      const c = canonicalZone(tz)
      if (c === null) issues.push({ path: "time_zone", message: `unknown time zone ${JSON.stringify(tz.slice(0, 64))}: must be an IANA time zone such as "Europe/Berlin" or "UTC"` })
      else time_zone = c
    }
  }
  const v = body["visibility"]
  if (v !== undefined) {
    if (v !== "public" && v !== "private") issues.push({ path: "visibility", message: "must be \"public\" or \"private\"" })
    else visibility = v
  }
  if (issues.length === 0 && tz === undefined && v === undefined) issues.push({ path: "", message: "must set time_zone and/or visibility" })
  if (issues.length > 0) return { ok: false, issues }
  return { ok: true, value: { ...(time_zone !== undefined ? { time_zone } : {}), ...(visibility !== undefined ? { visibility } : {}) } }
}

/** Decodes a settings message from the stream. */
export const decodeSettingsBytes = (data: Uint8Array): Checked<SettingsMessage> => {
  if (data.length > MAX_SETTINGS_BYTES) return { ok: false, issues: [{ path: "", message: `a settings message is at most ${MAX_SETTINGS_BYTES} bytes` }] }
  let body: unknown
  try {
    body = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(data))
  } catch {
    return { ok: false, issues: [{ path: "", message: "is not UTF-8 JSON" }] }
  }
  if (!isRecord(body)) return { ok: false, issues: [{ path: "", message: "must be a JSON object" }] }
  const issues: Array<Issue> = []
  const id = body["settings_id"]
  const user = body["user_id"]
  if (typeof id !== "string" || !SETTINGS_ID.test(id)) issues.push({ path: "settings_id", message: "must match [A-Za-z0-9._:-]{1,128}" })
  if (typeof user !== "string" || !USER_ID.test(user)) issues.push({ path: "user_id", message: "must match [A-Za-z0-9._:@-]{1,128}" })
  const c = checkSettings(body, ["settings_id", "user_id"])
  if (!c.ok) issues.push(...c.issues)
  if (issues.length > 0 || !c.ok) return { ok: false, issues }
  return { ok: true, value: { settings_id: id as string, user_id: user as string, ...c.value } }
}

export const encodeSettingsMessage = (m: SettingsMessage): Uint8Array => new TextEncoder().encode(JSON.stringify(m))
