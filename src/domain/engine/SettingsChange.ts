// Applies a settings change (domain/Settings.ts) to the user table at its seq: the zone of the
// user's streak days from this seq on (events before it keep the days they were counted on: runs
// are civil day numbers, comparable across zones), and their visibility. A visibility change marks
// the user's rows changed on every board they are on, so watchers get the row anonymized (or named
// again) as a delta.
import type { SettingsMessage } from "../Settings.js"
import { PRIVATE } from "../state/UserTable.js"
import { zoneId } from "../Zones.js"
import type { BeforeWrite, EngineState } from "./Engine.js"
import { rowsChanged } from "./Engine.js"

export interface SettingsApplied {
  readonly uid: number
  readonly zoneChanged: boolean
  readonly visibilityChanged: boolean
}

/** `m` is a decoded message (its zone known to this Node); throws RangeError otherwise. */
export const applySettings = (s: EngineState, m: SettingsMessage, beforeWrite?: BeforeWrite): SettingsApplied => {
  const zone = m.time_zone === undefined ? -1 : zoneId(m.time_zone)
  const u = s.users
  const uid = u.intern(m.user_id)
  beforeWrite?.(uid)
  const zoneChanged = zone >= 0 && u.zone[uid] !== zone
  if (zoneChanged) u.zone[uid] = zone
  let visibilityChanged = false
  if (m.visibility !== undefined) {
    const bits = m.visibility === "private" ? u.privacy[uid]! | PRIVATE : u.privacy[uid]! & ~PRIVATE
    visibilityChanged = bits !== u.privacy[uid]
    u.privacy[uid] = bits
    if (visibilityChanged && u.events[uid]! > 0) rowsChanged(s, uid)
  }
  return { uid, zoneChanged, visibilityChanged }
}
