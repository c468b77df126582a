// The SettingsPort on JetStream: one settings message per change on `<prefix>.settings`, with
// Nats-Msg-Id = its settings_id (a fresh UUID), through the same lean publisher as HTTP ingest.
// Partitioned mode passes a subject per user (its partition's `arena.xp.p.<k>.$settings`).
import { randomUUID } from "node:crypto"
import { encodeSettingsMessage } from "../../domain/Settings.js"
import type { SettingsPort } from "../../ports/Settings.js"
import type { JetStreamPublisher } from "./JetStreamPublisher.js"

export const makeSettingsPublisher = (publisher: JetStreamPublisher, subject: string | ((userId: string) => string)): SettingsPort => ({
  publish: async (userId, change) => {
    const settings_id = randomUUID()
    const [o] = await publisher.publishBatch(typeof subject === "string" ? subject : subject(userId), [{ msgId: settings_id, data: encodeSettingsMessage({ settings_id, user_id: userId, ...change }) }])
    if (o === undefined || !o.ok) throw new Error(`the settings change was not stored: ${o === undefined ? "no outcome" : o.message}`)
    return { settings_id, seq: o.seq }
  }
})
