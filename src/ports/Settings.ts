// Settings changes (ARCHITECTURE §11): PUT /v1/users/{id}/settings publishes a checked change to
// the event stream (`<prefix>.settings`), where the processor applies it in seq order, so a replay
// after any crash applies it at the same place. The NATS adapter implements it.
import type { SettingsChange } from "../domain/Settings.js"

export interface SettingsPublished {
  readonly settings_id: string
  /** Stream sequence of the change: visible once /readyz `seq` ≥ it. */
  readonly seq: number
}

export interface SettingsPort {
  /** Publishes `change` for `userId` (Nats-Msg-Id = a fresh settings_id). Rejects when the stream is unavailable. */
  publish(userId: string, change: SettingsChange): Promise<SettingsPublished>
}
